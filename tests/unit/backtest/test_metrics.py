"""Backtest metrics on hand-computed examples (conventions: tron.backtest.metrics docstring)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tron.backtest import metrics as m
from tron.backtest.result import BacktestResult, Trade
from tron.domain.timeutil import IST

R5 = np.array([0.01, -0.02, 0.03, -0.01, 0.02])  # mean 0.006, Σ(r − mean)² = 0.00172


def at(day: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 16 + day, 9, 15, tzinfo=IST) + timedelta(minutes=minute)


def test_sharpe_uses_the_sample_deviation_and_sqrt_252() -> None:
    # s² = 0.00172 / 4 = 0.00043; 0.006 / 0.0207364 × 15.874508 = 4.59322
    assert m.sharpe(R5) == pytest.approx(0.006 / math.sqrt(0.00043) * math.sqrt(252), rel=1e-12)
    assert m.sharpe(R5) == pytest.approx(4.59322, abs=1e-5)


def test_sortino_uses_the_downside_deviation_below_zero() -> None:
    # min(r, 0)² = 0.0004 + 0.0001 = 0.0005; DD = √(0.0005 / 4) = 0.0111803; 0.006 / DD × √252 = 8.51915
    assert m.sortino(R5) == pytest.approx(8.51915, abs=1e-5)


def test_ratios_are_none_when_undefined() -> None:
    assert m.sharpe(np.array([0.01])) is None
    assert m.sharpe(np.array([0.01, 0.01])) is None  # no deviation
    assert m.sortino(np.array([0.01, 0.02])) is None  # no down day
    assert m.risk_table(np.array([0.01])) is None


def test_historical_var_and_cvar() -> None:
    r = np.array([-0.05, -0.04, -0.03] + [0.01] * 37)  # n = 40
    # 95 %: k = ⌈40 × 0.05⌉ = 2 → VaR = 4 %, CVaR = (5 + 4) / 2 = 4.5 %; 99 %: k = ⌈0.4⌉ = 1 → 5 %, 5 %
    assert m.historical_var(r, 0.95) == pytest.approx((0.04, 0.045))
    assert m.historical_var(r, 0.99) == pytest.approx((0.05, 0.05))


def test_parametric_var_and_cvar_of_a_normal() -> None:
    a = 0.01 / math.sqrt(2)
    r = np.array([a, -a])  # mean 0, sample deviation 0.01
    var95, cvar95 = m.parametric_var(r, 0.95)
    assert var95 == pytest.approx(0.01 * 1.6448536269514722, rel=1e-9)
    assert cvar95 == pytest.approx(0.01 * 0.10313564037537128 / 0.05, rel=1e-9)  # φ(1.645) / 5 %
    var99, cvar99 = m.parametric_var(r, 0.99)
    assert var99 == pytest.approx(0.01 * 2.3263478740408408, rel=1e-9)
    assert cvar99 == pytest.approx(0.01 * 0.026652142203458 / 0.01, rel=1e-9)


def test_monte_carlo_is_seeded_and_converges_to_the_parametric_figure() -> None:
    r = np.random.default_rng(1).normal(0.001, 0.012, 250)
    first, again = m.monte_carlo_var(r, 0.95, seed=7), m.monte_carlo_var(r, 0.95, seed=7)
    assert first == again
    assert m.monte_carlo_var(r, 0.95, seed=8) != first
    for level in m.LEVELS:
        mc, par = m.monte_carlo_var(r, level), m.parametric_var(r, level)
        assert mc == pytest.approx(par, rel=0.03)


def test_daily_returns_take_each_dates_last_bar() -> None:
    times = [at(0, 0), at(0, 1), at(0, 2), at(1, 0), at(1, 1)]
    equity = np.array([100.0, 105.0, 110.0, 99.0, 121.0])
    assert m.daily_returns(times, equity, 100.0) == pytest.approx([0.10, 0.10])


def test_max_drawdown_from_the_running_peak_including_the_capital() -> None:
    # peaks 100, 110, 110, 120, 120 → falls 0, 0, 10 %, 0, 25 %
    assert m.max_drawdown_pct(np.array([110.0, 99.0, 120.0, 90.0]), 100.0) == pytest.approx(25.0)
    assert m.max_drawdown_pct(np.array([90.0]), 100.0) == pytest.approx(10.0)


def test_summarize_a_small_backtest() -> None:
    times = [at(0), at(1), at(2)]
    trades = [
        Trade("A", "long", 1, at(0), Decimal("10"), 0, at(1), Decimal("15"), 1, pnl=Decimal("5")),
        Trade("A", "long", 1, at(1), Decimal("15"), 1, at(2), Decimal("12"), 2, pnl=Decimal("-3")),
        Trade("A", "long", 1, at(2), Decimal("12"), 2),  # still open
    ]
    res = BacktestResult(
        "peer", "x", {}, Decimal("100"), times, np.array([110.0, 99.0, 121.0]),
        np.array([True, False, True]), Decimal("121"), trades,
    )  # fmt: skip
    s = m.summarize(res)
    assert s["final_equity"] == "121.00"
    assert s["total_return_pct"] == pytest.approx(21.0)
    assert (s["trades"], s["open_trades"], s["win_rate"]) == (2, 1, 0.5)
    assert s["max_drawdown_pct"] == pytest.approx(10.0)
    assert s["days"] == 3
    assert s["exposure_pct"] == pytest.approx(200 / 3, abs=1e-5)
    cagr = (1.21 ** (252 / 3) - 1) * 100
    assert s["cagr_pct"] == pytest.approx(cagr, rel=1e-6)
    assert s["calmar"] == pytest.approx(cagr / 10.0, rel=1e-6)
    r = np.array([0.1, -0.1, 0.22222222222222])
    assert s["sharpe"] == pytest.approx(np.mean(r) / np.std(r, ddof=1) * math.sqrt(252), abs=1e-5)
    assert set(s["risk"]) == {"historical", "parametric", "monte_carlo"}
    assert set(s["risk"]["historical"]) == {"var_95_pct", "cvar_95_pct", "var_99_pct", "cvar_99_pct"}
    # 3 returns: k = 1 at both levels → the worst day, −10 %
    assert s["risk"]["historical"]["var_95_pct"] == pytest.approx(10.0)
