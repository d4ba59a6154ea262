"""The NSE trading calendar as data: holidays and announced special sessions.

Built by an adapter from a maintained calendar library (so the domain stays pure); the domain only asks it
questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class TradingCalendar:
    """Which days NSE trades: weekdays that are not holidays, plus announced special sessions."""

    holidays: frozenset[date]
    special_sessions: frozenset[date] = field(default_factory=frozenset)  # e.g. a Sunday budget day

    def is_trading_day(self, d: date) -> bool:
        """True for a special session, or a weekday that is not a holiday."""
        if d in self.special_sessions:
            return True
        return d.weekday() < 5 and d not in self.holidays

    def why_closed(self, d: date) -> str | None:
        """None on a trading day, else "NSE holiday" or "weekend"."""
        if self.is_trading_day(d):
            return None
        return "NSE holiday" if d in self.holidays else "weekend"

    def previous_trading_day(self, d: date) -> date:
        """The last trading day strictly before ``d``."""
        p = d - timedelta(days=1)
        while not self.is_trading_day(p):
            p -= timedelta(days=1)
        return p

    def trading_days_before(self, d: date, n: int) -> list[date]:
        """The n trading days before d, oldest first."""
        out: list[date] = []
        p = d
        while len(out) < n:
            p = self.previous_trading_day(p)
            out.append(p)
        return out[::-1]
