"""The account's GTT triggers (they outlive the day) and the per-minute check that fires them."""

from __future__ import annotations

from datetime import date
from typing import Any

from tron.sim.kite.gtt import Gtt
from tron.sim.kite.market_view import dec
from tron.sim.kite.order_entry import OrderEntry
from tron.sim.kite.order_params import OrderParams
from tron.sim.kite.protocol import KiteError, Request, fmt
from tron.sim.kite.venue import Venue

FIRST_ID = 100001


class GttBook:
    """Triggers by id; a firing trigger places its leg's LIMIT order through order entry."""

    def __init__(self, venue: Venue, entry: OrderEntry) -> None:
        self.venue = venue
        self.entry = entry
        self.triggers: dict[int, Gtt] = {}
        self._seq = FIRST_ID - 1

    def next_id(self) -> int:
        """A fresh trigger id."""
        self._seq += 1
        return self._seq

    def waiting(self) -> bool:
        """True while any trigger is active."""
        return any(g.status == "active" for g in self.triggers.values())

    def fire_due(self, d: date, minute: int) -> None:
        """Expire triggers past their lifetime and fire those whose condition the minute's last price meets,
        recording the placement's result (or its rejection) on the trigger."""
        ts = self.venue.minute_ts(d, minute)
        for g in self.triggers.values():
            if g.status != "active":
                continue
            if ts >= g.expires_at:
                g.status = "expired"
                continue
            q = self.venue.view.quote(d, minute, g.tradingsymbol)
            if q is None:
                continue
            ltp = dec(q.last)
            leg = g.due(ltp)
            if leg is None:
                continue
            g.status = "triggered"
            g.updated_at = ts
            spec = g.orders[leg]
            form = {
                "exchange": [g.exchange],
                "tradingsymbol": [g.tradingsymbol],
                "transaction_type": [str(spec.get("transaction_type"))],
                "quantity": [str(spec.get("quantity"))],
                "product": [str(spec.get("product"))],
                "order_type": ["LIMIT"],
                "price": [str(spec.get("price"))],
            }
            result: dict[str, Any] = {"timestamp": fmt(ts), "triggered_at": float(ltp)}
            try:
                p = OrderParams.parse(Request("POST", "/orders/regular", form=form), self.venue.catalog())
                o = self.entry.place("regular", p, ts, at=(d, minute), source="gtt")
                result["order_result"] = {"order_id": o.order_id, "rejection_reason": o.status_message or ""}
            except KiteError as e:
                result["order_result"] = {"order_id": "", "rejection_reason": e.message}
            g.results[leg] = result
