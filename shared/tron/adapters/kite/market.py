"""KiteMarketData: the MarketData port on the official Kite client (through a KiteSession)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from tron.adapters.kite.errors import TokenExpired
from tron.adapters.kite.session import KiteSession
from tron.domain.models import Asset, Candle, DailyBar, Instrument, Quote, Snapshot
from tron.domain.timeutil import IST
from tron.ports import Clock

log = logging.getLogger("tron.kite")
QUOTE_BATCH = 500  # instruments per `quote` call (Kite's limit)
INDEX = "NIFTY 50"
UNDERLYING = "NIFTY"
# The F&O fields of Instrument (expiry, strike, option type, underlying), filled when the model has them.
FNO_FIELDS = {
    f for f in ("expiry", "strike", "option_type", "underlying") if f in Instrument.__dataclass_fields__
}
SEGMENTS = {Asset.STOCKS: "equity_intraday", Asset.FUTURES: "futures", Asset.OPTIONS: "options"}


def as_ist(value: Any) -> datetime | None:
    """A Kite timestamp (naive IST datetime, or an aware one, or a 'YYYY-MM-DD HH:MM:SS' string) in IST."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=IST) if value.tzinfo is None else value.astimezone(IST)


def batches(items: list[str], size: int) -> Iterable[list[str]]:
    """Consecutive slices of ``items`` of at most ``size`` each."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


class KiteMarketData:
    """The MarketData port on Kite. ``universe`` restricts (and orders) the stocks; ``sectors`` maps a
    symbol to its sector; ``quote_batch`` (1–500, Kite's per-call limit, else ValueError) sizes the
    `quote` calls."""

    def __init__(
        self,
        session: KiteSession,
        clock: Clock,
        universe: list[str] | None = None,
        sectors: dict[str, str] | None = None,
        quote_batch: int = QUOTE_BATCH,
    ) -> None:
        if not 1 <= quote_batch <= QUOTE_BATCH:
            raise ValueError(
                f"quote_batch must be 1–{QUOTE_BATCH} (Kite's per-call limit), got {quote_batch}"
            )
        self.session = session
        self.clock = clock
        self.universe = universe
        self.sectors = sectors or {}
        self.quote_batch = quote_batch
        self._dump: dict[str, tuple[date, list[dict[str, Any]]]] = {}
        self._history: dict[tuple[str, date, int], list[DailyBar]] = {}
        self._minutes: dict[str, dict[datetime, Candle]] = {}  # per symbol, today's candles by start
        self._exchange: dict[str, str] = {}  # tradingsymbol → exchange, from the dumps read so far
        self._token: dict[str, int] = {}

    # ------------------------------------------------------------------ instruments
    def _rows(self, exchange: str) -> list[dict[str, Any]]:
        today = self.clock.now().date()
        hit = self._dump.get(exchange)
        if hit is not None and hit[0] == today:
            return hit[1]
        rows: list[dict[str, Any]] = self.session.call(
            "other", "instruments", lambda c: c.instruments(exchange)
        )
        self._dump[exchange] = (today, rows)
        for r in rows:
            self._exchange.setdefault(r["tradingsymbol"], r["exchange"])
            self._token.setdefault(f"{r['exchange']}:{r['tradingsymbol']}", int(r["instrument_token"]))
        return rows

    def _instrument(self, r: dict[str, Any], asset: Asset) -> Instrument:
        kw: dict[str, Any] = {}
        if asset is not Asset.STOCKS:
            fno = {
                "expiry": r.get("expiry") if isinstance(r.get("expiry"), date) else None,
                "strike": float(r["strike"]) if asset is Asset.OPTIONS and r.get("strike") else None,
                "option_type": r.get("instrument_type", ""),
                "underlying": INDEX if r.get("name") == UNDERLYING else str(r.get("name", "")),
            }
            kw = {k: v for k, v in fno.items() if k in FNO_FIELDS}
        return Instrument(
            symbol=r["tradingsymbol"],
            exchange=r["exchange"],
            asset=asset,
            token=int(r["instrument_token"]),
            lot_size=int(r["lot_size"]) or 1,
            tick_size=Decimal(str(r["tick_size"])),
            sector=self.sectors.get(r["tradingsymbol"], "" if asset is Asset.STOCKS else "Index"),
            segment=SEGMENTS[asset],
            **kw,
        )

    def instruments(self, asset: Asset) -> list[Instrument]:
        """The asset's instruments from Kite's instruments dump (CSV), read at most once per day.

        Stocks: NSE equities of the configured universe (in the universe's order; every NSE equity
        without one). Futures: NFO NIFTY futures, nearest expiry first. Options: NFO NIFTY CE/PE, nearest
        expiry first, then strike. Lot and tick sizes are as Kite lists them; expired contracts are left
        out. Empty, with an ERROR log, when the session is gone: plan_day's health gate then halts the day.
        """
        try:
            return self._instruments(asset)
        except TokenExpired as e:
            log.error(f"no instruments for {asset}: {e}", extra={"component": "kite"})
            return []

    def _instruments(self, asset: Asset) -> list[Instrument]:
        if asset is Asset.STOCKS:
            eq = {
                r["tradingsymbol"]: r
                for r in self._rows("NSE")
                if r.get("instrument_type") == "EQ" and r.get("segment") == "NSE"
            }
            names = self.universe if self.universe is not None else list(eq)
            return [self._instrument(eq[s], asset) for s in names if s in eq]
        today = self.clock.now().date()
        kinds = {"FUT"} if asset is Asset.FUTURES else {"CE", "PE"}
        rows = [
            r
            for r in self._rows("NFO")
            if r.get("name") == UNDERLYING
            and r.get("instrument_type") in kinds
            and isinstance(r.get("expiry"), date)
            and r["expiry"] >= today
        ]
        rows.sort(key=lambda r: (r["expiry"], float(r.get("strike") or 0), r["instrument_type"]))
        return [self._instrument(r, asset) for r in rows]

    def key(self, symbol: str) -> str:
        """The `EXCHANGE:tradingsymbol` Kite quotes by (equities and the index are NSE)."""
        return f"{self._exchange.get(symbol, 'NSE')}:{symbol}"

    # ------------------------------------------------------------------ quotes
    def _know(self, symbols: list[str]) -> None:
        """Read today's dumps until every symbol's exchange is known (a fresh process, e.g. a tick function's,
        has not read them yet): NSE first, NFO when a symbol is still unknown. At most once a day each."""
        for exchange in ("NSE", "NFO"):
            if all(s in self._exchange or s == INDEX for s in symbols):
                return
            if exchange not in self._dump or self._dump[exchange][0] != self.clock.now().date():
                self._rows(exchange)

    def snapshot(self, symbols: list[str]) -> Snapshot:
        """One `quote` of the symbols, in batches of at most ``quote_batch`` instruments.

        Each Quote carries the quote's own timestamp in IST, the best bid/ask from the depth (the last
        price when a side is empty), cumulative volume, the day's OHLC and the previous close; symbols Kite
        does not answer for are left out. The snapshot's time is the latest quote's (now without quotes).
        Minute bars are built downstream from consecutive snapshots (tron.domain.session).
        """
        self._know(symbols)
        keys = {self.key(s): s for s in symbols}
        quotes: dict[str, Quote] = {}
        for batch in batches(list(keys), self.quote_batch):
            data: dict[str, dict[str, Any]] = self.session.call("quote", "quote", partial(_quote_call, batch))
            for k, q in data.items():
                if k in keys:
                    quotes[keys[k]] = self._quote(keys[k], q)
        now = self.clock.now()
        ts = max((q.ts for q in quotes.values()), default=now)
        return Snapshot(ts, quotes)

    def _quote(self, symbol: str, q: dict[str, Any]) -> Quote:
        last = float(q.get("last_price") or 0.0)
        depth = q.get("depth") or {}
        bids = [float(x["price"]) for x in depth.get("buy", []) if float(x.get("price") or 0) > 0]
        asks = [float(x["price"]) for x in depth.get("sell", []) if float(x.get("price") or 0) > 0]
        ohlc = q.get("ohlc") or {}
        ts = as_ist(q.get("timestamp")) or as_ist(q.get("last_trade_time")) or self.clock.now()
        return Quote(
            symbol=symbol,
            ts=ts,
            last=last,
            bid=max(bids) if bids else last,
            ask=min(asks) if asks else last,
            volume=int(q.get("volume") or q.get("volume_traded") or 0),
            open=float(ohlc.get("open") or last),
            high=float(ohlc.get("high") or last),
            low=float(ohlc.get("low") or last),
            prev_close=float(ohlc.get("close") or last),
        )

    # ------------------------------------------------------------------ history
    def token(self, symbol: str) -> int:
        """The symbol's instrument token from the dumps; KeyError if Kite does not list it."""
        key = self.key(symbol)
        if key not in self._token:
            self._rows(key.split(":", 1)[0])
        if key not in self._token:
            raise KeyError(f"{symbol!r} is not in Kite's instruments dump")
        return self._token[key]

    def preflight(self) -> str | None:
        """None if the Kite session works (a `profile` call), else why not."""
        return self.session.preflight()

    def daily_history(self, symbol: str, before: date, days: int) -> list[DailyBar]:
        """The last ``days`` daily bars before ``before`` (`historical_data` with interval "day"), oldest
        first, cached per (symbol, before, days). Empty, with an ERROR log, when the session is gone (the
        plan falls back, the gate halts)."""
        try:
            return self._daily_history(symbol, before, days)
        except TokenExpired as e:
            log.error(f"no daily history for {symbol}: {e}", extra={"component": "kite"})
            return []

    def _daily_history(self, symbol: str, before: date, days: int) -> list[DailyBar]:
        hit = self._history.get((symbol, before, days))
        if hit is not None:
            return hit
        token = self.token(symbol)
        start = before - timedelta(days=days * 7 // 5 + 21)  # weekends and holidays
        frm, to = f"{start} 00:00:00", f"{before - timedelta(days=1)} 23:59:59"
        candles: list[dict[str, Any]] = self.session.call(
            "historical", "historical_data", lambda c: c.historical_data(token, frm, to, "day")
        )
        bars = [
            DailyBar(
                d.date(),
                float(x["open"]),
                float(x["high"]),
                float(x["low"]),
                float(x["close"]),
                int(x.get("volume") or 0),
            )
            for x in candles
            if (d := as_ist(x["date"])) is not None and d.date() < before
        ][-days:]
        self._history[(symbol, before, days)] = bars
        return bars

    def minute_bars(self, symbol: str, since: datetime) -> list[Candle]:
        """The completed minute candles of since's day starting at or after ``since`` (`historical_data`,
        interval "minute", within its 3 requests a second), oldest first. Candles are kept per symbol, so a
        tick asking for the minute just closed makes one small request and a second reader of the same
        minute none. Empty, with an ERROR log, when the session is gone."""
        now = self.clock.now().astimezone(IST)
        since = since.astimezone(IST)
        if since.second or since.microsecond:  # the first candle starting at or after it
            since = since.replace(second=0, microsecond=0) + timedelta(minutes=1)
        done = now.replace(second=0, microsecond=0)  # candles starting before this have completed
        have = self._minutes.setdefault(symbol, {})
        if any(t.date() != since.date() for t in have):  # another day's: start afresh
            have.clear()
        known = [t for t in have if t >= since]
        frm = max(known) + timedelta(minutes=1) if known else since
        if frm < done:
            try:
                self._fetch_minutes(symbol, frm, done)
            except TokenExpired as e:
                log.error(f"no minute candles for {symbol}: {e}", extra={"component": "kite"})
        return [have[t] for t in sorted(have) if since <= t < done]

    def _fetch_minutes(self, symbol: str, frm: datetime, until: datetime) -> None:
        token = self.token(symbol)
        a, b = f"{frm:%Y-%m-%d %H:%M:%S}", f"{until - timedelta(seconds=1):%Y-%m-%d %H:%M:%S}"
        rows: list[dict[str, Any]] = self.session.call(
            "historical", "historical_data", lambda c: c.historical_data(token, a, b, "minute")
        )
        have = self._minutes[symbol]
        for x in rows:
            start = as_ist(x["date"])
            if start is not None and frm <= start < until:
                have[start] = Candle(
                    start,
                    float(x["open"]),
                    float(x["high"]),
                    float(x["low"]),
                    float(x["close"]),
                    int(x.get("volume") or 0),
                )

    def warm_up(self, day: date, symbols: list[str], days: int) -> int:
        """Before the open: the instruments dumps and the daily history plan_day will read. Returns the
        number of sessions loaded for the first symbol (the index)."""
        for a in Asset:
            self.instruments(a)
        out = [len(self.daily_history(s, day, days)) for s in symbols]
        return out[0] if out else 0


def _quote_call(batch: list[str], client: Any) -> dict[str, dict[str, Any]]:
    return dict(client.quote(batch))
