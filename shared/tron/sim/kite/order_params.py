"""A new order's parameters as the place-order route (and a firing GTT) sends them, checked field by field."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from tron.sim.kite.catalog import Catalog, Listed
from tron.sim.kite.protocol import (
    MARKET_PROTECTION_MESSAGE,
    ORDER_TYPES,
    PRODUCTS,
    SLM_OPTIONS_MESSAGE,
    TAG_RE,
    VALIDITIES,
    Request,
    check_tick,
    input_error,
    opt_dec,
    opt_int,
)


@dataclass
class OrderParams:
    """A new order's fields, checked as Kite checks them before the order gets an id."""

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
        """The order a place request describes; a KiteError (400 InputException) naming the first bad field."""

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
        protection = market_protection(req.param("market_protection")) or Decimal(0)
        if order_type in ("MARKET", "SL-M") and protection == 0:
            raise input_error(MARKET_PROTECTION_MESSAGE)
        if order_type == "SL-M" and inst.is_option:
            raise input_error(SLM_OPTIONS_MESSAGE)
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


def market_protection(raw: str | None) -> Decimal | None:
    """A place or modify request's market_protection: None when absent, else -1 (automatic) or a percentage
    0–100; a KiteError (400 InputException) for anything else."""
    if raw in (None, ""):
        return None
    try:
        protection = Decimal(raw)
        if not protection.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise input_error(
            f"Invalid request (failed to decode market_protection, got: {raw} (expected decimal))"
        ) from None
    if protection != -1 and not (0 <= protection <= 100):
        raise input_error("Invalid `market_protection`: use -1 (automatic) or a percentage from 0 to 100.")
    return protection
