"""KiteMarketData on a fake client: quotes batched at 500 and parsed in IST, each symbol's exchange learnt
once."""

from __future__ import annotations

from datetime import date, time

import pytest

from tests.support.fakes.kite import Clock, FakeClient, FakeTime, session
from tron.adapters.kite.market import KiteMarketData, batches
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)


def test_quotes_are_batched_at_500_and_parsed_in_ist() -> None:
    assert [len(b) for b in batches([str(i) for i in range(1201)], 500)] == [500, 500, 201]
    ft = FakeTime()
    c = FakeClient()
    md = KiteMarketData(session(c, ft), Clock(ist(DAY, time(10))))
    md._exchange = {f"S{i}": "NSE" for i in range(1001)}
    snap = md.snapshot([f"S{i}" for i in range(1001)])
    assert [len(x[1]) for x in c.calls if x[0] == "quote"] == [500, 500, 1]
    q = snap.quotes["S7"]
    assert q.ts == ist(DAY, time(10, 0)) and snap.ts == q.ts
    assert (q.bid, q.ask, q.volume, q.prev_close, q.high) == (1500.45, 1500.6, 12345, 1488.0, 1510.0)
    with pytest.raises(ValueError, match="500"):
        KiteMarketData(session(c, ft), Clock(ist(DAY, time(10))), quote_batch=501)


def test_a_fresh_process_learns_each_symbols_exchange_from_the_dumps_once() -> None:
    ft = FakeTime()
    c = FakeClient()
    md = KiteMarketData(session(c, ft), Clock(ist(DAY, time(10))))
    snap = md.snapshot(["NIFTY26DECFUT"])  # a tick_futures process: no dump read yet
    assert [x for x in c.calls if x[0] != "quote"] == [("instruments", "NSE"), ("instruments", "NFO")]
    assert [x[1] for x in c.calls if x[0] == "quote"] == [
        ["NFO:NIFTY26DECFUT"]
    ] and "NIFTY26DECFUT" in snap.quotes
    md.snapshot(["NIFTY26DECFUT", "AXISBANK", "NIFTY 50"])
    assert [x[1] for x in c.calls if x[0] == "quote"][-1] == [
        "NFO:NIFTY26DECFUT",
        "NSE:AXISBANK",
        "NSE:NIFTY 50",
    ]
    assert sum(1 for x in c.calls if x[0] == "instruments") == 2
