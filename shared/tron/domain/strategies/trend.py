"""Trend-following strategies: the moving-average crossover, MACD and momentum. Each fires on the bar its
lines cross, never while they merely stay crossed."""

from __future__ import annotations

import numpy as np

from tron.domain.models import Side
from tron.domain.session import Bar, SessionState
from tron.domain.strategies.base import (
    Param,
    Signal,
    StrategyDef,
    clamp,
    crossed_down,
    crossed_up,
    emit,
    px,
    ready,
)


def _fast_below_slow(p: dict[str, float]) -> str | None:
    if p["fast"] >= p["slow"]:
        return f"fast {p['fast']:g} must be shorter than slow {p['slow']:g}"
    return None


def ema_cross(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """Moving-average crossover: the `fast` EMA of the closes crossing above (below) the `slow` EMA buys
    (sells). Confidence grows with how far the close already stands beyond the slow EMA, in ATRs."""
    f, s = int(p["fast"]), int(p["slow"])
    fast, fast_prev = state.ema(f)
    slow, slow_prev = state.ema(s)
    ok = ready(state, bar)
    up = ok & crossed_up(fast_prev, slow_prev, fast, slow)
    down = ok & crossed_down(fast_prev, slow_prev, fast, slow)

    def conf(i: int, side: Side) -> float:
        lead = side.sign * (bar.close[i] - slow[i]) / state.atr[i]
        return 0.7 + 0.05 * clamp(lead, 0.0, 3.0)

    def reason(i: int, side: Side) -> str:
        word = "above" if side is Side.BUY else "below"
        return f"EMA{f} {px(fast[i])} crossed {word} EMA{s} {px(slow[i])}, close {px(bar.close[i])}"

    return emit("ema_cross", state, bar, (up, down), conf, reason)


def macd(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """MACD(`fast`, `slow`, `signal`): the MACD line crossing above (below) its signal line — the
    histogram changing sign — buys (sells); a cross on the far side of zero (a buy below zero) is the
    earlier, less certain one and gets less confidence."""
    f, s, g = int(p["fast"]), int(p["slow"]), int(p["signal"])
    line, sig, hist, hist_prev = state.macd(f, s, g)
    zero = np.zeros_like(hist)
    ok = ready(state, bar)
    up = ok & crossed_up(hist_prev, zero, hist, zero)
    down = ok & crossed_down(hist_prev, zero, hist, zero)

    def conf(i: int, side: Side) -> float:
        return 0.75 if side.sign * line[i] > 0 else 0.7

    def reason(i: int, side: Side) -> str:
        word = "above" if side is Side.BUY else "below"
        return f"MACD({f},{s},{g}) {line[i]:.3f} crossed {word} its signal {sig[i]:.3f}, close {px(bar.close[i])}"

    return emit("macd", state, bar, (up, down), conf, reason)


def momentum(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """Momentum: the `lookback`-bar rate of change crossing above (below) its `signal`-bar EMA while
    it is above +`min_roc_pct`% (below −`min_roc_pct`%) buys (sells): momentum turning up, already
    positive."""
    n, m = int(p["lookback"]), int(p["signal"])
    roc, roc_prev = state.roc(n), state.roc(n, lag=1)
    sig, sig_prev = state.rocema(n, m)
    ok = ready(state, bar)
    with np.errstate(invalid="ignore"):
        up = ok & crossed_up(roc_prev, sig_prev, roc, sig) & (roc > p["min_roc_pct"])
        down = ok & crossed_down(roc_prev, sig_prev, roc, sig) & (roc < -p["min_roc_pct"])

    def reason(i: int, side: Side) -> str:
        word = "above" if side is Side.BUY else "below"
        return f"{n}-bar change {roc[i]:+.2f}% crossed {word} its {m}-bar average {sig[i]:+.2f}%"

    return emit(
        "momentum",
        state,
        bar,
        (up, down),
        lambda i, _s: 0.75 + 0.1 * min(1.0, abs(float(roc[i])) / 1.0),
        reason,
    )


DEFS = (
    StrategyDef(
        "ema_cross",
        ema_cross.__doc__ or "",
        {
            "fast": Param(5, 2, 50, "fast EMA, bars", integer=True),
            "slow": Param(15, 3, 200, "slow EMA, bars (longer than fast)", integer=True),
        },
        ema_cross,
        needs=lambda p: {f"ema_{int(p['fast'])}", f"ema_{int(p['slow'])}"},
        check=_fast_below_slow,
    ),
    StrategyDef(
        "macd",
        macd.__doc__ or "",
        {
            "fast": Param(12, 2, 50, "fast EMA, bars", integer=True),
            "slow": Param(26, 3, 100, "slow EMA, bars (longer than fast)", integer=True),
            "signal": Param(9, 2, 50, "signal-line EMA of the MACD line, bars", integer=True),
        },
        macd,
        needs=lambda p: {f"macd_{int(p['fast'])}_{int(p['slow'])}_{int(p['signal'])}"},
        check=_fast_below_slow,
    ),
    StrategyDef(
        "momentum",
        momentum.__doc__ or "",
        {
            "lookback": Param(10, 2, 30, "rate of change over this many bars", integer=True),
            "signal": Param(7, 2, 30, "EMA of the rate of change, bars", integer=True),
            "min_roc_pct": Param(0.1, 0.0, 5.0, "the rate of change must exceed this, %"),
        },
        momentum,
        needs=lambda p: {f"rocema_{int(p['lookback'])}_{int(p['signal'])}"},
    ),
)
