"""The market as the simulated exchange sees it: the generator's prices and books, the day's instruments,
and which session minute the clock is at."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from tron.domain.calendar import TradingCalendar
from tron.domain.timeutil import IST, ist
from tron.ports import Clock
from tron.sim.kite.catalog import Catalog, Listed
from tron.sim.kite.engine import Liquidity
from tron.sim.kite.market_view import MarketView
from tron.sim.market import GeneratedMarketData


class Venue:
    """The seeded market, its calendar and the clock, read-only for everyone else. The instruments dump is
    built once per calendar day (derivatives list and expire)."""

    def __init__(self, market: GeneratedMarketData, clock: Clock, liquidity: Liquidity) -> None:
        self.market = market
        self.clock = clock
        self.view = MarketView(market, liquidity)
        self.calendar: TradingCalendar = self.view.calendar
        self._catalogs: dict[date, Catalog] = {}

    def catalog(self) -> Catalog:
        """Today's (by the clock's IST date) instruments."""
        d = self.clock.now().astimezone(IST).date()
        cat = self._catalogs.get(d)
        if cat is None:
            cat = Catalog.from_market(self.market, self.calendar)
            self._catalogs = {d: cat}
        return cat

    def instrument(self, exchange: str, tradingsymbol: str) -> Listed:
        """A listed instrument by exchange and symbol; KeyError if today's dump does not have it."""
        return self.catalog().by_key[f"{exchange}:{tradingsymbol}"]

    def now_minute(self) -> tuple[date, int]:
        """(the trading day whose prices show now, minutes of its session completed)."""
        return self.view.session(self.clock.now())

    def minute_ts(self, d: date, minute: int) -> datetime:
        """The exchange time of a minute's events: the wall clock when it is now, else the minute mark."""
        now = self.clock.now().astimezone(IST)
        mark = ist(d, time(9, 15)) + timedelta(minutes=minute)
        return now if now.date() == d and now >= mark and now - mark < timedelta(minutes=1) else mark
