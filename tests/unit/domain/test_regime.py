"""tron.domain.regime: the daily regime from daily bars (gaps included) and the intraday one per symbol."""

from __future__ import annotations

from datetime import date, time, timedelta

import numpy as np

from tests.support.domain import daily_bars
from tron.domain import regime as rg
from tron.domain.models import DailyBar, Quote, Snapshot
from tron.domain.rules import regime
from tron.domain.session import SessionState
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)
T0 = ist(DAY, time(9, 15))


def test_regime_from_daily_bars() -> None:
    trend = daily_bars([22000 * 1.006**i for i in range(10)], 0.8)
    assert rg.daily(trend).name == "trending" and regime(trend) == "trending"
    chop = daily_bars([22000 + (60 if i % 2 else -60) for i in range(10)], 0.8)
    assert regime(chop) == "ranging"
    wild = daily_bars([22000 + (200 if i % 2 else -200) for i in range(10)], 2.2)
    reading = rg.daily(wild)
    assert reading.name == "volatile" and reading.avg_true_range_pct > 1.6 and "true range" in reading.reason
    assert rg.daily(trend[:2]).name == "ranging" and "only 2 daily bars" in rg.daily(trend[:2]).reason


def test_overnight_gaps_count_as_volatility() -> None:
    """Small intraday ranges, but each day opens 1.5% away from the previous close: the high-low range
    (the old rule) sees 0.8%, the true range sees the gaps."""
    closes = [22000 + (330 if i % 2 else -330) for i in range(11)]
    bars = []
    for i in range(1, 11):
        c, o = closes[i], closes[i] * (1 - 0.002 * (1 if i % 2 else -1))
        bars.append(DailyBar(DAY - timedelta(days=11 - i), o, max(o, c) * 1.003, min(o, c) * 0.997, c, 1))
    old_range = sum((b.high - b.low) / b.close for b in bars) / len(bars) * 100
    assert old_range < 1.6 and rg.daily(bars).name == "volatile"


def test_intraday_regime_per_symbol() -> None:
    st = SessionState.new(["CALM", "WILD", "RUN"])
    rng = np.random.default_rng(2)
    px = np.array([100.0, 100.0, 100.0])
    assert list(rg.intraday(st)) == ["", "", ""]
    for k in range(60):
        ts = T0 + timedelta(minutes=k)
        px = px * np.array(
            [1 + rng.normal(0, 0.0001), 1 + rng.normal(0, 0.003), 1.0003 + rng.normal(0, 0.00005)]
        )
        st.apply(
            Snapshot(
                ts,
                {
                    s: Quote(s, ts, float(round(p, 2)), 0, 0, 100 * k, 100, 999, 1, 0)
                    for s, p in zip(st.symbols, px, strict=True)
                },
            )
        )
    assert list(rg.intraday(st)) == ["ranging", "volatile", "trending"]
