"""Mean-reversion strategies: RSI, Bollinger bands and the range reversal. Each fires when price turns back
from an extreme (the event), not while it sits there."""

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


def rsi(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """RSI reversal: Wilder's RSI(`period`) crossing back above `oversold` buys, crossing back below
    `overbought` sells. The deeper the extreme it left, the higher the confidence."""
    n, lo, hi = int(p["period"]), p["oversold"], p["overbought"]
    now, prev = state.rsi(n)
    lo_a, hi_a = np.full_like(now, lo), np.full_like(now, hi)
    ok = ready(state, bar)
    up = ok & crossed_up(prev, lo_a, now, lo_a) & (prev < lo)
    down = ok & crossed_down(prev, hi_a, now, hi_a) & (prev > hi)

    def conf(i: int, side: Side) -> float:
        depth = (lo - prev[i]) / lo if side is Side.BUY else (prev[i] - hi) / (100 - hi)
        return 0.75 + 0.15 * clamp(depth, 0.0, 1.0)

    def reason(i: int, side: Side) -> str:
        level, word = (lo, "above oversold") if side is Side.BUY else (hi, "below overbought")
        return (
            f"RSI{n} {now[i]:.1f} crossed back {word} {level:g} (was {prev[i]:.1f}), close {px(bar.close[i])}"
        )

    return emit("rsi", state, bar, (up, down), conf, reason)


def bollinger(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """Bollinger reversal: a close back inside the lower band (SMA(`period`) − `num_std` population
    standard deviations) after a close below it buys; back inside the upper band sells."""
    n, k = int(p["period"]), p["num_std"]
    upper, mid, lower = state.bollinger(n, k)
    upper_prev, _, lower_prev = state.bollinger(n, k, lag=1)
    ok = ready(state, bar)
    up = ok & crossed_up(bar.open, lower_prev, bar.close, lower) & (bar.open < lower_prev)
    down = ok & crossed_down(bar.open, upper_prev, bar.close, upper) & (bar.open > upper_prev)

    def conf(i: int, side: Side) -> float:
        room = (mid[i] - bar.close[i]) * side.sign / max(mid[i] - lower[i], 1e-9)  # 1 at the band, 0 at SMA
        return 0.7 + 0.1 * clamp(room, 0.0, 1.0)

    def reason(i: int, side: Side) -> str:
        band, word = (lower[i], "lower") if side is Side.BUY else (upper[i], "upper")
        return (
            f"close {px(bar.close[i])} back inside the {word} Bollinger band {px(band)} "
            f"(SMA{n} {px(mid[i])} ± {k:g}σ)"
        )

    return emit("bollinger", state, bar, (up, down), conf, reason)


def range_reversal(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """Range reversal: while the previous `lookback` bars form a range at most `max_width_pct`% of price
    and at least `min_width_atr` ATRs wide, a bar that tests the range low (its low within `touch_pct`%
    of it, either side) and closes at least `min_bounce_atr` ATRs back above that zone, up on the bar and
    still in the range's lower half, buys; the mirror at the range high sells. Each such bar is one rejected test: the next bar opens
    outside the zone, so it fires again only on a new test."""
    n, touch = int(p["lookback"]), p["touch_pct"] / 100
    hi, lo = state.highest(n, 1), state.lowest(n, 1)
    mid = (hi + lo) / 2
    zone_lo, zone_hi = lo * (1 + touch), hi * (1 - touch)
    with np.errstate(invalid="ignore", divide="ignore"):
        width = hi - lo
        is_range = (width / bar.close * 100 <= p["max_width_pct"]) & (width >= p["min_width_atr"] * state.atr)
        ok = ready(state, bar) & is_range
        bounce = p["min_bounce_atr"] * state.atr
        up = (
            ok
            & (bar.low <= zone_lo)
            & (bar.low >= lo * (1 - touch))  # a test, not a break of the range
            & (bar.close >= zone_lo + bounce)
            & (bar.close > bar.open)
            & (bar.close < mid)
        )
        down = (
            ok
            & (bar.high >= zone_hi)
            & (bar.high <= hi * (1 + touch))
            & (bar.close <= zone_hi - bounce)
            & (bar.close < bar.open)
            & (bar.close > mid)
        )

    def conf(i: int, side: Side) -> float:
        span = max(bar.high[i] - bar.low[i], 1e-9)
        wick = (bar.close[i] - bar.low[i]) / span if side is Side.BUY else (bar.high[i] - bar.close[i]) / span
        return 0.6 + 0.2 * float(wick)

    def reason(i: int, side: Side) -> str:
        if side is Side.BUY:
            return (
                f"low {px(bar.low[i])} tested the {n}-bar range low {px(lo[i])} and close {px(bar.close[i])} "
                f"turned up (range {px(lo[i])}–{px(hi[i])})"
            )
        return (
            f"high {px(bar.high[i])} tested the {n}-bar range high {px(hi[i])} and close {px(bar.close[i])} "
            f"turned down (range {px(lo[i])}–{px(hi[i])})"
        )

    return emit("range_reversal", state, bar, (up, down), conf, reason)


DEFS = (
    StrategyDef(
        "rsi",
        rsi.__doc__ or "",
        {
            "period": Param(7, 2, 50, "RSI period, bars", integer=True),
            "oversold": Param(25, 5, 45, "buy when RSI crosses back above this"),
            "overbought": Param(75, 55, 95, "sell when RSI crosses back below this"),
        },
        rsi,
        needs=lambda p: {f"rsi_{int(p['period'])}"},
    ),
    StrategyDef(
        "bollinger",
        bollinger.__doc__ or "",
        {
            "period": Param(20, 5, 60, "SMA and standard deviation window, bars", integer=True),
            "num_std": Param(2.0, 1.0, 4.0, "band width in population standard deviations"),
        },
        bollinger,
        needs=lambda p: {f"win_{int(p['period']) + 1}"},
    ),
    StrategyDef(
        "range_reversal",
        range_reversal.__doc__ or "",
        {
            "lookback": Param(20, 5, 60, "bars that form the range", integer=True),
            "max_width_pct": Param(1.5, 0.2, 5.0, "the range is at most this wide, % of price"),
            "min_width_atr": Param(3.0, 1.0, 20.0, "and at least this many ATRs wide"),
            "touch_pct": Param(0.05, 0.0, 0.5, "a low/high this close to the edge tests it, % of price"),
            "min_bounce_atr": Param(0.5, 0.0, 3.0, "the close is at least this many ATRs off the zone"),
        },
        range_reversal,
        needs=lambda p: {f"win_{int(p['lookback']) + 1}"},
    ),
)
