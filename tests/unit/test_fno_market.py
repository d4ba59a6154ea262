"""The simulated market's minute candles and its NIFTY futures and options (sim/market.py, sim/derivatives.py)."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from tron.adapters.calendar import nse_calendar
from tron.adapters.clock import VirtualClock
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
    bars = md.minute_bars(sym, DAY)
    assert len(bars) == 45
    assert bars[0][0] == ist(DAY, time(9, 15)) and bars[0][0].tzinfo is not None
    assert bars[-1][0] == ist(DAY, time(9, 59))
    assert all(b[0].utcoffset() == timedelta(hours=5, minutes=30) for b in bars)
    q = md.snapshot([sym]).quotes[sym]
    assert q.last == bars[-1][4]
    assert q.volume == sum(b[5] for b in bars)
    assert q.high == max(b[2] for b in bars) and q.low == min(b[3] for b in bars)
    for _, o, h, lo, c, v in bars:
        assert lo <= min(o, c) <= max(o, c) <= h and v >= 0


def test_minute_bars_of_the_index_past_and_future_days() -> None:
    md, clock = market(time(9, 15))
    assert md.minute_bars(INDEX, DAY) == []
    assert len(md.minute_bars(INDEX, date(2026, 11, 20))) == 375
    assert md.minute_bars(INDEX, date(2026, 11, 24)) == []
    assert all(b[5] == 0 for b in md.minute_bars(INDEX, date(2026, 11, 20)))
    clock.set(ist(DAY, time(16, 0)))
    assert len(md.minute_bars(INDEX, DAY)) == 375
    assert md.minute_bars(INDEX, DAY)[-1][0].astimezone(IST).time() == time(15, 29)


def test_minute_bars_unknown_symbol_is_a_clear_error() -> None:
    md, _ = market()
    with pytest.raises(KeyError, match="NOPE"):
        md.minute_bars("NOPE", DAY)
