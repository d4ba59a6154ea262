"""NSE index derivative expiry dates, from effective-dated rules.

Rules modelled (from 2024-11-20, when SEBI's one-weekly-index-per-exchange rule took effect; earlier dates
raise ValueError rather than guess):

- the expiry weekday is Thursday before 2025-09-01 and Tuesday from 2025-09-01 (a change is a new row in
  ``WEEKDAY_RULES``); the rule in force on the scheduled date decides;
- NIFTY has weekly and monthly options; BANKNIFTY, FINNIFTY and MIDCPNIFTY are monthly only;
- the monthly expiry (options and futures) is the last expiry weekday of the month;
- a scheduled expiry that is not a trading day moves to the previous trading day.

The trading calendar is passed in; nothing here reads a clock.
"""

from __future__ import annotations

import calendar as _cal
from datetime import date, timedelta
from typing import Literal

from tron.domain.calendar import TradingCalendar

Kind = Literal["weekly", "monthly", "all"]
KINDS: tuple[str, ...] = ("weekly", "monthly", "all")

RULES_START = date(2024, 11, 20)

# (effective from, expiry weekday with Monday = 0), oldest first.
WEEKDAY_RULES: tuple[tuple[date, int], ...] = (
    (RULES_START, 3),  # Thursday
    (date(2025, 9, 1), 1),  # Tuesday
)

# underlying → (has weekly options, has monthly options/futures), valid from RULES_START.
UNDERLYINGS: dict[str, tuple[bool, bool]] = {
    "NIFTY": (True, True),
    "BANKNIFTY": (False, True),
    "FINNIFTY": (False, True),
    "MIDCPNIFTY": (False, True),
}


def expiry_weekday(on: date) -> int:
    """The expiry weekday (Monday = 0) under the rule in force on a date."""
    if on < RULES_START:
        raise ValueError(f"no expiry rules before {RULES_START.isoformat()} (asked for {on.isoformat()})")
    weekday = WEEKDAY_RULES[0][1]
    for start, wd in WEEKDAY_RULES:
        if start <= on:
            weekday = wd
    return weekday


def _check_underlying(underlying: str) -> tuple[bool, bool]:
    if underlying not in UNDERLYINGS:
        raise ValueError(f"unknown underlying {underlying!r}; allowed: {', '.join(UNDERLYINGS)}")
    return UNDERLYINGS[underlying]


def _adjust(scheduled: date, calendar: TradingCalendar) -> date:
    """Move a scheduled expiry that falls on a closed day to the previous trading day."""
    if calendar.is_trading_day(scheduled):
        return scheduled
    return calendar.previous_trading_day(scheduled)


def _scheduled_monthly(year: int, month: int) -> date:
    """The last expiry weekday of a month (before any holiday adjustment)."""
    d = date(year, month, _cal.monthrange(year, month)[1])
    while d.weekday() != expiry_weekday(d):
        d -= timedelta(days=1)
    return d


def monthly_expiry(underlying: str, year: int, month: int, calendar: TradingCalendar) -> date:
    """The month's monthly (and futures) expiry, after holiday adjustment."""
    _check_underlying(underlying)
    return _adjust(_scheduled_monthly(year, month), calendar)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def expiries(
    underlying: str, start: date, end: date, kind: Kind | str, calendar: TradingCalendar
) -> list[date]:
    """Expiry dates of an underlying's contracts falling in [start, end] (adjusted dates), oldest first.

    ``kind="weekly"`` means the weekly contracts only (every expiry weekday that is not the month's last),
    ``"monthly"`` the monthly ones, ``"all"`` the union. ValueError for an unknown underlying or kind, a
    start before the rules, an end before the start, or weekly contracts of a monthly-only underlying.
    """
    has_weekly, has_monthly = _check_underlying(underlying)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(KINDS)}")
    if start < RULES_START:
        raise ValueError(f"no expiry rules before {RULES_START.isoformat()} (start {start.isoformat()})")
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    if kind == "weekly" and not has_weekly:
        raise ValueError(f"{underlying} has no weekly options (monthly only since {RULES_START.isoformat()})")

    # Scheduled monthly dates of every month that could land in range (adjustment only moves dates earlier).
    monthly_scheduled: set[date] = set()
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        monthly_scheduled.add(_scheduled_monthly(y, m))
        y, m = _next_month(y, m)

    out: set[date] = set()
    if kind in ("monthly", "all") and has_monthly:
        out.update(monthly_scheduled)
    if kind in ("weekly", "all") and has_weekly:
        # Scan a week past `end`: a scheduled date after `end` can move back into range.
        d = start
        while d <= end + timedelta(days=7):
            if d.weekday() == expiry_weekday(d) and d != _scheduled_monthly(d.year, d.month):
                out.add(d)
            d += timedelta(days=1)
    adjusted = {_adjust(d, calendar) for d in out}
    return sorted(d for d in adjusted if start <= d <= end)


def futures_contract(underlying: str, on: date, roll_days: int, calendar: TradingCalendar) -> date:
    """Expiry of the futures contract to trade on a date.

    The current contract is the first monthly expiry on or after ``on``. It is rolled to the next month's
    when the expiry is among the next ``roll_days`` trading days counting ``on`` itself (when ``on`` is a
    trading day): ``roll_days=0`` never rolls early, ``1`` rolls on expiry day, ``2`` also the day before.
    """
    _check_underlying(underlying)
    if on < RULES_START:
        raise ValueError(f"no expiry rules before {RULES_START.isoformat()} (asked for {on.isoformat()})")
    if roll_days < 0:
        raise ValueError(f"roll_days must be >= 0, got {roll_days}")
    y, m = on.year, on.month
    current = monthly_expiry(underlying, y, m, calendar)
    if current < on:
        y, m = _next_month(y, m)
        current = monthly_expiry(underlying, y, m, calendar)
    left = sum(1 for i in range((current - on).days + 1) if calendar.is_trading_day(on + timedelta(days=i)))
    if left <= roll_days:
        y, m = _next_month(y, m)
        return monthly_expiry(underlying, y, m, calendar)
    return current
