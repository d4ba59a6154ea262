"""GTT routes (/gtt/triggers) and the per-minute check that fires triggers."""

from __future__ import annotations

from datetime import date
from typing import Any

from tron.sim.kite.gtt import Gtt, GttInputError
from tron.sim.kite.gtt import parse as parse_gtt
from tron.sim.kite.market_view import dec
from tron.sim.kite.order_routes import OrderParams
from tron.sim.kite.protocol import KiteError, Request, fmt, input_error


class GttRoutes:
    """Mixed into KiteSim: uses its state (orders, positions, catalog, clock) under its lock."""

    # ================================================================== routes: GTT
    def _gtt_waiting(self) -> bool:
        return any(g.status == "active" for g in self.gtts.values())

    def _gtt_dict(self, g: Gtt) -> dict[str, Any]:
        inst = self.catalog().by_key.get(f"{g.exchange}:{g.tradingsymbol}")
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

    def _gtt_parse(self, req: Request, gtt_id: int) -> Gtt:
        fields = {k: req.param(k) for k in ("type", "condition", "orders")}
        try:
            g = parse_gtt(fields, gtt_id, self.clock.now())
        except GttInputError as e:
            raise input_error(str(e)) from None
        inst = self.catalog().by_key.get(f"{g.exchange}:{g.tradingsymbol}")
        if inst is None or inst.is_index:
            raise input_error(f"Invalid instrument {g.exchange}:{g.tradingsymbol} in `condition`.")
        return g

    def _gtt_place(self, req: Request) -> dict[str, Any]:
        self._gtt_seq += 1
        g = self._gtt_parse(req, self._gtt_seq)
        self.gtts[g.id] = g
        return {"trigger_id": g.id}

    def _gtt_list(self, req: Request) -> list[dict[str, Any]]:
        return [self._gtt_dict(g) for g in self.gtts.values()]

    def _gtt_of(self, trigger_id: str) -> Gtt:
        g = self.gtts.get(int(trigger_id))
        if g is None:
            raise input_error("Couldn't find that `trigger_id`.")
        return g

    def _gtt_get(self, req: Request, trigger_id: str) -> dict[str, Any]:
        return self._gtt_dict(self._gtt_of(trigger_id))

    def _gtt_modify(self, req: Request, trigger_id: str) -> dict[str, Any]:
        old = self._gtt_of(trigger_id)
        if old.status != "active":
            raise input_error(f"Trigger cannot be modified as it is {old.status}.")
        g = self._gtt_parse(req, old.id)
        g.created_at = old.created_at
        self.gtts[g.id] = g
        return {"trigger_id": g.id}

    def _gtt_delete(self, req: Request, trigger_id: str) -> dict[str, Any]:
        g = self._gtt_of(trigger_id)
        if g.status != "active":
            raise input_error(f"Trigger cannot be deleted as it is {g.status}.")
        g.status = "deleted"
        g.updated_at = self.clock.now()
        return {"trigger_id": g.id}

    def _check_gtts(self, d: date, minute: int) -> None:
        ts = self._minute_ts(d, minute)
        for g in self.gtts.values():
            if g.status != "active":
                continue
            if ts >= g.expires_at:
                g.status = "expired"
                continue
            q = self.view.quote(d, minute, g.tradingsymbol)
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
                p = OrderParams.parse(Request("POST", "/orders/regular", form=form), self.catalog())
                o = self._place_checked("regular", p, ts, at=(d, minute))
                result["order_result"] = {"order_id": o.order_id, "rejection_reason": o.status_message or ""}
            except KiteError as e:
                result["order_result"] = {"order_id": "", "rejection_reason": e.message}
            g.results[leg] = result
