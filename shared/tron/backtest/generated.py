"""Simulated trading days for the backtester, read exactly as an asset's tick reads a paper day.

The seeded generated market (tron.sim.market: ``MarketGenerator`` and ``GeneratedMarketData``, the
MarketData port run-day's paper days read) comes in as that port with the clock it reads, since the
backtester sits below the simulator in the layers (the command line puts them together: tron.cli.backtest).
For each trading day of a range (:func:`trading_days`), a :class:`Session` holds:

* the instruments the asset's first tick of the day picks, as tron.services.tick.tradable picks them
  (:func:`tradable`): stocks, the universe; futures, the NIFTY future of the roll rule and the index;
  options, that future, the index and the option chain — for a multi-leg structure the chains of the two
  nearest usable expiries (and the monthly one if a leg asks for it), else the one expiry of the contract
  rules — each with its lot size (65), expiry, strike, option type, segment, exchange NFO and tick ₹0.05;
* one snapshot of them a minute at the ticks' times (tron/data/jobs.yaml: 09:15 to 15:29), each what
  ``market.snapshot`` answers with the clock set to that minute, and the tick's clock time;
* the minute candles resting stops are worked against (``market.minute_bars``, what the paper broker reads),
  read for a symbol when the backtester first asks for them (only the traded legs are).

Sessions are built one at a time as they are iterated (a day of the options chain is about 33,000 quotes), so
a long range never sits in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Protocol

from tron.backtest.data import Session
from tron.domain.calendar import TradingCalendar
from tron.domain.contracts import ContractRules, select_future
from tron.domain.models import Asset, Candle, Instrument
from tron.domain.plan import AssetPlan
from tron.domain.structures import options_chain
from tron.domain.timeutil import ist
from tron.ports import MarketData

INDEX_SYMBOL = "NIFTY 50"  # tron.services.deps.Config.index_symbol
FIRST_TICK = time(9, 15)  # tick-*-open in tron/data/jobs.yaml
TICKS = 375  # 09:15 … 15:29 (tick-*-close runs to minute 29)
CLOSE = time(15, 30)
MINUTE = timedelta(minutes=1)


class SettableClock(Protocol):
    """The clock the market data reads, moved to each minute (tron.adapters.clock.VirtualClock)."""

    def now(self) -> datetime: ...

    def set(self, when: datetime) -> None: ...


def trading_days(calendar: TradingCalendar, start: date, end: date) -> list[date]:
    """The trading days from ``start`` to ``end``, both included; ValueError when start is after end."""
    if start > end:
        raise ValueError(f"the range starts ({start}) after it ends ({end})")
    out, d = [], start
    while d <= end:
        if calendar.is_trading_day(d):
            out.append(d)
        d += timedelta(days=1)
    return out


def tradable(
    market: MarketData, plan: AssetPlan, day: date, calendar: TradingCalendar, index: str = INDEX_SYMBOL
) -> tuple[list[Instrument], dict[str, str]]:
    """The instruments the asset's tick follows on ``day`` and the roles of those it does not trade, as
    tron.services.tick.tradable picks them (and as the tick's state stores them: the asset's own, without
    the token). ValueError when no contract is listed for the day."""
    asset = plan.asset
    if asset is Asset.STOCKS:
        return market.instruments(asset), {}
    rules = ContractRules.from_doc(plan.contract)
    future = select_future(market.instruments(Asset.FUTURES), day, rules.roll_days, calendar)
    spot = Instrument(index, "NSE", asset, segment="index", sector="Index")  # followed, never traded
    if asset is Asset.FUTURES:
        return [_as(future, asset), spot], {"spot": index}
    chain = options_chain(
        market.instruments(Asset.OPTIONS), day, rules.skip_expiry_day, plan.structure_spec()
    )
    return [_as(future, asset), spot, *(_as(i, asset) for i in chain)], {
        "underlying": future.symbol,
        "spot": index,
    }


def _as(inst: Instrument, asset: Asset) -> Instrument:
    return replace(inst, asset=asset, token=0)


class GeneratedSessions:
    """The sessions of the trading days from ``start`` to ``end`` for ``plan``'s asset, built as they are
    iterated (``len()`` is the number of trading days). ``market`` must read ``clock``, which each session
    moves through its day. ValueError when start is after end."""

    def __init__(
        self,
        market: MarketData,
        clock: SettableClock,
        calendar: TradingCalendar,
        plan: AssetPlan,
        start: date,
        end: date,
        index: str = INDEX_SYMBOL,
    ) -> None:
        self.market, self.clock, self.calendar, self.plan, self.index = market, clock, calendar, plan, index
        self.days = trading_days(calendar, start, end)

    def __len__(self) -> int:
        return len(self.days)

    def __iter__(self) -> Iterator[Session]:
        for d in self.days:
            yield self.session(d)

    def session(self, day: date) -> Session:
        """One day: the instruments of its first tick, a snapshot at each tick's minute, candles on demand."""
        first = ist(day, FIRST_TICK)
        self.clock.set(first)
        instruments, roles = tradable(self.market, self.plan, day, self.calendar, self.index)
        symbols = [i.symbol for i in instruments]
        snapshots, nows = [], []
        for m in range(TICKS):
            now = first + m * MINUTE
            self.clock.set(now)
            snapshots.append(self.market.snapshot(symbols))
            nows.append(now)
        candles = DayCandles(self.market, self.clock, day, symbols)
        return Session(
            day,
            snapshots,
            nows,
            symbols=symbols,
            candles=candles,
            instruments={i.symbol: i for i in instruments},
            roles=roles,
        )


class DayCandles(Mapping[str, list[Candle]]):
    """A day's completed minute candles per symbol, read from the market data (with the clock after the
    close) the first time a symbol is asked for."""

    def __init__(self, market: MarketData, clock: SettableClock, day: date, symbols: list[str]) -> None:
        self.market, self.clock, self.day = market, clock, day
        self.symbols = list(symbols)
        self._known = set(symbols)
        self._read: dict[str, list[Candle]] = {}

    def __getitem__(self, symbol: str) -> list[Candle]:
        if symbol not in self._known:
            raise KeyError(symbol)
        if symbol not in self._read:
            self.clock.set(ist(self.day, CLOSE))
            self._read[symbol] = self.market.minute_bars(symbol, ist(self.day, FIRST_TICK))
        return self._read[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self.symbols)

    def __len__(self) -> int:
        return len(self.symbols)
