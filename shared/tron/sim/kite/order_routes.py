"""Order routes: placement with Kite's input checks, modify, cancel, the order book, its history and trades."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tron.domain.timeutil import IST
from tron.sim.kite import engine
from tron.sim.kite.exchange import Exchange
from tron.sim.kite.lifecycle import Lifecycle
from tron.sim.kite.margins import Margins
from tron.sim.kite.market_view import lpp_range
from tron.sim.kite.order_book import OrderBook
from tron.sim.kite.order_params import OrderParams, market_protection
from tron.sim.kite.protocol import (
    CIRCUIT_MESSAGE,
    CLOSED_MESSAGE,
    LIMIT_TO_STOP_MESSAGE,
    MARKET_PROTECTION_MESSAGE,
    MAX_AUTOSLICES,
    MAX_EQUITY_QUANTITY,
    MAX_MODIFICATIONS,
    ORDER_TYPES,
    SLM_OPTIONS_MESSAGE,
    SUPPORTED_VARIETIES,
    VALIDITIES,
    VARIETIES,
    KiteError,
    Request,
    check_tick,
    input_error,
    opt_dec,
    opt_int,
    sl_gap_problem,
    trigger_crossed,
)
from tron.sim.kite.venue import Venue


class OrderRoutes:
    """/orders and /trades. Called under the simulator's lock, after the day was advanced to the clock."""

    def __init__(
        self, venue: Venue, book: OrderBook, lifecycle: Lifecycle, exchange: Exchange, margins: Margins
    ) -> None:
        self.venue = venue
        self.book = book
        self.lifecycle = lifecycle
        self.exchange = exchange
        self.margins = margins

    def orders(self, req: Request) -> list[dict[str, Any]]:
        """GET /orders: the day's orders as they now are (an order placed a moment ago may be missing)."""
        return [self.book.order_dict(o) for o in self.book.orders.values() if self.lifecycle.visible(o)]

    def _get_order(self, order_id: str) -> engine.Order:
        o = self.book.orders.get(order_id)
        if o is None:
            raise input_error("Couldn't find that `order_id`.")
        return o

    def order_history(self, req: Request, order_id: str) -> list[dict[str, Any]]:
        """GET /orders/{id}: every state the order went through."""
        return list(self._get_order(order_id).history)

    def order_trades(self, req: Request, order_id: str) -> list[dict[str, Any]]:
        """GET /orders/{id}/trades."""
        self._get_order(order_id)
        return [t for t in self.book.trades if t["order_id"] == order_id]

    def trades(self, req: Request) -> list[dict[str, Any]]:
        """GET /trades: the day's trades."""
        return list(self.book.trades)

    def place(self, req: Request, variety: str) -> dict[str, Any]:
        """POST /orders/{variety}: a regular order in market hours, an AMO outside them; bad input raises a
        400, an RMS rejection leaves a REJECTED order and still answers its id."""
        if variety not in VARIETIES:
            raise input_error(f"Invalid variety `{variety}`.")
        if variety not in SUPPORTED_VARIETIES:
            raise input_error(f"The `{variety}` variety is not supported by the simulator.")
        p = OrderParams.parse(req, self.venue.catalog())
        inst = p.inst
        now = self.venue.clock.now().astimezone(IST)
        is_open = self.venue.view.is_open(now)
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
                return self._autoslice(variety, p, now)
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
        o = self.lifecycle.place(variety, p, now, self.venue.now_minute())
        return {"order_id": o.order_id}

    def _check_trigger(self, p: OrderParams) -> None:
        """Zerodha's pre-OMS check: a stop must not be already crossed, and an SL's limit must sit at or beyond
        its trigger (how far beyond is the exchange's rule: a rejection in the book)."""
        if why := trigger_crossed(p.side, p.trigger, self.margins.ltp(p.inst)):
            raise input_error(why)
        if p.order_type == "SL" and (p.price < p.trigger if p.side == "BUY" else p.price > p.trigger):
            raise input_error(sl_gap_problem(p.side, p.price, p.trigger, p.inst.is_option) or "")

    def _autoslice(self, variety: str, p: OrderParams, now: datetime) -> dict[str, Any]:
        """Split an order above the freeze quantity into child orders of whole lots under it."""
        lot = max(1, p.inst.lot_size)
        freeze = (p.inst.freeze_qty or p.quantity) // lot * lot  # whole lots under the freeze limit
        if p.quantity > MAX_AUTOSLICES * freeze:
            raise input_error(
                f"Quantity exceeds the autoslice limit of {MAX_AUTOSLICES} slices of {freeze} for "
                f"{p.inst.tradingsymbol}."
            )
        left, children = p.quantity, []
        parent = None
        while left > 0:
            part = min(freeze, left)
            left -= part
            sliced = OrderParams(**{**p.__dict__, "quantity": part, "autoslice": False})
            o = self.lifecycle.place(variety, sliced, now, self.venue.now_minute())
            parent = parent or o.order_id
            children.append({"order_id": o.order_id})
        return {"order_id": parent, "children": children}

    def modify(self, req: Request, variety: str, order_id: str) -> dict[str, Any]:
        """PUT /orders/{variety}/{id}: change a working order (or a waiting AMO), at most 25 times, under the
        rules of a new order (market protection, SL gap, LPP, a stop not already crossed); a LIMIT order cannot
        become a stop. A refused modification leaves the order as it was. The history shows MODIFY VALIDATION
        PENDING → MODIFY PENDING → MODIFIED, then the order works again and meets the current minute's book."""
        o = self._get_order(order_id)
        if o.variety != variety:
            raise input_error(f"Order {order_id} is not a `{variety}` order.")
        if o.cancel_requested or (not o.working and o.status != engine.AMO_REQ_RECEIVED):
            status = engine.CANCEL_PENDING if o.cancel_requested else o.status
            raise KiteError(400, "OrderException", f"Order cannot be modified as it is {status.lower()}.")
        if sum(1 for h in o.history if h["status"] == engine.MODIFIED) >= MAX_MODIFICATIONS:
            raise KiteError(
                400, "OrderException", f"Maximum allowed order modifications ({MAX_MODIFICATIONS}) exceeded."
            )
        now = self.venue.clock.now().astimezone(IST)
        qty = opt_int(req.param("quantity"), "quantity")
        price = opt_dec(req.param("price"), "price")
        trigger = opt_dec(req.param("trigger_price"), "trigger_price")
        order_type = req.param("order_type") or o.order_type
        validity = req.param("validity") or o.validity
        protection = market_protection(req.param("market_protection"))
        if order_type not in ORDER_TYPES:
            raise input_error(f"Invalid `order_type` {order_type!r}.")
        if o.order_type == "LIMIT" and order_type in ("SL", "SL-M"):
            raise input_error(LIMIT_TO_STOP_MESSAGE)
        if order_type != o.order_type and order_type in ("MARKET", "SL-M") and not protection:
            raise input_error(MARKET_PROTECTION_MESSAGE)
        if validity not in VALIDITIES:
            raise input_error(f"Invalid `validity` {validity!r}.")
        inst = self.venue.instrument(o.exchange, o.tradingsymbol)
        if order_type == "SL-M" and inst.is_option:
            raise input_error(SLM_OPTIONS_MESSAGE)
        if qty is not None:
            if qty <= o.filled_quantity:
                raise input_error("Quantity should be greater than the filled quantity.")
            if inst.is_derivative and qty % inst.lot_size:
                raise input_error(f"Quantity should be a multiple of the lot size ({inst.lot_size}).")
        for px in (price, trigger):
            if px is not None:
                check_tick(px, inst)
        new_price = price if price is not None else o.price
        new_trigger = trigger if trigger is not None else o.trigger_price
        still_stop = order_type in ("SL", "SL-M") and o.triggered_at is None
        ltp = self.margins.ltp(inst)
        if (
            still_stop
            and trigger is not None
            and (why := trigger_crossed(o.transaction_type, new_trigger, ltp))
        ):
            raise input_error(why)
        if order_type == "SL" and (
            why := sl_gap_problem(o.transaction_type, new_price, new_trigger, inst.is_option)
        ):
            raise input_error(why)
        band = lpp_range(inst, ltp) if order_type in ("LIMIT", "SL") else None
        if band is not None and not band[0] <= new_price <= band[1]:
            raise KiteError(400, "OrderException", CIRCUIT_MESSAGE)
        d, j = self.venue.now_minute()

        def apply() -> None:
            o.quantity = qty if qty is not None else o.quantity
            o.price = new_price
            o.trigger_price = new_trigger
            o.order_type = order_type
            o.validity = validity
            if protection is not None:
                o.market_protection = protection
            o.modified = True
            for status in (engine.MODIFY_PENDING, engine.MODIFIED):
                o.status = status
                self.book.record(o, now)

        def resume() -> None:
            if o.variety == "amo" and not self.venue.view.is_open(now):
                o.status = engine.AMO_REQ_RECEIVED
                self.book.record(o, now)
                return
            if still_stop and o.filled_quantity == 0:
                o.status = engine.TRIGGER_PENDING
            else:
                o.status = engine.OPEN
                self.exchange.arm(o, inst, ltp)
            self.book.record(o, now)
            self.exchange.match(o, d, j, resting=False)

        self.lifecycle.modify(o, apply, resume, now)
        return {"order_id": o.order_id}

    def cancel(self, req: Request, variety: str, order_id: str) -> dict[str, Any]:
        """DELETE /orders/{variety}/{id}: cancel what is not filled of a working order (or a waiting AMO)."""
        o = self._get_order(order_id)
        if o.variety != variety:
            raise input_error(f"Order {order_id} is not a `{variety}` order.")
        if o.cancel_requested or (not o.working and o.status != engine.AMO_REQ_RECEIVED):
            status = engine.CANCEL_PENDING if o.cancel_requested else o.status
            raise KiteError(400, "OrderException", f"Order cannot be cancelled as it is {status.lower()}.")
        self.lifecycle.cancel(o, self.venue.clock.now().astimezone(IST))
        return {"order_id": o.order_id}
