"""Live trading's controls, pure: the operator's arming of a day (the document ``control/live_arm``) and the
guardrails every order is checked against before it reaches a broker.

Live orders go to Kite only on a day an operator armed, by name and with a reason, for that date alone: an
arming of another day (an old one left behind, or one set ahead) never arms today. The guardrails hold in
every mode, so that paper trades only what live would trade: an allowlist of symbols per asset, the largest
order value and quantity per segment, the exchange's freeze quantity per underlying, and the most orders a
day. They refuse entries only: an exit, a stop or a trail is never blocked by them (it is counted)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tron.domain.models import Instrument, OrderIntent

MAX_SLICES = 10  # the most orders an entry is sent in above the freeze quantity (Kite's autoslice limit)
MOST_SLICES = 100  # an exit or a stop is never refused for its size: it may take more slices, up to this


@dataclass(frozen=True)
class LiveArm:
    """An operator's arming of one trading day for live orders (``disarmed``: taken back, kept on record)."""

    day: date
    reason: str
    by: str
    at: datetime
    disarmed: bool = False

    def to_doc(self) -> dict[str, Any]:
        """The stored form (the control/live_arm document)."""
        return {
            "date": self.day.isoformat(),
            "reason": self.reason,
            "by": self.by,
            "at": self.at.isoformat(),
            "disarmed": self.disarmed,
        }

    @staticmethod
    def from_doc(d: Any) -> LiveArm:
        """Parse the stored form; ValueError naming what is wrong (a malformed document never arms)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"not a document: {type(d).__name__}")
        try:
            at = datetime.fromisoformat(str(d["at"]))
            arm = LiveArm(
                date.fromisoformat(str(d["date"])),
                str(d["reason"]).strip(),
                str(d["by"]).strip(),
                at,
                d.get("disarmed", False),
            )
        except (KeyError, ValueError) as e:
            raise ValueError(f"malformed arming document ({type(e).__name__}: {e})") from None
        if at.tzinfo is None or not arm.reason or not arm.by or not isinstance(arm.disarmed, bool):
            raise ValueError("malformed arming document (needs a reason, who, a timezone-aware time)")
        return arm


def arming_refusal(doc: Any, day: date) -> str | None:
    """None when the document arms ``day`` for live orders, else why not (for the ERROR and the summary)."""
    if doc is None:
        return "not armed: no control/live_arm document (`tron live arm --date D --reason ...`)"
    try:
        arm = LiveArm.from_doc(doc)
    except ValueError as e:
        return f"not armed: {e}"
    if arm.disarmed:
        return f"not armed: disarmed by {arm.by} at {arm.at:%Y-%m-%d %H:%M} ({arm.reason})"
    if arm.day < day:
        return f"not armed: the arming was for {arm.day} and has expired"
    if arm.day > day:
        return f"not armed: the arming is for another day ({arm.day})"
    return None


@dataclass(frozen=True)
class Guardrails:
    """What any order may be. ``allowlist``: per asset value, the symbols it may enter (an asset not named
    may enter any); ``max_order_value`` (₹) and ``max_order_qty`` per segment; ``freeze_qty`` per
    underlying (the exchange's largest single order: NIFTY 1,800 in 2026, revised monthly; a larger order
    goes in slices of whole lots under it, at most MAX_SLICES: :meth:`slices`); ``max_orders_per_day``
    across the account."""

    allowlist: Mapping[str, frozenset[str]] = field(default_factory=dict)
    max_order_value: Mapping[str, Decimal] = field(default_factory=dict)
    max_order_qty: Mapping[str, int] = field(default_factory=dict)
    freeze_qty: Mapping[str, int] = field(default_factory=dict)
    max_orders_per_day: int = 1000

    def allows(self, asset: str, symbol: str) -> bool:
        """Whether the allowlist lets the asset enter the symbol (an asset not named may enter any)."""
        allowed = self.allowlist.get(asset)
        return allowed is None or symbol in allowed

    def qty_cap(self, inst: Instrument, price: float) -> int | None:
        """The largest entry quantity of ``inst`` at ``price`` the caps allow (None: no cap): what the decision
        sizes under, in whole lots, so the executor's refusal below is a last line, not the rule."""
        caps = []
        if (qty := self.max_order_qty.get(inst.segment)) is not None:
            caps.append(qty)
        if inst.exchange == "NFO" and (freeze := self.freeze_qty.get(_underlying(inst.symbol))) is not None:
            caps.append(MAX_SLICES * slice_size(freeze, inst.lot_size))
        top = self.max_order_value.get(inst.segment)
        if top is not None and price > 0:
            caps.append(int(top / Decimal(str(price))))
        return min(caps) if caps else None

    def refusal(self, intent: OrderIntent, orders_today: int) -> str | None:
        """Why this entry may not be sent (``orders_today``: the day's orders so far, this one not
        counted), or None. Exits, stops and trails are never refused."""
        if not intent.purpose.opens:
            return None
        if not self.allows(intent.asset.value, intent.symbol):
            return f"guardrail: {intent.symbol} is not on the {intent.asset} allowlist"
        cap = self.max_order_qty.get(intent.segment)
        if cap is not None and intent.qty > cap:
            return f"guardrail: quantity {intent.qty} is above the {intent.segment} cap of {cap}"
        try:
            self.slices(intent)
        except ValueError as e:
            return f"guardrail: {e}"
        top = self.max_order_value.get(intent.segment)
        value = Decimal(str(intent.price or 0)) * intent.qty
        if top is not None and value > top:
            return f"guardrail: order value ₹{value:,.2f} is above the {intent.segment} cap of ₹{top:,.2f}"
        if orders_today + self.orders(intent) > self.max_orders_per_day:
            return f"guardrail: the day's {self.max_orders_per_day} orders are used"
        return None

    def slices(self, intent: OrderIntent) -> list[int]:
        """The quantities the order goes to the exchange in: itself when at or under its underlying's freeze
        quantity (or none is known), else slices of whole lots, each the most lots under the freeze
        quantity and the last the rest (as Kite's autoslice cuts them). ValueError when an entry would take
        more than MAX_SLICES (anything else, more than MOST_SLICES), or the freeze quantity is under one
        lot."""
        underlying = _underlying(intent.symbol) if intent.exchange == "NFO" else ""
        freeze = self.freeze_qty.get(underlying)
        if freeze is None or intent.qty <= freeze:
            return [intent.qty]
        part = slice_size(freeze, intent.lot)
        most = MAX_SLICES if intent.purpose.opens else MOST_SLICES
        if part == 0 or intent.qty > most * part:
            raise ValueError(
                f"quantity {intent.qty} is above {most} slices of {underlying}'s freeze quantity "
                f"{freeze} (lots of {intent.lot})"
            )
        whole, rest = divmod(intent.qty, part)
        return [part] * whole + ([rest] if rest else [])

    def orders(self, intent: OrderIntent) -> int:
        """How many orders the intent takes at the broker (its slices; one when it cannot be sliced: the
        refusal says why)."""
        try:
            return len(self.slices(intent))
        except ValueError:
            return 1


def slice_size(freeze: int, lot: int) -> int:
    """The largest slice of whole lots at or under the freeze quantity (0 when a lot is above it)."""
    return freeze // max(1, lot) * max(1, lot)


def _underlying(tradingsymbol: str) -> str:
    """An F&O contract's underlying as its tradingsymbol starts (NIFTY26DEC24500CE → NIFTY)."""
    m = re.match(r"[A-Z&-]+", tradingsymbol)
    return m.group(0) if m else ""
