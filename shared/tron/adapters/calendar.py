"""The NSE calendar from pandas_market_calendars (a maintained holiday list), plus the special sessions the
exchange announces (kept in data/special_sessions.txt)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from importlib import resources

from tron.domain.calendar import TradingCalendar


@lru_cache(maxsize=1)
def nse_calendar(first_year: int = 2024, last_year: int = 2027) -> TradingCalendar:
    """The NSE calendar for the years given: holidays = weekdays pandas_market_calendars does not list as
    sessions; special sessions from tron/data/special_sessions.txt. Computed once per process."""
    import pandas as pd
    import pandas_market_calendars as mcal

    cal = mcal.get_calendar("NSE")
    sessions = {ts.date() for ts in cal.valid_days(f"{first_year}-01-01", f"{last_year}-12-31", tz=None)}
    weekdays = {ts.date() for ts in pd.bdate_range(f"{first_year}-01-01", f"{last_year}-12-31")}
    special = {
        date.fromisoformat(line.split("#")[0].strip())
        for line in resources.files("tron.data").joinpath("special_sessions.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    }
    return TradingCalendar(holidays=frozenset(weekdays - sessions), special_sessions=frozenset(special))
