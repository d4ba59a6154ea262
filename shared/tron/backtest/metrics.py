"""Backtest statistics, with their conventions.

Daily returns. The equity curve is sampled at the last bar of each IST calendar date; with E₀ = the
capital, ``r_d = E_d / E_{d−1} − 1``. Everything "daily" below uses these returns (for daily bars, one per
bar). Ratios are annualised with 252 trading days and a zero risk-free rate.

* ``total_return_pct`` = (final equity / capital − 1) × 100.
* ``max_drawdown_pct`` = the largest fall from a running peak of the bar-by-bar equity curve (the capital
  being the first peak), as a positive percentage of that peak.
* ``sharpe`` = mean(r) / s(r) × √252, s the sample standard deviation (n − 1).
* ``sortino`` = mean(r) / DD × √252, DD = √(Σ min(r, 0)² / (n − 1)), the downside deviation below 0 over
  all days (n − 1, to match the Sharpe's sample convention).
* ``calmar`` = CAGR % / max drawdown %, CAGR = (final / capital)^(252 / days) − 1.
  Each ratio is None when undefined (fewer than two days, or a zero denominator).
* ``trades`` counts closed round trips; ``win_rate`` = the share with a positive net P&L (None without
  trades); ``exposure_pct`` = the share of bars during which a position was open.

Value at risk and expected shortfall (CVaR) at confidence α ∈ {95 %, 99 %} of a one-day return, reported
as positive percentages of equity (a loss of 1.2 % → 1.2):

* historical: sort the n daily returns ascending, k = ⌈n (1 − α)⌉ (at least 1); VaR = −r₍ₖ₎ and CVaR = −mean of
  the k worst returns;
* parametric (normal): μ, s as above, z = Φ⁻¹(1 − α); VaR = −(μ + s z), CVaR = −(μ − s φ(z) / (1 − α));
* Monte Carlo: 100,000 one-day returns drawn from N(μ, s²) with ``numpy.random.default_rng(seed)``
  (seed 7 unless given), then the historical estimator on the draws — it converges to the parametric
  figure and shows its sampling error; fixed seed, so runs repeat exactly.
None when there are fewer than two daily returns."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import numpy as np

from tron.backtest.result import BacktestResult

TRADING_DAYS = 252
LEVELS = (0.95, 0.99)
MC_DRAWS = 100_000
MC_SEED = 7


def daily_equity(times: list[datetime], equity: np.ndarray) -> np.ndarray:
    """The equity at the last bar of each calendar date of the (IST) times."""
    if len(times) == 0:
        return np.zeros(0)
    ordinals = np.array([t.date().toordinal() for t in times])
    last = np.flatnonzero(np.append(ordinals[1:] != ordinals[:-1], True))
    return np.asarray(equity, dtype=np.float64)[last]


def daily_returns(times: list[datetime], equity: np.ndarray, capital: float) -> np.ndarray:
    e = np.concatenate([[float(capital)], daily_equity(times, equity)])
    return e[1:] / e[:-1] - 1


def max_drawdown_pct(equity: np.ndarray, capital: float) -> float:
    e = np.concatenate([[float(capital)], np.asarray(equity, dtype=np.float64)])
    peak = np.maximum.accumulate(e)
    return float(np.max((peak - e) / peak) * 100)


def sharpe(r: np.ndarray) -> float | None:
    if len(r) < 2:
        return None
    s = float(np.std(r, ddof=1))
    return None if s == 0 else float(np.mean(r)) / s * math.sqrt(TRADING_DAYS)


def sortino(r: np.ndarray) -> float | None:
    if len(r) < 2:
        return None
    dd = math.sqrt(float(np.sum(np.minimum(r, 0.0) ** 2)) / (len(r) - 1))
    return None if dd == 0 else float(np.mean(r)) / dd * math.sqrt(TRADING_DAYS)


def cagr_pct(final: float, capital: float, days: int) -> float | None:
    if days < 1 or final <= 0:
        return None
    return ((final / capital) ** (TRADING_DAYS / days) - 1) * 100


def historical_var(r: np.ndarray, level: float) -> tuple[float, float]:
    """(VaR, CVaR) as positive fractions (see the module docstring)."""
    s = np.sort(np.asarray(r, dtype=np.float64))
    k = max(1, math.ceil(round(len(s) * (1 - level), 9)))
    return float(-s[k - 1]), float(-np.mean(s[:k]))


def parametric_var(r: np.ndarray, level: float) -> tuple[float, float]:
    mu, sd = float(np.mean(r)), float(np.std(r, ddof=1))
    z = NormalDist().inv_cdf(1 - level)
    return -(mu + sd * z), -(mu - sd * NormalDist().pdf(z) / (1 - level))


def monte_carlo_var(
    r: np.ndarray, level: float, seed: int = MC_SEED, draws: int = MC_DRAWS
) -> tuple[float, float]:
    mu, sd = float(np.mean(r)), float(np.std(r, ddof=1))
    sim = np.random.default_rng(seed).normal(mu, sd, draws)
    return historical_var(sim, level)


def risk_table(r: np.ndarray, seed: int = MC_SEED) -> dict[str, dict[str, float]] | None:
    """{method: {var_95_pct, cvar_95_pct, var_99_pct, cvar_99_pct}} or None with fewer than two days."""
    if len(r) < 2:
        return None
    out: dict[str, dict[str, float]] = {}
    for method, fn in (
        ("historical", historical_var),
        ("parametric", parametric_var),
        ("monte_carlo", lambda x, lv: monte_carlo_var(x, lv, seed)),
    ):
        row = {}
        for level in LEVELS:
            var, cvar = fn(r, level)
            pct = round(level * 100)
            row[f"var_{pct}_pct"] = round(var * 100, 6)
            row[f"cvar_{pct}_pct"] = round(cvar * 100, 6)
        out[method] = row
    return out


def _r(x: float | None, nd: int = 6) -> float | None:
    return None if x is None else round(x, nd)


def summarize(result: BacktestResult, seed: int = MC_SEED) -> dict[str, Any]:
    """The metrics of a backtest as one JSON-ready object."""
    capital = float(result.capital)
    final = float(result.final_equity)
    r = daily_returns(result.times, result.equity, capital)
    dd = max_drawdown_pct(result.equity, capital)
    cagr = cagr_pct(final, capital, len(r))
    closed = [t for t in result.trades if t.closed]
    wins = sum(1 for t in closed if t.pnl > 0)
    charges = sum((t.charges for t in closed), Decimal("0"))
    return {
        "mode": result.mode,
        "strategy": result.strategy,
        "params": result.params,
        "bars": len(result.times),
        "days": len(r),
        "capital": str(result.capital),
        "final_equity": str(result.final_equity.quantize(Decimal("0.01"))),
        "total_return_pct": round((final / capital - 1) * 100, 6),
        "trades": len(closed),
        "open_trades": len(result.trades) - len(closed),
        "win_rate": round(wins / len(closed), 6) if closed else None,
        "charges": str(charges),
        "max_drawdown_pct": round(dd, 6),
        "sharpe": _r(sharpe(r)),
        "sortino": _r(sortino(r)),
        "cagr_pct": _r(cagr),
        "calmar": _r(cagr / dd) if cagr is not None and dd > 0 else None,
        "exposure_pct": round(float(np.mean(result.exposed)) * 100, 6) if len(result.exposed) else 0.0,
        "entries_refused": result.refusals,
        "risk": risk_table(r, seed),
        "settings": result.settings,
    }
