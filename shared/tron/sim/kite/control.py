"""The operator's control API for tests and fault drills: `/__sim/...` on the simulator's own port, served to
loopback clients only and never through Kite's routes (the kiteconnect client has no call that reaches it).

| request | what it does |
|---|---|
| `GET /__sim/clock` | the simulator's time (`now`, ISO with +05:30), its `speed`, `api_key` and whether it enforces `rate_limits` |
| `GET /__sim/state` | the account as it truly is: positions, every order (new ones too), trades, cash, charges |
| `POST /__sim/login` | a new access token (skips the browser login) |
| `POST /__sim/orders` | a manual order on the account, untagged, as from the Kite app (JSON: Kite's order fields) |
| `POST /__sim/square-off` | the broker's MIS auto square-off now (`{"segment": "equity"|"fno"|"all"}`): ADMINSQF orders, ₹50 + GST each |
| `POST /__sim/rms-square-off` | RMS: square off every MIS position if the MTM loss is at least `loss_pct` (default 50) % of the margin used |
| `POST /__sim/invalidate-token` | every access token stops working (as at 06:00) |
| `POST /__sim/pause`, `/__sim/resume` | every Kite request hangs until resumed |
| `POST /__sim/drop` | every Kite connection is dropped for `{"seconds": N}` |
| `POST /__sim/restart` | the server closes every connection and listens again on the same port; the account is kept |
| `POST /__sim/fail` | the next `times` Kite requests on a `path` prefix (and `method`, if given) get an error envelope (`status`, default 503, `error_type`, default NetworkException) |
| `POST /__sim/clear-faults` | every scripted failure not yet used up is dropped |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tron.sim.kite.order_params import OrderParams
from tron.sim.kite.protocol import JSON, KiteError, Request, Response, as_float, error_response

if TYPE_CHECKING:
    from tron.sim.kite.sim import KiteSim

PREFIX = "/__sim/"


def _ok(data: Any) -> Response:
    return Response(200, JSON, json.dumps({"status": "success", "data": data}, default=str).encode())


class Control:
    """Answers the control API (see the module docstring). `restart` is set by the server."""

    def __init__(self, sim: KiteSim) -> None:
        self.sim = sim
        self.restart: Callable[[], None] | None = None

    def handle(self, method: str, path: str, body: Any) -> Response:
        what = path.removeprefix(PREFIX).strip("/")
        body = body if isinstance(body, dict) else {}
        routes: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
            ("GET", "clock"): self._clock,
            ("GET", "state"): self._state,
            ("POST", "login"): lambda b: {"access_token": self.sim.login()},
            ("POST", "orders"): self._manual_order,
            ("POST", "square-off"): self._square_off,
            ("POST", "rms-square-off"): self._rms_square_off,
            ("POST", "invalidate-token"): self._invalidate,
            ("POST", "pause"): self._pause,
            ("POST", "resume"): self._resume,
            ("POST", "drop"): lambda b: {"dropping_for_s": self.sim.drop_for(float(b.get("seconds", 5)))},
            ("POST", "restart"): self._restart,
            ("POST", "fail"): self._fail,
            ("POST", "clear-faults"): self._clear_faults,
        }
        handler = routes.get((method, what))
        if handler is None:
            return error_response(KiteError(404, "GeneralException", f"no control route {method} {path}"))
        try:
            return _ok(handler(body))
        except KiteError as e:
            return error_response(e)
        except (ValueError, TypeError, KeyError) as e:
            return error_response(KiteError(400, "InputException", f"bad control request: {e}"))

    def _invalidate(self, body: dict[str, Any]) -> dict[str, Any]:
        self.sim.expire_tokens()
        return {"expired": True}

    def _pause(self, body: dict[str, Any]) -> dict[str, Any]:
        self.sim.pause()
        return {"paused": True}

    def _resume(self, body: dict[str, Any]) -> dict[str, Any]:
        self.sim.resume()
        return {"paused": False}

    def _fail(self, body: dict[str, Any]) -> dict[str, Any]:
        path, times, status = str(body["path"]), int(body.get("times", 1)), int(body.get("status", 503))
        if not path.startswith("/") or times < 1 or not 400 <= status <= 599:
            raise ValueError("path must start with /, times be at least 1 and status an HTTP error (400–599)")
        method = body.get("method")
        self.sim.fail_next(
            path,
            str(body.get("error_type", "NetworkException")),
            status,
            str(body.get("message", "Simulated failure")),
            times,
            None if method is None else str(method).upper(),
        )
        return {"pending": len(self.sim.faults)}

    def _clear_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.sim.lock:
            dropped = len(self.sim.faults)
            self.sim.faults.clear()
        return {"dropped": dropped}

    def _clock(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "now": self.sim.clock.now().isoformat(),
            "speed": getattr(self.sim.clock, "speed", None),
            "api_key": self.sim.api_key,
            "rate_limits": self.sim.rate_windows.enabled,
        }

    def _state(self, body: dict[str, Any]) -> dict[str, Any]:
        sim = self.sim
        with sim.lock:
            sim.advance()
            return {
                "now": sim.clock.now().isoformat(),
                "cash": as_float(sim.portfolio.capital),
                "charges": as_float(sim.portfolio.charges),
                "positions": [
                    {
                        "exchange": p.inst.exchange,
                        "tradingsymbol": p.inst.tradingsymbol,
                        "product": p.product,
                        "quantity": p.quantity,
                        "average_price": as_float(p.average_price),
                    }
                    for p in sim.portfolio.positions.values()
                ],
                "orders": [sim.book.order_dict(o) | {"source": o.source} for o in sim.book.orders.values()],
                "trades": list(sim.book.trades),
            }

    def _manual_order(self, body: dict[str, Any]) -> dict[str, Any]:
        """An order from the Kite app: no tag, no postback (only the WebSocket sees it)."""
        form = {k: [str(v)] for k, v in body.items() if k != "tag"}
        form.setdefault("market_protection", ["-1"])
        sim = self.sim
        with sim.lock:
            sim.advance()
            p = OrderParams.parse(Request("POST", "/orders/regular", form=form), sim.catalog())
            o = sim.order_entry.place("regular", p, sim.clock.now(), source="manual")
            return {"order_id": o.order_id, "status": o.status}

    def _square_off(self, body: dict[str, Any]) -> dict[str, Any]:
        segment = str(body.get("segment", "all"))
        if segment not in ("equity", "fno", "all"):
            raise ValueError(f"segment must be equity, fno or all, got {segment!r}")
        with self.sim.lock:
            self.sim.advance()
            return {"orders": self.sim.trading_day.square_off(segment)}

    def _rms_square_off(self, body: dict[str, Any]) -> dict[str, Any]:
        loss_pct = Decimal(str(body.get("loss_pct", 50)))
        sim = self.sim
        with sim.lock:
            sim.advance()
            mtm, margin = sim.margins.mtm_and_margin()
            due = margin > 0 and -mtm >= margin * loss_pct / 100
            orders = sim.trading_day.square_off("all") if due else []
            return {"mtm": as_float(mtm), "margin": as_float(margin), "squared_off": due, "orders": orders}

    def _restart(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.restart is None:
            raise KiteError(409, "GeneralException", "this simulator is not served on a socket")
        self.restart()
        return {"restarting": True}
