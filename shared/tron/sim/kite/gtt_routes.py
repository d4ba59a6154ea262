"""GTT routes (/gtt/triggers): place, list, get, modify and delete triggers; `GttBook` fires them."""

from __future__ import annotations

from typing import Any

from tron.sim.kite.gtt import Gtt, GttInputError
from tron.sim.kite.gtt import parse as parse_gtt
from tron.sim.kite.gtt_book import GttBook
from tron.sim.kite.protocol import Request, fmt, input_error
from tron.sim.kite.venue import Venue


class GttRoutes:
    """/gtt/triggers over the account's GTT book. Called under the simulator's lock."""

    def __init__(self, venue: Venue, gtts: GttBook, user_id: str) -> None:
        self.venue = venue
        self.gtts = gtts
        self.user_id = user_id

    def _gtt_dict(self, g: Gtt) -> dict[str, Any]:
        inst = self.venue.catalog().by_key.get(f"{g.exchange}:{g.tradingsymbol}")
        return {
            "id": g.id,
            "user_id": self.user_id,
            "parent_trigger": None,
            "type": g.type,
            "created_at": fmt(g.created_at),
            "updated_at": fmt(g.updated_at),
            "expires_at": fmt(g.expires_at),
            "status": g.status,
            "condition": {
                "exchange": g.exchange,
                "tradingsymbol": g.tradingsymbol,
                "instrument_token": inst.instrument_token if inst else None,
                "last_price": float(g.last_price),
                "trigger_values": [float(v) for v in g.trigger_values],
            },
            "orders": [{**o, "result": r} for o, r in zip(g.orders, g.results, strict=True)],
            "meta": None,
        }

    def _parse(self, req: Request, gtt_id: int) -> Gtt:
        fields = {k: req.param(k) for k in ("type", "condition", "orders")}
        try:
            g = parse_gtt(fields, gtt_id, self.venue.clock.now())
        except GttInputError as e:
            raise input_error(str(e)) from None
        inst = self.venue.catalog().by_key.get(f"{g.exchange}:{g.tradingsymbol}")
        if inst is None or inst.is_index:
            raise input_error(f"Invalid instrument {g.exchange}:{g.tradingsymbol} in `condition`.")
        return g

    def _trigger(self, trigger_id: str) -> Gtt:
        g = self.gtts.triggers.get(int(trigger_id))
        if g is None:
            raise input_error("Couldn't find that `trigger_id`.")
        return g

    def place(self, req: Request) -> dict[str, Any]:
        """POST /gtt/triggers: a new trigger (an id is used up even when the input is refused)."""
        g = self._parse(req, self.gtts.next_id())
        self.gtts.triggers[g.id] = g
        return {"trigger_id": g.id}

    def list_triggers(self, req: Request) -> list[dict[str, Any]]:
        """GET /gtt/triggers: every trigger, whatever its status."""
        return [self._gtt_dict(g) for g in self.gtts.triggers.values()]

    def get(self, req: Request, trigger_id: str) -> dict[str, Any]:
        """GET /gtt/triggers/{id}."""
        return self._gtt_dict(self._trigger(trigger_id))

    def modify(self, req: Request, trigger_id: str) -> dict[str, Any]:
        """PUT /gtt/triggers/{id}: replace an active trigger, keeping its creation time."""
        old = self._trigger(trigger_id)
        if old.status != "active":
            raise input_error(f"Trigger cannot be modified as it is {old.status}.")
        g = self._parse(req, old.id)
        g.created_at = old.created_at
        self.gtts.triggers[g.id] = g
        return {"trigger_id": g.id}

    def delete(self, req: Request, trigger_id: str) -> dict[str, Any]:
        """DELETE /gtt/triggers/{id}: an active trigger becomes `deleted`."""
        g = self._trigger(trigger_id)
        if g.status != "active":
            raise input_error(f"Trigger cannot be deleted as it is {g.status}.")
        g.status = "deleted"
        g.updated_at = self.venue.clock.now()
        return {"trigger_id": g.id}
