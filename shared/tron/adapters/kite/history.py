"""The HistoricalData port on Kite Connect: `historical_data` candles and the instruments dump through the
shared KiteSession, so downloads get its pacing (historical 3 requests/s, others 10/s), retries of 429s and
network errors, and its circuit breaker.

Kite's limits on one historical request (kite.trade/docs/connect/v3/historical): the days it may span per
interval (:data:`HISTORICAL_MAX_DAYS`); `continuous=1` (a future's expired contracts spliced into one series) is
served for day candles only (Zerodha: "continuous data is only available for day candles"; an intraday
interval with continuous=1 is refused with an InputException).

Candles come through the official client's own request for `historical_data` (its route, headers and error
handling) but are parsed here: the client parses each candle's time with dateutil, about 150 µs a candle,
which would make a year of minute candles for the NIFTY 50 (4.7 million candles) spend 12 minutes parsing,
six times as long as Kite's 3 requests a second take to serve them; `datetime.fromisoformat` takes 0.5 µs.
A client without that request method (another version) is called through `historical_data` itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tron.adapters.kite.errors import TokenExpired
from tron.adapters.kite.market import as_ist
from tron.adapters.kite.session import KiteSession
from tron.domain.kite_api import HISTORICAL_MAX_DAYS
from tron.domain.timeutil import IST
from tron.ports import HistoryBar, SessionExpired

CONTINUOUS_INTERVALS = frozenset({"day"})
WHEN = "%Y-%m-%d %H:%M:%S"  # Kite's from/to format, IST wall time


class KiteHistory:
    """Kite's historical candles and instruments dump for `tron data fetch`, on a KiteSession."""

    def __init__(self, session: KiteSession) -> None:
        self.session = session

    def max_days(self, interval: str) -> int | None:
        """Kite's span limit of one request of the interval, in days; None for an interval Kite lacks."""
        return HISTORICAL_MAX_DAYS.get(interval)

    def continuous(self, interval: str) -> bool:
        """True for the intervals Kite serves continuous futures data at (day)."""
        return interval in CONTINUOUS_INTERVALS

    def instruments(self) -> list[dict[str, Any]]:
        """Today's dump of every exchange (`GET /instruments`), rows as the official client parses them."""
        try:
            rows: list[dict[str, Any]] = self.session.call("other", "instruments", lambda c: c.instruments())
        except TokenExpired as e:
            raise SessionExpired(str(e)) from None
        return rows

    def candles(
        self,
        token: int,
        start: datetime,
        end: datetime,
        interval: str,
        continuous: bool = False,
        oi: bool = False,
    ) -> list[HistoryBar]:
        """One `historical_data` request: the candles starting in [start, end] (IST wall times), oldest
        first; OI as Kite gives it with ``oi`` (0 otherwise)."""
        a, b = f"{start.astimezone(IST):{WHEN}}", f"{end.astimezone(IST):{WHEN}}"
        try:
            return self.session.call(
                "historical",
                "historical_data",
                lambda c: _candles(c, token, a, b, interval, continuous, oi),
            )
        except TokenExpired as e:
            raise SessionExpired(str(e)) from None


def _candles(
    client: Any, token: int, a: str, b: str, interval: str, continuous: bool, oi: bool
) -> list[HistoryBar]:
    """One historical request on the official client: Kite's candle arrays parsed here (see the module
    docstring), or, on a client without the request method, `historical_data`'s parsed dicts."""
    if not callable(getattr(client, "_get", None)) or "market.historical" not in getattr(
        client, "_routes", {}
    ):
        rows = client.historical_data(token, a, b, interval, continuous, oi)
        return [
            _bar(as_ist(x["date"]), x["open"], x["high"], x["low"], x["close"], x["volume"], x.get("oi"))
            for x in rows
        ]
    data = client._get(
        "market.historical",
        url_args={"instrument_token": token, "interval": interval},
        params={"from": a, "to": b, "interval": interval, "continuous": int(continuous), "oi": int(oi)},
    )
    return [
        _bar(
            datetime.fromisoformat(c[0]).astimezone(IST),
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            c[6] if len(c) > 6 else 0,
        )
        for c in data["candles"]
    ]


def _bar(ts: datetime | None, o: Any, h: Any, lo: Any, c: Any, v: Any, oi: Any) -> HistoryBar:
    if ts is None:
        raise ValueError("a Kite candle without a time")
    return HistoryBar(ts, float(o), float(h), float(lo), float(c), int(v or 0), int(oi or 0))
