"""The slice of kiteconnect.KiteConnect the Kite adapters call, scripted per method, on a fake monotonic
clock (tests/integration drives the real client against the Kite simulator)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.kite import CircuitBreaker, KiteSession, RateLimiter
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)


def naive(*hms: int) -> datetime:
    """A timestamp as the client hands it over: IST wall time without a zone."""
    return ist(DAY, time(*hms)).replace(tzinfo=None)


class FakeTime:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class FakeClient:
    """The slice of kiteconnect.KiteConnect the adapters call, scripted per method."""

    def __init__(self, script: dict[str, list[Any]] | None = None) -> None:
        self.script = script or {}
        self.calls: list[tuple[str, Any]] = []
        self.token: str | None = None
        self.orders_book: list[dict[str, Any]] = []
        self.gtts: list[Any] = []
        self.histories: dict[str, list[list[dict[str, Any]]]] = {}

    def _next(self, name: str, default: Any) -> Any:
        seq = self.script.get(name)
        out = seq.pop(0) if seq else default
        if isinstance(out, BaseException):
            raise out
        return out

    def set_access_token(self, t: str) -> None:
        self.token = t

    def profile(self) -> dict[str, Any]:
        self.calls.append(("profile", None))
        return self._next("profile", {"user_id": "AB1234"})

    def place_order(self, **kw: Any) -> str:
        self.calls.append(("place_order", kw))
        return self._next("place_order", "O1")

    def get_gtts(self) -> list[Any]:
        return list(self.gtts)

    def orders(self) -> list[dict[str, Any]]:
        self.calls.append(("orders", None))
        return self._next("orders", self.orders_book)

    def order_history(self, order_id: str) -> list[dict[str, Any]]:
        self.calls.append(("order_history", order_id))
        seq = self.histories.get(order_id, [])
        return seq.pop(0) if len(seq) > 1 else seq[0]

    def cancel_order(self, variety: str, order_id: str) -> str:
        self.calls.append(("cancel_order", order_id))
        return self._next("cancel_order", order_id)

    def instruments(self, exchange: str) -> list[dict[str, Any]]:
        self.calls.append(("instruments", exchange))
        row = {"instrument_token": 1, "lot_size": 1, "tick_size": 0.05, "expiry": "", "strike": 0.0}
        if exchange == "NSE":
            return [
                {
                    **row,
                    "tradingsymbol": "AXISBANK",
                    "exchange": "NSE",
                    "instrument_type": "EQ",
                    "segment": "NSE",
                }
            ]
        return [{**row, "tradingsymbol": "NIFTY26DECFUT", "exchange": "NFO", "instrument_type": "FUT", "name": "NIFTY",
                 "segment": "NFO-FUT", "lot_size": 65, "expiry": DAY}]  # fmt: skip

    def quote(self, keys: list[str]) -> dict[str, Any]:
        self.calls.append(("quote", list(keys)))
        return {k: QUOTE for k in keys}


QUOTE = {
    "timestamp": naive(10, 0, 0),
    "last_price": 1500.5,
    "volume": 12345,
    "ohlc": {"open": 1490.0, "high": 1510.0, "low": 1485.0, "close": 1488.0},
    "depth": {
        "buy": [{"price": 1500.45, "quantity": 10, "orders": 1}, {"price": 0, "quantity": 0, "orders": 0}],
        "sell": [{"price": 1500.6, "quantity": 10, "orders": 1}],
    },
}


def session(client: FakeClient, ft: FakeTime, token: str | None = "tok", **kw: Any) -> KiteSession:
    secrets = EnvSecrets({})
    if token:
        secrets.put("kite_access_token", token)
    return KiteSession(
        "sim",
        secrets,
        "http://127.0.0.1:1",
        limiter=RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep, enabled=False),
        breaker=kw.pop("breaker", None) or CircuitBreaker(5, 30, ft.monotonic),
        sleep=ft.sleep,
        client_factory=lambda *a, **k: client,
        **kw,
    )
