from __future__ import annotations

from datetime import date, timedelta

import pandas_market_calendars as pmc
import pytest

from tron.domain.calendar import TradingCalendar
from tron.domain.expiries import expiries, futures_contract


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    start, end = date(2024, 10, 1), date(2027, 3, 31)
    open_days = set(pmc.get_calendar("NSE").schedule(start.isoformat(), end.isoformat()).index.date)
    holidays, d = set(), start
    while d <= end:
        if d.weekday() < 5 and d not in open_days:
            holidays.add(d)
        d += timedelta(days=1)
    return TradingCalendar(frozenset(holidays), frozenset(x for x in open_days if x.weekday() >= 5))


NIFTY_MONTHLY_2026 = [
    date(2026, 1, 27),
    date(2026, 2, 24),
    date(2026, 3, 30),  # Tue 31 Mar is a holiday → Mon 30 Mar
    date(2026, 4, 28),
    date(2026, 5, 26),
    date(2026, 6, 30),
    date(2026, 7, 28),
    date(2026, 8, 25),
    date(2026, 9, 29),
    date(2026, 10, 27),
    date(2026, 11, 23),  # Tue 24 Nov is a holiday → Mon 23 Nov
    date(2026, 12, 29),
]


def test_calendar_has_2026_holidays(cal):
    for d in (date(2026, 3, 3), date(2026, 3, 31), date(2026, 4, 14), date(2026, 11, 24)):
        assert not cal.is_trading_day(d)


def test_nifty_monthly_2026(cal):
    assert expiries("NIFTY", date(2026, 1, 1), date(2026, 12, 31), "monthly", cal) == NIFTY_MONTHLY_2026


def test_banknifty_monthly_2026_same_as_nifty(cal):
    for u in ("BANKNIFTY", "FINNIFTY", "MIDCPNIFTY"):
        assert expiries(u, date(2026, 1, 1), date(2026, 12, 31), "monthly", cal) == NIFTY_MONTHLY_2026
        assert expiries(u, date(2026, 1, 1), date(2026, 12, 31), "all", cal) == NIFTY_MONTHLY_2026


def test_banknifty_has_no_weeklies(cal):
    with pytest.raises(ValueError, match="weekly"):
        expiries("BANKNIFTY", date(2026, 1, 1), date(2026, 12, 31), "weekly", cal)


def test_nifty_weekly_2026_march_and_april(cal):
    got = expiries("NIFTY", date(2026, 3, 1), date(2026, 4, 30), "weekly", cal)
    assert got == [
        date(2026, 3, 2),  # Tue 3 Mar holiday → Mon 2 Mar
        date(2026, 3, 10),
        date(2026, 3, 17),
        date(2026, 3, 24),
        date(2026, 4, 7),
        date(2026, 4, 13),  # Tue 14 Apr holiday → Mon 13 Apr
        date(2026, 4, 21),
    ]


def test_nifty_all_2026_counts_and_holiday_moves(cal):
    got = expiries("NIFTY", date(2026, 1, 1), date(2026, 12, 31), "all", cal)
    assert len(got) == 52  # one per week (52 Tuesdays in 2026)
    assert set(NIFTY_MONTHLY_2026) <= set(got)
    for moved in (date(2026, 10, 19), date(2026, 11, 9), date(2026, 11, 23)):
        assert moved in got
    assert all(cal.is_trading_day(d) for d in got)
    assert all(
        d.weekday() == 1
        for d in got
        if d
        not in {
            date(2026, 3, 2),
            date(2026, 3, 30),
            date(2026, 4, 13),
            date(2026, 10, 19),
            date(2026, 11, 9),
            date(2026, 11, 23),
        }
    )


def test_range_filters_on_adjusted_date(cal):
    # Scheduled Tue 31 Mar moves to Mon 30 Mar: inside a range ending on the 30th, outside one from the 31st.
    assert expiries("NIFTY", date(2026, 3, 30), date(2026, 3, 30), "monthly", cal) == [date(2026, 3, 30)]
    assert expiries("NIFTY", date(2026, 3, 31), date(2026, 4, 6), "all", cal) == []


def test_thursday_rule_mid_2025(cal):
    got = expiries("NIFTY", date(2025, 4, 1), date(2025, 9, 10), "all", cal)
    assert got[:5] == [
        date(2025, 4, 3),
        date(2025, 4, 9),  # Thu 10 Apr 2025 holiday → Wed 9 Apr
        date(2025, 4, 17),
        date(2025, 4, 24),
        date(2025, 4, 30),  # Thu 1 May 2025 holiday → Wed 30 Apr
    ]
    assert expiries("NIFTY", date(2025, 6, 1), date(2025, 8, 31), "monthly", cal) == [
        date(2025, 6, 26),
        date(2025, 7, 31),
        date(2025, 8, 28),
    ]
    # The switch to Tuesday on 2025-09-01.
    assert got[-3:] == [date(2025, 8, 28), date(2025, 9, 2), date(2025, 9, 9)]
    assert expiries("BANKNIFTY", date(2025, 9, 1), date(2025, 9, 30), "monthly", cal) == [date(2025, 9, 30)]


def test_before_rules_raises(cal):
    with pytest.raises(ValueError, match="2024-11-20"):
        expiries("NIFTY", date(2024, 11, 1), date(2024, 12, 31), "all", cal)
    with pytest.raises(ValueError):
        futures_contract("NIFTY", date(2024, 1, 10), 0, cal)


def test_bad_inputs(cal):
    with pytest.raises(ValueError, match="underlying"):
        expiries("SENSEX", date(2026, 1, 1), date(2026, 2, 1), "all", cal)
    with pytest.raises(ValueError, match="kind"):
        expiries("NIFTY", date(2026, 1, 1), date(2026, 2, 1), "daily", cal)
    with pytest.raises(ValueError, match="before start"):
        expiries("NIFTY", date(2026, 2, 1), date(2026, 1, 1), "all", cal)


@pytest.mark.parametrize(
    ("on", "roll", "want"),
    [
        (date(2026, 3, 20), 0, date(2026, 3, 30)),
        (date(2026, 3, 30), 0, date(2026, 3, 30)),  # expiry day, never roll early
        (date(2026, 3, 30), 1, date(2026, 4, 28)),  # roll on expiry day
        (date(2026, 3, 27), 1, date(2026, 3, 30)),
        (date(2026, 3, 27), 2, date(2026, 4, 28)),  # Fri 27 and Mon 30 are the last 2 trading days
        (date(2026, 3, 28), 1, date(2026, 4, 28)),  # Saturday: the next trading day is expiry day
        (date(2026, 3, 28), 0, date(2026, 3, 30)),
        (date(2026, 3, 31), 0, date(2026, 4, 28)),  # after this month's expiry
        (date(2026, 12, 29), 1, date(2027, 1, 26)),  # year wrap
    ],
)
def test_futures_contract(cal, on, roll, want):
    assert futures_contract("NIFTY", on, roll, cal) == want
