"""Backtest statistics: returns, drawdown, risk-adjusted ratios and one-day value at risk.

Conventions for the whole module: "daily" means the returns of the equity curve sampled at the last bar of
each IST calendar date, ``r_d = E_d / E_{d−1} − 1`` with ``E₀`` = the capital (for daily bars, one per bar);
ratios are annualised with 252 trading days and a zero risk-free rate; ``s`` is the sample standard
deviation (n − 1). :func:`summarize` gathers everything into one JSON-ready object.
"""

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
    """The daily returns ``r_d = E_d / E_{d−1} − 1``, ``E₀`` = the capital; one per calendar date."""
    e = np.concatenate([[float(capital)], daily_equity(times, equity)])
    return e[1:] / e[:-1] - 1


def max_drawdown_pct(equity: np.ndarray, capital: float) -> float:
    """The largest fall from a running peak of the bar-by-bar equity curve (the capital being the first
    peak), as a positive percentage of that peak; 0 when the curve never falls."""
    e = np.concatenate([[float(capital)], np.asarray(equity, dtype=np.float64)])
    peak = np.maximum.accumulate(e)
    return float(np.max((peak - e) / peak) * 100)


def sharpe(r: np.ndarray) -> float | None:
    """Annualised Sharpe ratio of daily returns: mean(r) / s(r) × √252; None with fewer than two returns
    or a zero deviation."""
    if len(r) < 2:
        return None
    s = float(np.std(r, ddof=1))
    return None if s == 0 else float(np.mean(r)) / s * math.sqrt(TRADING_DAYS)


def sortino(r: np.ndarray) -> float | None:
    """Annualised Sortino ratio: mean(r) / DD × √252, DD = √(Σ min(r, 0)² / (n − 1)), the downside deviation
    below 0 over all days (n − 1, to match the Sharpe's sample convention); None with fewer than two returns
    or no negative return."""
    if len(r) < 2:
        return None
    dd = math.sqrt(float(np.sum(np.minimum(r, 0.0) ** 2)) / (len(r) - 1))
    return None if dd == 0 else float(np.mean(r)) / dd * math.sqrt(TRADING_DAYS)


def cagr_pct(final: float, capital: float, days: int) -> float | None:
    """Compound annual growth, ((final / capital)^(252 / days) − 1) × 100; None without a day or when the
    final equity is not positive."""
    if days < 1 or final <= 0:
        return None
    return ((final / capital) ** (TRADING_DAYS / days) - 1) * 100


def historical_var(r: np.ndarray, level: float) -> tuple[float, float]:
    """One-day (VaR, CVaR) at confidence ``level`` from the returns themselves, as positive fractions.

    Sorts the n returns ascending, k = ⌈n (1 − level)⌉ (at least 1); VaR = −r₍ₖ₎ and CVaR = −the mean of the
    k worst returns.
    """
    s = np.sort(np.asarray(r, dtype=np.float64))
    k = max(1, math.ceil(round(len(s) * (1 - level), 9)))
    return float(-s[k - 1]), float(-np.mean(s[:k]))


def parametric_var(r: np.ndarray, level: float) -> tuple[float, float]:
    """One-day (VaR, CVaR) at confidence ``level`` under a normal fit, as positive fractions.

    With μ = mean(r), s = the sample deviation and z = Φ⁻¹(1 − level): VaR = −(μ + s z) and
    CVaR = −(μ − s φ(z) / (1 − level)).
    """
    mu, sd = float(np.mean(r)), float(np.std(r, ddof=1))
    z = NormalDist().inv_cdf(1 - level)
    return -(mu + sd * z), -(mu - sd * NormalDist().pdf(z) / (1 - level))


def monte_carlo_var(
    r: np.ndarray, level: float, seed: int = MC_SEED, draws: int = MC_DRAWS
) -> tuple[float, float]:
    """One-day (VaR, CVaR) at ``level`` by simulation, as positive fractions: ``draws`` returns from
    N(μ, s²) with ``numpy.random.default_rng(seed)``, then :func:`historical_var` on them. It converges to
    :func:`parametric_var` and shows its sampling error; a fixed seed makes runs repeat exactly."""
    mu, sd = float(np.mean(r)), float(np.std(r, ddof=1))
    sim = np.random.default_rng(seed).normal(mu, sd, draws)
    return historical_var(sim, level)


def risk_table(r: np.ndarray, seed: int = MC_SEED) -> dict[str, dict[str, float]] | None:
    """{method: {var_95_pct, cvar_95_pct, var_99_pct, cvar_99_pct}} or None with fewer than two days.

    Methods: historical, parametric, monte_carlo. Values are positive percentages of equity (a one-day loss
    of 1.2 % is 1.2), rounded to 6 places.
    """
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
    """The metrics of a backtest as one JSON-ready object.

    Besides the run's identity (mode, strategy, params, settings) and counts: ``total_return_pct`` =
    (final equity / capital − 1) × 100; ``trades`` counts closed round trips and ``win_rate`` is the share
    of them with a positive net P&L (None without trades); ``max_drawdown_pct``, ``sharpe``, ``sortino``
    and ``cagr_pct`` as their functions here; ``calmar`` = CAGR % / max drawdown % (None when either is
    undefined or the drawdown is 0); ``exposure_pct`` = the share of bars during which a position was open;
    ``risk`` = :func:`risk_table` with ``seed``. Money is given as strings, ratios rounded to 6 places.
    """
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
