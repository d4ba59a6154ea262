"""Peer mode on a hand-worked series: crosses, next-open fills, all-in whole shares, the equity curve."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tron.backtest.data import Bars
from tron.backtest.peer import crossings, run_peer
from tron.domain.timeutil import IST


def bars(opens: list[float], closes: list[float]) -> Bars:
    t0 = datetime(2026, 1, 1, 15, 30, tzinfo=IST)
    times = [t0 + timedelta(days=i) for i in range(len(closes))]
    o, c = np.array(opens), np.array(closes)
    return Bars("X", times, o, np.maximum(o, c), np.minimum(o, c), c, np.ones(len(c)))


def test_crossings_are_strict_on_both_bars() -> None:
    fast = np.array([np.nan, 1.0, 2.0, 2.0, 1.0, 1.0, 3.0])
    slow = np.array([1.5, 1.5, 1.5, 2.0, 2.0, 2.0, 2.0])
    up, down = crossings(fast, slow)
    assert list(np.flatnonzero(up)) == [2, 6]  # 1 → 2 over 1.5; 1 → 3 over 2 (a NaN never crosses)
    assert list(np.flatnonzero(down)) == []  # 2 → 2 = 2 is a touch, then 2 = 2 → 1 starts from a tie


def test_a_hand_worked_sma_1_2_crossover() -> None:
    # SMA(1) is the close, SMA(2) the mean of the last two: close > SMA2 ⇔ the close rose.
    # Up-cross at bar 2 (9 → 10 after a fall) → buy at open[3] = 10.5, int(1000 (1 − ε) // 10.5) = 95 shares.
    # Down-cross at bar 4 (11 → 10) → sell at open[5] = 11: P&L 95 × 0.5 = 47.50.
    # Up-cross at bar 5, the last bar: no next open, no order.
    b = bars([10, 9.5, 9.5, 10.5, 10.5, 11], [10, 9, 10, 11, 10, 12])
    r = run_peer(b, "sma_cross", {"fast": 1, "slow": 2}, Decimal(1000))
    (t,) = r.trades
    assert (t.entry_bar, t.exit_bar, t.qty, t.entry_price, t.exit_price) == (
        3,
        5,
        95,
        Decimal("10.5"),
        Decimal("11"),
    )
    assert t.pnl == Decimal("47.5")
    assert r.final_equity == Decimal("1047.5")
    # cash 2.50 after the buy; 95 shares marked at 11, 10, then sold at 11
    assert list(r.equity) == pytest.approx([1000, 1000, 1000, 1047.5, 952.5, 1047.5])
    assert list(r.exposed) == [False, False, False, True, True, True]


def test_an_open_trade_at_the_end_is_marked_not_closed() -> None:
    b = bars([10, 9.5, 9.5, 10.5, 10.5], [10, 9, 10, 11, 11.5])
    r = run_peer(b, "sma_cross", {"fast": 1, "slow": 2}, Decimal(1000))
    (t,) = r.trades
    assert not t.closed and t.pnl == Decimal("95")  # 95 × (11.5 − 10.5)
    assert r.final_equity == Decimal("2.5") + 95 * Decimal("11.5")


def test_too_little_cash_for_one_share_places_nothing() -> None:
    b = bars([10, 9.5, 9.5, 10.5, 10.5, 11], [10, 9, 10, 11, 10, 12])
    r = run_peer(b, "sma_cross", {"fast": 1, "slow": 2}, Decimal(10))
    assert r.trades == [] and r.final_equity == Decimal(10)


@pytest.mark.parametrize(
    ("strategy", "params", "message"),
    [
        ("nope", {}, "unknown peer strategy"),
        ("sma_cross", {"fast": 20, "slow": 10}, "must be shorter"),
        ("sma_cross", {"fast": 2.5}, "whole number"),
        ("ema_cross", {"span": 3}, "unknown parameter 'span'"),
    ],
)
def test_bad_strategy_settings(strategy: str, params: dict, message: str) -> None:
    b = bars([1.0] * 5, [1.0] * 5)
    with pytest.raises(ValueError, match=message):
        run_peer(b, strategy, params, Decimal(1000))
