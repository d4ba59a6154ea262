"""The simulated market's minute candles and its NIFTY futures and options (tron.sim.market)."""

from __future__ import annotations

import itertools
import math
from datetime import date, time, timedelta
from decimal import Decimal

import pytest

from tron.adapters.calendar import nse_calendar
from tron.adapters.clock import VirtualClock
from tron.domain.models import Asset
from tron.domain.timeutil import IST, ist
from tron.sim.market import INDEX, GeneratedMarketData, MarketGenerator, nifty50

DAY = date(2026, 11, 23)


def market(
    at: time = time(10, 0), day: date = DAY, seed: int = 7
) -> tuple[GeneratedMarketData, VirtualClock]:
    clock = VirtualClock(ist(day, at))
    return GeneratedMarketData(MarketGenerator(nifty50(5), nse_calendar(), seed=seed), clock), clock


def test_minute_bars_up_to_now_agree_with_the_snapshot() -> None:
    md, _ = market(time(10, 0))
    sym = nifty50(5)[0].symbol
    bars = md.minute_bars(sym, ist(DAY, time(9, 15)))
    assert len(bars) == 45
    assert bars[0].start == ist(DAY, time(9, 15)) and bars[0].start.tzinfo is not None
    assert bars[-1].start == ist(DAY, time(9, 59))
    assert all(b.start.utcoffset() == timedelta(hours=5, minutes=30) for b in bars)
    q = md.snapshot([sym]).quotes[sym]
    assert q.last == bars[-1].close
    assert q.volume == sum(b.volume for b in bars)
    assert q.high == max(b.high for b in bars) and q.low == min(b.low for b in bars)
    for b in bars:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high and b.volume >= 0


def test_minute_bars_since_a_time_start_at_the_next_minute_mark() -> None:
    md, _ = market(time(10, 0))
    sym = nifty50(5)[0].symbol
    assert [b.start for b in md.minute_bars(sym, ist(DAY, time(9, 57)))] == [
        ist(DAY, time(9, 57)), ist(DAY, time(9, 58)), ist(DAY, time(9, 59))
    ]  # fmt: skip
    later = md.minute_bars(sym, ist(DAY, time(9, 57)) + timedelta(seconds=1))
    assert [b.start.time() for b in later] == [time(9, 58), time(9, 59)]
    assert md.minute_bars(sym, ist(DAY, time(10, 0))) == []  # the 10:00 minute has not completed


def test_minute_bars_of_the_index_past_and_future_days() -> None:
    md, clock = market(time(9, 15))
    assert md.minute_bars(INDEX, ist(DAY, time(9, 15))) == []
    past = md.minute_bars(INDEX, ist(date(2026, 11, 20), time(9, 0)))
    assert len(past) == 375 and all(b.volume == 0 for b in past)
    assert md.minute_bars(INDEX, ist(date(2026, 11, 24), time(9, 15))) == []
    clock.set(ist(DAY, time(16, 0)))
    assert len(md.minute_bars(INDEX, ist(DAY, time(9, 15)))) == 375
    assert md.minute_bars(INDEX, ist(DAY, time(9, 15)))[-1].start.astimezone(IST).time() == time(15, 29)


def test_minute_bars_unknown_symbol_is_a_clear_error() -> None:
    md, _ = market()
    with pytest.raises(KeyError, match="NOPE"):
        md.minute_bars("NOPE", ist(DAY, time(9, 15)))


# ---------------------------------------------------------------------------------------------- derivatives
def test_futures_are_the_current_and_next_month_on_nfo() -> None:
    md, _ = market()
    fut = md.instruments(Asset.FUTURES)
    # 2026-11-24 (the last Tuesday) is a holiday: the November contract expires on Monday the 23rd.
    assert [i.symbol for i in fut] == ["NIFTY26NOVFUT", "NIFTY26DECFUT"]
    assert [i.expiry for i in fut] == [date(2026, 11, 23), date(2026, 12, 29)]
    for i in fut:
        assert (i.exchange, i.lot_size, i.tick_size, i.segment, i.option_type) == (
            "NFO",
            65,
            Decimal("0.05"),
            "futures",
            "FUT",
        )


def test_options_are_two_expiries_of_strikes_every_50_with_kite_symbols() -> None:
    md, _ = market()
    opts = md.instruments(Asset.OPTIONS)
    assert len(opts) == 2 * 21 * 2
    assert {i.expiry for i in opts} == {date(2026, 11, 23), date(2026, 12, 1)}
    assert all(i.segment == "options" and i.lot_size == 65 and i.exchange == "NFO" for i in opts)
    strikes = sorted({i.strike for i in opts if i.strike})
    assert all(b - a == 50 for a, b in itertools.pairwise(strikes))
    monthly = [i for i in opts if i.expiry == date(2026, 11, 23)]
    weekly = [i for i in opts if i.expiry == date(2026, 12, 1)]
    assert monthly[0].symbol == f"NIFTY26NOV{monthly[0].strike:.0f}{monthly[0].option_type}"
    assert weekly[0].symbol == f"NIFTY26D01{weekly[0].strike:.0f}{weekly[0].option_type}"


def test_quotes_on_the_tick_with_a_spread_priced_from_the_index() -> None:
    md, _ = market(time(11, 0))
    syms = [i.symbol for i in md.instruments(Asset.FUTURES) + md.instruments(Asset.OPTIONS)]
    snap = md.snapshot([*syms, INDEX])
    spot = snap.quotes[INDEX].last
    for s in syms:
        q = snap.quotes[s]
        for p in (q.last, q.bid, q.ask, q.open, q.high, q.low):
            assert abs(p / 0.05 - round(p / 0.05)) < 1e-6 and p >= 0.05
        assert q.bid < q.ask and q.low <= q.last <= q.high
        assert q.volume % 65 == 0
    dec = snap.quotes["NIFTY26DECFUT"].last
    carry = spot * math.exp(0.065 * 36.2 / 365)
    assert abs(dec - carry) < 0.002 * spot
    # put-call parity on the listed strikes, within the ticks and spreads
    opts = md.instruments(Asset.OPTIONS)
    k = min({i.strike for i in opts if i.strike}, key=lambda x: abs(x - spot))
    ce = next(i for i in opts if i.strike == k and i.option_type == "CE" and i.expiry == date(2026, 12, 1))
    pe = next(i for i in opts if i.strike == k and i.option_type == "PE" and i.expiry == date(2026, 12, 1))
    days = (ist(date(2026, 12, 1), time(15, 30)) - ist(DAY, time(11, 0))).total_seconds() / 86400
    parity = spot - k * math.exp(-0.065 * days / 365)
    assert snap.quotes[ce.symbol].last - snap.quotes[pe.symbol].last == pytest.approx(parity, abs=3)


def test_derivative_minute_bars_and_determinism_by_seed() -> None:
    md, _ = market(time(10, 0))
    sym = md.instruments(Asset.OPTIONS)[20].symbol
    opening = ist(DAY, time(9, 15))
    bars = md.minute_bars(sym, opening)
    assert len(bars) == 45 and all(
        b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars
    )
    again, _ = market(time(10, 0))
    assert again.minute_bars(sym, opening) == bars
    other, _ = market(time(10, 0), seed=8)
    assert other.minute_bars(INDEX, opening) != md.minute_bars(INDEX, opening)


def test_closed_day_lists_the_next_sessions_contracts() -> None:
    md, _ = market(time(9, 0), day=date(2026, 11, 22))  # a Sunday
    assert md.instruments(Asset.FUTURES)[0].symbol == "NIFTY26NOVFUT"


def test_the_history_does_not_depend_on_the_first_date_asked() -> None:
    early = MarketGenerator(nifty50(3), nse_calendar(), seed=7)
    early.day(date(2024, 3, 1))
    late = MarketGenerator(nifty50(3), nse_calendar(), seed=7)
    late.day(date(2027, 6, 1))
    for d in (date(2025, 5, 5), date(2026, 11, 23)):
        assert early.daily_bar(d, INDEX) == late.daily_bar(d, INDEX)
