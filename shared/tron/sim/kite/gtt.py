"""GTT (good till triggered) triggers, as Kite keeps them: `single` (one trigger value, one order) and
`two-leg` OCO (a lower stop-loss value with its order and an upper target value with its order).

A single trigger fires when the last price crosses its value from the side it was created on; a two-leg
fires the lower leg's order when the price falls to the lower value and the upper leg's when it rises to the
upper value. Firing places the leg's LIMIT order (Kite sends GTT orders as LIMIT) and marks the trigger
`triggered`, with the placement's result on the order. Triggers expire a year after creation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

TYPES = ("single", "two-leg")
LIFETIME = timedelta(days=365)


class GttInputError(ValueError):
    pass


@dataclass
class Gtt:
    id: int
    type: str
    exchange: str
    tradingsymbol: str
    trigger_values: list[Decimal]
    last_price: Decimal  # the price when the trigger was set (decides a single trigger's direction)
    orders: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    status: str = "active"
    results: list[dict[str, Any] | None] = field(default_factory=list)

    @property
    def expires_at(self) -> datetime:
        return self.created_at + LIFETIME

    def due(self, ltp: Decimal) -> int | None:
        """The index of the leg whose condition the last price meets, or None."""
        if self.status != "active":
            return None
        if self.type == "single":
            v = self.trigger_values[0]
            crossed = ltp >= v if v > self.last_price else ltp <= v
            return 0 if crossed else None
        lower, upper = self.trigger_values
        if ltp <= lower:
            return 0
        if ltp >= upper:
            return 1
        return None


def parse(form: dict[str, str | None], gtt_id: int, now: datetime) -> Gtt:
    """A trigger from the form fields Kite's client sends (type, condition JSON, orders JSON)."""
    kind = form.get("type")
    if kind not in TYPES:
        raise GttInputError(f"Invalid `type` {kind!r}: use single or two-leg.")
    try:
        condition = json.loads(form.get("condition") or "")
        orders = json.loads(form.get("orders") or "")
    except ValueError:
        raise GttInputError("`condition` and `orders` must be JSON.") from None
    if not isinstance(condition, dict) or not isinstance(orders, list):
        raise GttInputError("`condition` must be a JSON object and `orders` a JSON list.")
    try:
        values = [Decimal(str(v)) for v in condition.get("trigger_values") or []]
        last_price = Decimal(str(condition.get("last_price")))
    except (InvalidOperation, TypeError):
        raise GttInputError("Invalid `trigger_values` or `last_price` in `condition`.") from None
    want = 1 if kind == "single" else 2
    if len(values) != want or len(orders) != want:
        raise GttInputError(f"A {kind} GTT needs {want} trigger value(s) and {want} order(s).")
    if kind == "two-leg" and not values[0] < last_price < values[1]:
        raise GttInputError("A two-leg GTT needs trigger values below and above the last price.")
    if any(v == last_price or v <= 0 for v in values):
        raise GttInputError("Trigger values must be positive and differ from the last price.")
    for o in orders:
        if not isinstance(o, dict):
            raise GttInputError("Each GTT order must be a JSON object.")
        for name in ("transaction_type", "quantity", "price", "product"):
            if o.get(name) in (None, ""):
                raise GttInputError(f"GTT order is missing `{name}`.")
    return Gtt(
        id=gtt_id,
        type=kind,
        exchange=str(condition.get("exchange")),
        tradingsymbol=str(condition.get("tradingsymbol")),
        trigger_values=values,
        last_price=last_price,
        orders=orders,
        created_at=now,
        updated_at=now,
        results=[None] * want,
    )
