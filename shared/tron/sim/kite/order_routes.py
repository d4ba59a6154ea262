"""Order routes: placement with Kite's input checks and RMS rejections, modify, cancel, the order book,
its history and trades."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tron.domain.timeutil import IST
from tron.sim.kite import engine as E
from tron.sim.kite.catalog import Catalog, Listed
from tron.sim.kite.market_view import circuit_limits, dec, lpp_range
from tron.sim.kite.protocol import (
    CIRCUIT_MESSAGE,
    CLOSED_MESSAGE,
    EQUITY_SQUARE_OFF,
    FNO_SQUARE_OFF,
    MAX_EQUITY_QUANTITY,
    MAX_MODIFICATIONS,
    ORDER_TYPES,
    PRODUCTS,
    SUPPORTED_VARIETIES,
    TAG_RE,
    VALIDITIES,
    VARIETIES,
    KiteError,
    Request,
    as_float,
    check_tick,
    input_error,
    opt_dec,
    opt_int,
)


class OrderRoutes:
    """Mixed into KiteSim: uses its state (orders, positions, catalog, clock) under its lock."""

    # ================================================================== routes: orders
    def _orders(self, req: Request) -> list[dict[str, Any]]:
        return [self._order_dict(o) for o in self.orders.values()]

    def _get_order(self, order_id: str) -> E.Order:
        o = self.orders.get(order_id)
        if o is None:
            raise input_error("Couldn't find that `order_id`.")
        return o

    def _order_history(self, req: Request, order_id: str) -> list[dict[str, Any]]:
        return list(self._get_order(order_id).history)

    def _order_trades(self, req: Request, order_id: str) -> list[dict[str, Any]]:
        self._get_order(order_id)
        return [t for t in self.trades if t["order_id"] == order_id]

    def _trades(self, req: Request) -> list[dict[str, Any]]:
        return list(self.trades)

    def _place(self, req: Request, variety: str) -> dict[str, Any]:
        if variety not in VARIETIES:
            raise input_error(f"Invalid variety `{variety}`.")
        if variety not in SUPPORTED_VARIETIES:
            raise input_error(f"The `{variety}` variety is not supported by the simulator.")
        p = OrderParams.parse(req, self.catalog())
        inst = p.inst
        now = self.clock.now().astimezone(IST)
        is_open = self.view.is_open(now)
        if variety == "regular" and not is_open:
            raise input_error(CLOSED_MESSAGE)
        if variety == "amo" and is_open:
            raise input_error(
                "AMO orders cannot be placed during market hours. Place a regular order instead."
            )
        if inst.is_derivative:
            if p.quantity % inst.lot_size:
                raise input_error(f"Quantity should be a multiple of the lot size ({inst.lot_size}).")
            if p.autoslice and inst.freeze_qty and p.quantity > inst.freeze_qty:
                return self._autoslice(req, variety, p, now)
            if inst.freeze_qty and p.quantity > inst.freeze_qty:
                raise input_error(
                    f"Quantity exceeds the freeze limit of {inst.freeze_qty} for {inst.tradingsymbol}. "
                    "Reduce the quantity or use autoslice."
                )
        if not inst.is_derivative and p.quantity > MAX_EQUITY_QUANTITY:
            raise input_error(
                f"Order quantity above {MAX_EQUITY_QUANTITY:,} shares is blocked. Reduce the quantity."
            )
        if p.product == "CNC" and inst.is_derivative:
            raise input_error("CNC is not allowed for F&O instruments; use NRML or MIS.")
        if p.product == "NRML" and not inst.is_derivative:
            raise input_error("NRML is allowed only for F&O instruments; use CNC or MIS.")
        if p.product == "MTF":
            raise input_error("MTF is not supported by the simulator.")
        if p.order_type in ("SL", "SL-M"):
            self._check_trigger(p)
        o = self._place_checked(variety, p, now)
        return {"order_id": o.order_id}

    def _check_trigger(self, p: OrderParams) -> None:
        """Zerodha's pre-OMS check: a stop must not be already crossed, and an SL's limit must sit beyond it."""
        ltp = self._ltp(p.inst)
        if p.side == "BUY" and p.trigger < ltp:
            raise input_error(
                "Trigger price for stoploss buy orders should be higher than the last traded price."
            )
        if p.side == "SELL" and p.trigger > ltp:
            raise input_error(
                "Trigger price for stoploss sell orders should be lower than the last traded price."
            )
        if p.order_type == "SL" and (p.price < p.trigger if p.side == "BUY" else p.price > p.trigger):
            raise input_error(
                "Trigger price for stoploss buy orders should be lower than or equal to the limit price."
                if p.side == "BUY"
                else "Trigger price for stoploss sell orders should be higher than or equal to the limit price."
            )

    def _autoslice(self, req: Request, variety: str, p: OrderParams, now: datetime) -> dict[str, Any]:
        lot = max(1, p.inst.lot_size)
        freeze = (p.inst.freeze_qty or p.quantity) // lot * lot  # whole lots under the freeze limit
        left, children = p.quantity, []
        parent = None
        while left > 0:
            part = min(freeze, left)
            left -= part
            sliced = OrderParams(**{**p.__dict__, "quantity": part, "autoslice": False})
            o = self._place_checked(variety, sliced, now)
            parent = parent or o.order_id
            children.append({"order_id": o.order_id})
        return {"order_id": parent, "children": children}

    def _place_checked(
        self, variety: str, p: OrderParams, now: datetime, at: tuple[date, int] | None = None
    ) -> E.Order:
        inst = p.inst
        o = self._new_order(
            variety,
            inst,
            p.side,
            p.quantity,
            p.product,
            p.order_type,
            p.price,
            p.trigger,
            p.protection,
            p.tag,
            p.validity,
            now,
            disclosed=p.disclosed,
        )
        o.validity_ttl = p.ttl
        o.status = E.VALIDATION_PENDING
        self._record(o, now)
        reason = self._rms(o, inst, now)
        if reason is not None:
            o.status = E.REJECTED
            o.status_message = reason
            self._record(o, now)
            return o
        if variety == "amo":
            o.status = E.AMO_REQ_RECEIVED
            self._record(o, now)
            return o
        d, j = at or self.now_minute()
        self._open(o, d, j, now)
        return o

    def _rms(self, o: E.Order, inst: Listed, now: datetime) -> str | None:
        """The risk checks that leave a REJECTED order in the book (Kite's RMS), in Kite's order."""
        if o.order_type in ("MARKET", "SL-M") and o.market_protection == 0:
            return E.MARKET_PROTECTION_MESSAGE
        d, j = self.now_minute()
        q = self.view.quote(d, j, inst.tradingsymbol)
        if q is None:
            return "Instrument is not tradable today."
        lower, upper = circuit_limits(inst, dec(q.prev_close))
        for px in (
            o.price if o.order_type in ("LIMIT", "SL") else None,
            o.trigger_price if o.order_type in ("SL", "SL-M") else None,
        ):
            if px is not None and (px < lower or px > upper):
                return CIRCUIT_MESSAGE
        band = lpp_range(inst, dec(q.last)) if o.order_type == "LIMIT" else None
        if band is not None and (o.price > band[1] if o.transaction_type == "BUY" else o.price < band[0]):
            return CIRCUIT_MESSAGE
        if o.product == "MIS" and o.variety == "regular":
            cutoff = FNO_SQUARE_OFF if inst.is_derivative else EQUITY_SQUARE_OFF
            if j >= cutoff:
                return "MIS orders are blocked after the auto square-off time. Use NRML/CNC or square off."
        if o.product == "CNC" and o.transaction_type == "SELL":
            held = int(self.holdings.get(inst.tradingsymbol, {}).get("quantity", 0))
            pos = self.positions.get((inst.exchange, inst.tradingsymbol, "CNC"))
            selling = sum(
                x.pending_quantity
                for x in self.orders.values()
                if x.working
                and x.product == "CNC"
                and x.transaction_type == "SELL"
                and x.tradingsymbol == inst.tradingsymbol
            )
            free = held + (pos.quantity if pos else 0) - selling
            if o.quantity > free:
                return (
                    f"Insufficient holdings to sell {o.quantity} {inst.tradingsymbol} (CNC); "
                    f"available quantity is {max(free, 0)}. Use MIS to sell short intraday."
                )
        ltp = dec(q.last)
        price = o.price if o.order_type in ("LIMIT", "SL") and o.price > 0 else ltp
        available, *_ = self._available()
        before = self._instrument_margin(inst, o.product)
        after = self._instrument_margin(inst, o.product, (o.transaction_type, o.quantity, price))
        required = after - before
        # the order's own margin is not yet counted in `available`
        if required > 0 and required > available:
            return (
                f"Insufficient funds. Required margin is {as_float(required):.2f} but available margin is "
                f"{as_float(available):.2f}. Check the orderbook for open orders."
            )
        return None

    def _open(self, o: E.Order, d: date, j: int, ts: datetime) -> None:
        """Send a validated order to the exchange and meet the current minute's book."""
        o.status = E.OPEN_PENDING
        o.placed_minute = j
        self._record(o, ts)
        o.exchange_order_id = f"{1100000000000000 + int(o.order_id[-9:])}"
        o.exchange_timestamp = ts
        o.exchange_update_timestamp = ts
        if o.order_type in ("SL", "SL-M"):
            o.status = E.TRIGGER_PENDING
            self._record(o, ts)
            self._match(o, d, j, resting=False)
            return
        o.status = E.OPEN
        inst = self.catalog().by_key[f"{o.exchange}:{o.tradingsymbol}"]
        q = self.view.quote(d, j, inst.tradingsymbol)
        E.arm(o, dec(q.last) if q is not None else o.price)
        self._record(o, ts)
        self._match(o, d, j, resting=False)

    def _modify(self, req: Request, variety: str, order_id: str) -> dict[str, Any]:
        o = self._get_order(order_id)
        if o.variety != variety:
            raise input_error(f"Order {order_id} is not a `{variety}` order.")
        if not o.working and o.status != E.AMO_REQ_RECEIVED:
            raise KiteError(400, "OrderException", f"Order cannot be modified as it is {o.status.lower()}.")
        if sum(1 for h in o.history if h["status"] == E.MODIFY_PENDING) >= MAX_MODIFICATIONS:
            raise KiteError(
                400, "OrderException", f"Maximum allowed order modifications ({MAX_MODIFICATIONS}) exceeded."
            )
        now = self.clock.now().astimezone(IST)
        qty = opt_int(req.param("quantity"), "quantity")
        price = opt_dec(req.param("price"), "price")
        trigger = opt_dec(req.param("trigger_price"), "trigger_price")
        order_type = req.param("order_type") or o.order_type
        validity = req.param("validity") or o.validity
        protection = opt_dec(req.param("market_protection"), "market_protection")
        if order_type not in ORDER_TYPES:
            raise input_error(f"Invalid `order_type` {order_type!r}.")
        if validity not in VALIDITIES:
            raise input_error(f"Invalid `validity` {validity!r}.")
        inst = self.catalog().by_key[f"{o.exchange}:{o.tradingsymbol}"]
        if qty is not None:
            if qty <= o.filled_quantity:
                raise input_error("Quantity should be greater than the filled quantity.")
            if inst.is_derivative and qty % inst.lot_size:
                raise input_error(f"Quantity should be a multiple of the lot size ({inst.lot_size}).")
        for px in (price, trigger):
            if px is not None:
                check_tick(px, inst)
        o.status = E.MODIFY_VALIDATION_PENDING
        self._record(o, now)
        o.quantity = qty if qty is not None else o.quantity
        o.price = price if price is not None else o.price
        o.trigger_price = trigger if trigger is not None else o.trigger_price
        o.order_type = order_type
        o.validity = validity
        if protection is not None:
            o.market_protection = protection
        o.modified = True
        o.status = E.MODIFY_PENDING
        self._record(o, now)
        if o.variety == "amo" and not self.view.is_open(now):
            o.status = E.AMO_REQ_RECEIVED
            self._record(o, now)
            return {"order_id": o.order_id}
        d, j = self.now_minute()
        if o.order_type in ("SL", "SL-M") and o.filled_quantity == 0:
            o.status = E.TRIGGER_PENDING
        else:
            o.status = E.OPEN
            E.arm(o, self._ltp(inst))
        self._record(o, now)
        self._match(o, d, j, resting=False)
        return {"order_id": o.order_id}

    def _cancel(self, req: Request, variety: str, order_id: str) -> dict[str, Any]:
        o = self._get_order(order_id)
        if o.variety != variety:
            raise input_error(f"Order {order_id} is not a `{variety}` order.")
        if not o.working and o.status != E.AMO_REQ_RECEIVED:
            raise KiteError(400, "OrderException", f"Order cannot be cancelled as it is {o.status.lower()}.")
        now = self.clock.now().astimezone(IST)
        o.status = E.CANCEL_PENDING
        self._record(o, now)
        o.cancelled_quantity = o.quantity - o.filled_quantity
        o.status = E.CANCELLED
        o.exchange_update_timestamp = now
        self._record(o, now)
        return {"order_id": o.order_id}


# ====================================================================== parameter parsing
@dataclass
class OrderParams:
    inst: Listed
    side: str
    quantity: int
    product: str
    order_type: str
    price: Decimal
    trigger: Decimal
    protection: Decimal
    tag: str | None
    validity: str
    disclosed: int
    autoslice: bool
    ttl: int = 0

    @staticmethod
    def parse(req: Request, cat: Catalog) -> OrderParams:
        def need(name: str) -> str:
            v = req.param(name)
            if v is None or v == "":
                raise input_error(f"Missing `{name}`.")
            return v

        exchange, symbol = need("exchange"), need("tradingsymbol")
        inst = cat.by_key.get(f"{exchange}:{symbol}")
        if inst is None:
            raise input_error(f"Invalid `tradingsymbol`: {exchange}:{symbol} is not a tradable instrument.")
        if inst.is_index:
            raise input_error("Indices cannot be traded.")
        side = need("transaction_type")
        if side not in ("BUY", "SELL"):
            raise input_error(f"Invalid `transaction_type` {side!r}.")
        product = need("product")
        if product not in PRODUCTS:
            raise input_error(f"Invalid `product` {product!r}.")
        order_type = need("order_type")
        if order_type not in ORDER_TYPES:
            raise input_error(f"Invalid `order_type` {order_type!r}.")
        qty = opt_int(need("quantity"), "quantity")
        assert qty is not None
        if qty <= 0:
            raise input_error("Invalid `quantity`: it must be a positive whole number.")
        validity = req.param("validity") or "DAY"
        if validity not in VALIDITIES:
            raise input_error(f"Invalid `validity` {validity!r}.")
        ttl = opt_int(req.param("validity_ttl"), "validity_ttl") or 0
        if validity == "TTL" and ttl < 1:
            raise input_error(
                "Invalid `validity_ttl`: a TTL order needs its lifetime in minutes (at least 1)."
            )
        price = opt_dec(req.param("price"), "price") or Decimal(0)
        trigger = opt_dec(req.param("trigger_price"), "trigger_price") or Decimal(0)
        if order_type in ("LIMIT", "SL") and price <= 0:
            raise input_error("Invalid `price`: a LIMIT or SL order needs a positive price.")
        if order_type in ("SL", "SL-M") and trigger <= 0:
            raise input_error("Invalid `trigger_price`: a stop-loss order needs a positive trigger price.")
        if order_type in ("MARKET", "SL-M"):
            price = Decimal(0)
        if order_type in ("MARKET", "LIMIT"):
            trigger = Decimal(0)
        for px in (price, trigger):
            if px:
                check_tick(px, inst)
        raw_mp = req.param("market_protection")
        try:
            protection = Decimal(raw_mp) if raw_mp not in (None, "") else Decimal(0)
            if not protection.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise input_error(
                f"Invalid request (failed to decode market_protection, got: {raw_mp} (expected decimal))"
            ) from None
        if protection != -1 and not (0 <= protection <= 100):
            raise input_error(
                "Invalid `market_protection`: use -1 (automatic) or a percentage from 0 to 100."
            )
        tag = req.param("tag")
        if tag is not None and not TAG_RE.match(tag):
            raise input_error("Invalid `tag`: it must be alphanumeric and at most 20 characters.")
        disclosed = opt_int(req.param("disclosed_quantity"), "disclosed_quantity") or 0
        return OrderParams(
            inst,
            side,
            qty,
            product,
            order_type,
            price,
            trigger,
            protection,
            tag,
            validity,
            disclosed,
            (req.param("autoslice") or "").lower() == "true",
            ttl if validity == "TTL" else 0,
        )
