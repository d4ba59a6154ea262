"""The simulator's window on the seeded market generator: quotes, books and candles at any minute of a day.

It reads the generator's day arrays directly (the same numbers `GeneratedMarketData.snapshot` and
`minute_bars` serve), so a paper run and a run through the simulator see identical prices. A calendar day
that is not a trading day shows the last trading day's close, as Kite does on a weekend."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import numpy as np

from tron.domain.models import Quote
from tron.domain.order_rules import lpp_band, on_tick
from tron.domain.timeutil import IST, ist
from tron.sim.kite.catalog import Listed
from tron.sim.kite.engine import Depth, Liquidity, build_book
from tron.sim.market import MINUTES, DayData, completed_minutes


def dec(x: float) -> Decimal:
    return Decimal(str(round(float(x), 2)))


class MarketView:
    def __init__(self, market: Any, liquidity: Liquidity) -> None:
        self.market = market
        self.gen = market.gen
        self.calendar = market.gen.calendar
        self.liquidity = liquidity
        self._pos: dict[tuple[date, int], dict[str, int]] = {}
        self._daily: dict[date, tuple[dict[str, int], np.ndarray]] = {}
        self._quotes: dict[tuple[date, int, str], Quote | None] = {}
        self._books: dict[tuple[date, int, str], Depth | None] = {}

    # ------------------------------------------------------------------ time
    def session(self, now: datetime) -> tuple[date, int]:
        """(the trading day whose prices show at now, minutes of it completed)."""
        local = now.astimezone(IST)
        d = local.date()
        if self.calendar.is_trading_day(d):
            return d, completed_minutes(local)
        return self.calendar.previous_trading_day(d), MINUTES

    def is_open(self, now: datetime) -> bool:
        """Normal market hours, 09:15 ≤ t < 15:30 IST on a trading day."""
        local = now.astimezone(IST)
        return self.calendar.is_trading_day(local.date()) and time(9, 15) <= local.time() < time(15, 30)

    # ------------------------------------------------------------------ data
    def _data(self, d: date, symbol: str) -> tuple[DayData, int] | None:
        try:
            base = self.gen.day(d)
        except ValueError:
            return None
        day = base
        if symbol not in self._index(base):
            day = self.gen.full_day(d)
        k = self._index(day).get(symbol)
        return None if k is None else (day, k)

    def _index(self, day: DayData) -> dict[str, int]:
        """Symbol → row of a day's arrays. Keyed by (date, row count): a date's base day (stocks and the
        index) and full day (plus its derivatives) differ in length and are each deterministic."""
        key = (day.day, len(day.symbols))
        pos = self._pos.get(key)
        if pos is None:
            pos = {s: k for k, s in enumerate(day.symbols)}
            if len(self._pos) > 64:
                self._pos.clear()
            self._pos[key] = pos
        return pos

    def quote(self, d: date, j: int, symbol: str) -> Quote | None:
        key = (d, j, symbol)
        if key in self._quotes:
            return self._quotes[key]
        found = self._data(d, symbol)
        q = None
        if found is not None:
            day, k = found
            q = self.gen.quote(day, k, j, ist(d, time(9, 15)) + timedelta(minutes=j))
        if len(self._quotes) > 50_000:
            self._quotes.clear()
        self._quotes[key] = q
        return q

    def vwap(self, d: date, j: int, symbol: str) -> Decimal:
        """The day's volume-weighted average price over completed minutes (typical price per bar)."""
        found = self._data(d, symbol)
        if found is None or j == 0:
            return Decimal(0)
        day, k = found
        v = day.v[k, :j]
        total = float(v.sum())
        if total <= 0:
            return Decimal(0)
        typical = (day.h[k, :j] + day.lo[k, :j] + day.c[k, :j]) / 3
        return dec(float(np.dot(typical, v)) / total)

    def bars(self, d: date, j: int, symbol: str) -> list[tuple[int, float, float, float, float, int]]:
        """(minute index, o, h, l, c, v) for the first j minutes of a day."""
        found = self._data(d, symbol)
        if found is None:
            return []
        day, k = found
        o, h, lo, c, v = day.o[k, :j], day.h[k, :j], day.lo[k, :j], day.c[k, :j], day.v[k, :j]
        return [
            (
                m,
                round(float(o[m]), 2),
                round(float(h[m]), 2),
                round(float(lo[m]), 2),
                round(float(c[m]), 2),
                int(v[m]),
            )
            for m in range(j)
        ]

    def daily(self, d: date, symbol: str) -> tuple[float, float, float, float, int] | None:
        """A whole past day's (open, high, low, close, volume), computed once per day for every symbol so
        long daily-candle requests do not regenerate the same intraday paths symbol after symbol."""
        cached = self._daily.get(d)
        if cached is None:
            try:
                base = self.gen.day(d)
            except ValueError:
                return None
            ohlcv = np.stack(
                [base.o[:, 0], base.h.max(axis=1), base.lo.min(axis=1), base.c[:, -1], base.v.sum(axis=1)],
                axis=1,
            )
            cached = self._daily[d] = ({s: k for k, s in enumerate(base.symbols)}, ohlcv)
        k = cached[0].get(symbol)
        if k is None:
            bars = self.bars(d, MINUTES, symbol)
            if not bars:
                return None
            return (
                bars[0][1],
                max(b[2] for b in bars),
                min(b[3] for b in bars),
                bars[-1][4],
                sum(b[5] for b in bars),
            )
        o, h, lo, c, v = cached[1][k]
        return (round(float(o), 2), round(float(h), 2), round(float(lo), 2), round(float(c), 2), int(v))

    def book(self, inst: Listed, d: date, j: int) -> Depth | None:
        """The instrument's order book at a minute (deterministic, so cached like the quotes)."""
        key = (d, j, inst.key)
        if key not in self._books:
            if len(self._books) > 50_000:
                self._books.clear()
            self._books[key] = self._book(inst, d, j)
        return self._books[key]

    def _book(self, inst: Listed, d: date, j: int) -> Depth | None:
        q = self.quote(d, j, inst.tradingsymbol)
        if q is None:
            return None
        found = self._data(d, inst.tradingsymbol)
        assert found is not None
        day, k = found
        low = dec(day.lo[k, j - 1]) if j > 0 else None
        high = dec(day.h[k, j - 1]) if j > 0 else None
        opened = dec(day.o[k, j - 1]) if j > 0 else None
        notional = (
            self.liquidity.futures
            if inst.is_future
            else self.liquidity.options
            if inst.is_option
            else self.liquidity.equity
        )
        return build_book(
            key=inst.key,
            minute=j,
            bid=dec(q.bid),
            ask=dec(q.ask),
            last=dec(q.last),
            tick=inst.tick_size,
            lot=inst.lot_size,
            notional=notional,
            bar_low=low,
            bar_high=high,
            bar_open=opened,
        )


def circuit_limits(inst: Listed, prev_close: Decimal) -> tuple[Decimal, Decimal]:
    """The day's price band (an approximation of NSE's): equities ±20% of the previous close, index futures
    ±10%, options from one tick to four times the previous close (at least ₹20)."""
    tick = inst.tick_size if inst.tick_size > 0 else Decimal("0.05")
    if inst.is_option:
        return tick, on_tick(max(prev_close * 4, Decimal(20)), tick, ROUND_FLOOR)
    band = Decimal("0.10") if inst.is_future else Decimal("0.20")
    return (
        on_tick(prev_close * (1 - band), tick, ROUND_CEILING),
        on_tick(prev_close * (1 + band), tick, ROUND_FLOOR),
    )


def lpp_range(inst: Listed, ltp: Decimal) -> tuple[Decimal, Decimal] | None:
    """NSE's limit price protection around the last price for an F&O instrument (domain.order_rules.lpp_band);
    None for equities. A buy above the high or a sell below the low is rejected."""
    return lpp_band(ltp, inst.is_option, inst.is_future)
