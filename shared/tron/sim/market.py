"""A deterministic, seeded NSE market: realistic 1-minute data for a universe, the index and the NIFTY
derivatives (:class:`MarketGenerator`), served through the MarketData port (:class:`GeneratedMarketData`).
"""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources

import numpy as np

from tron.domain.calendar import TradingCalendar
from tron.domain.models import Asset, Candle, DailyBar, Instrument, Quote, Snapshot
from tron.domain.timeutil import IST, ist
from tron.ports import Clock
from tron.sim.derivatives import LOT_SIZE, Contract, contracts, derive

MINUTES = 375
SUB = 4  # price samples per minute
EPOCH = date(2024, 1, 1)
INDEX = "NIFTY 50"
TICK = 0.05


@dataclass(frozen=True)
class Listing:
    symbol: str
    sector: str
    price: float  # level at the epoch
    beta: float


def nifty50(n: int | None = None) -> list[Listing]:
    """The NIFTY 50 constituents; beyond 50, synthetic listings SYN051… so benchmarks can scale."""
    text = resources.files("tron.data").joinpath("nifty50.csv").read_text()
    rows = [
        Listing(r["symbol"], r["sector"], float(r["price"]), float(r["beta"]))
        for r in csv.DictReader(text.splitlines())
    ]
    n = len(rows) if n is None else n
    rng = np.random.default_rng(50)
    while len(rows) < n:
        k = len(rows) + 1
        rows.append(
            Listing(
                f"SYN{k:03d}",
                "Synthetic",
                float(np.round(rng.uniform(100, 5000), 1)),
                float(rng.uniform(0.6, 1.4)),
            )
        )
    return rows[:n]


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([abs(k) for k in keys])


def _key(text: str) -> int:
    return zlib.crc32(text.encode())


@dataclass
class DayData:
    day: date
    symbols: list[str]  # stocks then the index (last)
    regime: str
    prev_close: np.ndarray  # (n,)
    o: np.ndarray  # (n, MINUTES) minute bars
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray
    spread: np.ndarray  # (n, MINUTES) in rupees, on the tick grid


class MarketGenerator:
    """The seeded model behind the simulated market, for ``listings`` plus the index (``INDEX``, last).

    Daily closes follow a one-factor model (the market, each stock with its beta, plus its own noise) from a
    fixed epoch, so consecutive days join up; each quantity is drawn from its own generator, so a day's
    data never depends on which date was asked first. Each day has a regime (trending, ranging, volatile)
    that sets the index's move and the intraday noise; opens gap from the previous close; the intraday path
    is a Brownian bridge from the open to the close with U-shaped volatility, sampled four times a minute
    for real highs and lows; volume is high at the open and close; quotes carry a bid/ask spread on the tick
    grid. NIFTY futures and options (``sim/derivatives.py``) are priced from the index's minute path
    (:meth:`full_day`). A date that is not a trading day raises ValueError.
    """

    def __init__(self, listings: list[Listing], calendar: TradingCalendar, seed: int = 7) -> None:
        self.listings = listings
        self.calendar = calendar
        self.seed = seed
        self.symbols = [x.symbol for x in listings] + [INDEX]
        self.base = np.array([x.price for x in listings] + [22000.0])
        self.beta = np.array([x.beta for x in listings] + [1.0])
        self._days: list[date] = []
        self._closes: np.ndarray | None = None
        self._regimes: list[str] = []

    # ------------------------------------------------------------------ daily model
    def _extend(self, until: date) -> None:
        if self._days and self._days[-1] >= until:
            return
        days, d = [], EPOCH
        while d <= until + timedelta(days=400):
            if self.calendar.is_trading_day(d):
                days.append(d)
            d += timedelta(days=1)
        n = len(days)
        # One generator per quantity, so day k's draws never depend on how far the model was extended
        # (the first date asked must not change the market's history).
        u = _rng(self.seed, _key("market-regime")).random(n)
        regimes = np.where(u < 0.35, "trending", np.where(u < 0.85, "ranging", "volatile"))
        sign = np.where(_rng(self.seed, _key("market-sign")).random(n) < 0.5, -1.0, 1.0)
        trend = _rng(self.seed, _key("market-trend")).normal(0.009, 0.003, n)
        ranging = _rng(self.seed, _key("market-range")).normal(0.0003, 0.003, n)
        wild = _rng(self.seed, _key("market-wild")).normal(0, 0.015, n)
        mkt = np.where(
            regimes == "trending", sign * np.abs(trend), np.where(regimes == "ranging", ranging, wild)
        )
        idio = np.stack(
            [_rng(self.seed, _key(s)).normal(0, 0.011, n) for s in self.symbols[:-1]] + [np.zeros(n)]
        )
        rets = self.beta[:, None] * mkt[None, :] + idio
        self._days, self._regimes = days, list(regimes)
        self._closes = self.base[:, None] * np.exp(np.cumsum(rets, axis=1))

    def _index_of(self, d: date) -> int:
        self._extend(d)
        i = int(np.searchsorted(np.array(self._days, dtype="datetime64[D]"), np.datetime64(d)))
        if i >= len(self._days) or self._days[i] != d:
            raise ValueError(f"{d} is not a trading day")
        return i

    # ------------------------------------------------------------------ intraday
    def day(self, d: date) -> DayData:
        return _cached_day(self, d)

    def _make_day(self, d: date) -> DayData:
        i = self._index_of(d)
        assert self._closes is not None
        close = self._closes[:, i]
        prev = self._closes[:, i - 1] if i > 0 else self.base
        regime = self._regimes[i]
        steps = MINUTES * SUB
        t = np.arange(steps) / steps
        profile = 1 + 1.6 * np.exp(-t / 0.06) + 0.8 * np.exp(-(1 - t) / 0.08)
        noise_scale = {"trending": 0.006, "ranging": 0.009, "volatile": 0.018}[regime]
        gaps, incs, vols, spreads = [], [], [], []
        for k, s in enumerate(self.symbols):
            r = _rng(self.seed, _key(s), d.toordinal())
            gap_share = 0.35 if regime != "ranging" else 0.15
            total = np.log(close[k] / prev[k])
            gaps.append(gap_share * total + r.normal(0, 0.002))
            incs.append(r.standard_normal(steps) * profile)
            vols.append(r.lognormal(0, 0.45, MINUTES))
            spreads.append(r.integers(1, 4, MINUTES))
        gap = np.array(gaps)
        o0 = prev * np.exp(gap)
        e = np.array(incs) * (0.8 * noise_scale / np.sqrt(np.sum(profile**2)))
        w = np.cumsum(e, axis=1)
        cv = np.cumsum(profile**2) / np.sum(profile**2)
        bridge = w - cv[None, :] * w[:, -1:]
        logp = np.log(o0)[:, None] + np.log(close / o0)[:, None] * cv[None, :] + bridge
        path = np.concatenate([np.log(o0)[:, None], logp], axis=1)
        px = np.round(np.exp(path) / TICK) * TICK  # (n, steps+1) on the tick grid
        grid = np.lib.stride_tricks.sliding_window_view(px, SUB + 1, axis=1)[:, ::SUB, :]
        o, c = grid[:, :, 0], grid[:, :, -1]
        h, lo = grid.max(axis=2), grid.min(axis=2)
        tm = np.arange(MINUTES) / MINUTES
        vshape = 1 + 2.5 * np.exp(-tm / 0.05) + 1.5 * np.exp(-(1 - tm) / 0.07)
        daily_shares = 2.0e9 / self.base[:, None]
        v = np.floor(daily_shares * vshape / vshape.sum() * np.array(vols) * (1 + 30 * np.abs(c / o - 1)))
        v[-1, :] = 0  # the index has no volume
        half = np.maximum(1, np.round(c * 0.0001 / TICK))  # about 1 bp each side, at least a tick
        spread = (half * np.array(spreads)) * TICK
        spread[:, :5] *= 2  # wider in the first minutes
        return DayData(d, self.symbols, regime, prev, o, h, lo, c, v, spread)

    # ------------------------------------------------------------------ views
    def quote(self, day: DayData, k: int, j: int, ts: datetime) -> Quote:
        """Symbol k after j completed minutes (0 ≤ j ≤ MINUTES)."""
        if j == 0:
            last, vol, hi, lo = day.o[k, 0], 0, day.o[k, 0], day.o[k, 0]
            spr = day.spread[k, 0]
        else:
            last, vol = day.c[k, j - 1], int(day.v[k, :j].sum())
            hi, lo = day.h[k, :j].max(), day.lo[k, :j].min()
            spr = day.spread[k, j - 1]
        ticks = round(spr / TICK)
        bid = round(max(round(last / TICK) - ticks // 2, 1) * TICK, 2)
        ask = round(bid + max(ticks, 1) * TICK, 2)
        return Quote(
            day.symbols[k],
            ts,
            round(float(last), 2),
            bid,
            ask,
            vol,
            round(float(day.o[k, 0]), 2),
            round(float(hi), 2),
            round(float(lo), 2),
            round(float(day.prev_close[k]), 2),
        )

    def index_closes_before(self, d: date, n: int) -> np.ndarray:
        """The index's last n daily closes before d (for the options' realized volatility)."""
        i = self._index_of(d)
        assert self._closes is not None
        return self._closes[-1, max(0, i - n) : i]

    def full_day(self, d: date) -> DayData:
        """The day with the NIFTY futures and options listed on it appended after the index."""
        return _cached_full_day(self, d)

    def _make_full_day(self, d: date) -> DayData:
        base = self.day(d)
        k = len(base.symbols) - 1
        prev_day = self.calendar.previous_trading_day(d)
        der = derive(
            d,
            (base.o[k], base.h[k], base.lo[k], base.c[k]),
            float(base.prev_close[k]),
            prev_day,
            self.index_closes_before(d, 21),
            self.calendar,
            self.seed,
        )
        return DayData(
            d,
            base.symbols + [c.symbol for c in der.contracts],
            base.regime,
            np.concatenate([base.prev_close, der.prev_close]),
            *(
                np.concatenate([getattr(base, f), getattr(der, f)])
                for f in ("o", "h", "lo", "c", "v", "spread")
            ),
        )

    def derivatives(self, d: date) -> list[Contract]:
        base = self.day(d)
        return contracts(d, float(base.prev_close[-1]), self.calendar)

    def daily_bar(self, d: date, symbol: str) -> DailyBar:
        day = self.day(d)
        if symbol not in day.symbols:
            day = self.full_day(d)
        k = day.symbols.index(symbol)
        return DailyBar(
            d,
            float(day.o[k, 0]),
            float(day.h[k].max()),
            float(day.lo[k].min()),
            float(day.c[k, -1]),
            int(day.v[k].sum()),
        )


@lru_cache(maxsize=4)
def _cached_full_day(gen: MarketGenerator, d: date) -> DayData:
    return gen._make_full_day(d)


@lru_cache(maxsize=16)
def _cached_day(gen: MarketGenerator, d: date) -> DayData:
    return gen._make_day(d)


def completed_minutes(ts: datetime) -> int:
    """Minutes of the session completed at ts (0 before 09:15, 375 from 15:30)."""
    local = ts.astimezone(IST)
    j = (local.hour * 60 + local.minute) - (9 * 60 + 15)
    return max(0, min(MINUTES, j))


class GeneratedMarketData:
    """The MarketData port over the generator, reading time from the clock."""

    def __init__(self, gen: MarketGenerator, clock: Clock) -> None:
        self.gen = gen
        self.clock = clock
        self.calls = 0

    def instruments(self, asset: Asset) -> list[Instrument]:
        """Stocks: the universe (NSE). Futures and options: the NIFTY contracts listed today (NFO, lot 65)
        — on a closed day, those of the next trading day, as the next morning's dump would show."""
        if asset is Asset.STOCKS:
            return [
                Instrument(
                    x.symbol,
                    "NSE",
                    Asset.STOCKS,
                    token=_key(x.symbol) % 10_000_000,
                    lot_size=1,
                    tick_size=Decimal("0.05"),
                    sector=x.sector,
                )
                for x in self.gen.listings
            ]
        d = self.clock.now().astimezone(IST).date()
        while not self.gen.calendar.is_trading_day(d):
            d += timedelta(days=1)
        return [
            Instrument(
                c.symbol,
                "NFO",
                asset,
                token=_key(c.symbol) % 10_000_000,
                lot_size=LOT_SIZE,
                tick_size=Decimal("0.05"),
                sector="Index",
                segment=c.segment,
                expiry=c.expiry,
                strike=c.strike or None,
                option_type=c.kind,
                underlying=INDEX,
            )
            for c in self.gen.derivatives(d)
            if (c.kind == "FUT") == (asset is Asset.FUTURES)
        ]

    def _day_for(self, d: date, symbols: list[str]) -> DayData:
        base = self.gen.day(d)
        if all(s in base.symbols for s in symbols):
            return base
        return self.gen.full_day(d)

    def snapshot(self, symbols: list[str]) -> Snapshot:
        """The symbols' quotes at the clock's minute mark: the quote at 09:15+j reflects the market after j
        completed minutes (at 09:15 the opening price and no volume; from 15:30 the close). Derivatives are
        quoted like any symbol; unknown symbols are left out."""
        self.calls += 1
        now = self.clock.now()
        day = self._day_for(now.date(), symbols)
        j = completed_minutes(now)
        ts = ist(now.date(), time(9, 15)) + timedelta(minutes=j)
        pos = {s: k for k, s in enumerate(day.symbols)}
        return Snapshot(ts, {s: self.gen.quote(day, pos[s], j, ts) for s in symbols if s in pos})

    def minute_bars(self, symbol: str, since: datetime) -> list[Candle]:
        """The completed 1-minute candles of since's day that start at or after ``since``, up to the clock's
        now (a past day in full, a future day none) — what Kite's historical candles would show. Unknown
        symbols raise KeyError naming the symbol."""
        now = self.clock.now().astimezone(IST)
        since = since.astimezone(IST)
        day = since.date()
        if day > now.date():
            return []
        data = self._day_for(day, [symbol])
        if symbol not in data.symbols:
            raise KeyError(f"unknown symbol {symbol!r}")
        k = data.symbols.index(symbol)
        j = MINUTES if day < now.date() else completed_minutes(now)
        start = ist(day, time(9, 15))
        first = max(0, -(-int((since - start).total_seconds()) // 60))  # the first minute starting ≥ since
        return [
            Candle(
                start + timedelta(minutes=m),
                round(float(data.o[k, m]), 2),
                round(float(data.h[k, m]), 2),
                round(float(data.lo[k, m]), 2),
                round(float(data.c[k, m]), 2),
                int(data.v[k, m]),
            )
            for m in range(first, j)
        ]

    def daily_history(self, symbol: str, before: date, days: int) -> list[DailyBar]:
        return [self.gen.daily_bar(d, symbol) for d in self.gen.calendar.trading_days_before(before, days)]

    def preflight(self) -> str | None:
        return None  # generated data needs no session
