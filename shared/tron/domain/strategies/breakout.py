"""Breakout strategies: the opening range, the session VWAP, a volume-confirmed N-bar breakout, and the
scalp (a short breakout in the direction of VWAP)."""

from __future__ import annotations

import numpy as np

from tron.domain.models import Side
from tron.domain.session import Bar, SessionState
from tron.domain.strategies.base import Param, Signal, StrategyDef, emit, px, ready


def orb(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """Opening range breakout: after the first `range_minutes`, a close beyond the range (plus a buffer) on
    volume above `volume_mult` × its average opens a position in the breakout's direction, once a day."""
    if int(p["range_minutes"]) != state.or_minutes:
        raise ValueError(
            f"orb wants a {p['range_minutes']:g}-minute range, the session keeps {state.or_minutes}"
        )
    if state.bars <= state.or_minutes:
        return []
    buf = p["buffer_pct"] / 100
    vol_ok = bar.volume >= p["volume_mult"] * np.nan_to_num(state.vol_avg)
    ok = ready(state, bar) & vol_ok
    up = ok & (bar.close > state.or_high * (1 + buf)) & (bar.open <= state.or_high * (1 + buf))
    down = ok & (bar.close < state.or_low * (1 - buf)) & (bar.open >= state.or_low * (1 - buf))

    def ratio(i: int) -> float:
        return float(bar.volume[i] / max(state.vol_avg[i], 1.0))

    def reason(i: int, side: Side) -> str:
        level = state.or_high[i] if side is Side.BUY else state.or_low[i]
        return (
            f"close {bar.close[i]:.2f} broke range {'high' if side is Side.BUY else 'low'} {level:.2f} "
            f"on {ratio(i):.1f}x volume"
        )

    return emit("orb", state, bar, (up, down), lambda i, _s: 0.55 + 0.1 * ratio(i), reason, once="orb")


def vwap(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """VWAP cross: from `start_minute` on, a close that crosses the session VWAP by more than `band_pct`
    with volume above its average opens a position in the direction of the cross."""
    if state.bars < p["start_minute"]:
        return []
    side_now, prev = state.vwap_side, state.prev_vwap_side
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.abs(bar.close / state.vwap - 1)
    ok = ready(state, bar) & (bar.volume >= np.nan_to_num(state.vol_avg)) & (dist > p["band_pct"] / 100)
    up = ok & (prev < 0) & (side_now > 0)
    down = ok & (prev > 0) & (side_now < 0)
    return emit(
        "vwap",
        state,
        bar,
        (up, down),
        lambda i, _s: min(0.9, 0.5 + 20 * float(dist[i])),
        lambda i, _s: f"close {bar.close[i]:.2f} crossed VWAP {state.vwap[i]:.2f}",
    )


def volume_breakout(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """Volume breakout: a close beyond the highest high (lowest low) of the previous `lookback` bars, on a
    bar whose volume is at least `volume_mult` × its running average, in the breakout's direction. It fires
    on the bar that breaks out (the previous close was inside its own range), not on every bar after."""
    n = int(p["lookback"])
    level_hi, level_lo = state.highest(n, 1), state.lowest(n, 1)
    prev_hi, prev_lo = state.highest(n, 2), state.lowest(n, 2)
    avg = np.nan_to_num(state.vol_avg)
    ratio = np.where(avg > 0, bar.volume / np.maximum(avg, 1.0), 0.0)
    ok = ready(state, bar) & (ratio >= p["volume_mult"])
    with np.errstate(invalid="ignore"):
        up = ok & (bar.close > level_hi) & (bar.open <= prev_hi)
        down = ok & (bar.close < level_lo) & (bar.open >= prev_lo)

    def reason(i: int, side: Side) -> str:
        word, level = ("high", level_hi[i]) if side is Side.BUY else ("low", level_lo[i])
        return f"close {px(bar.close[i])} broke the {n}-bar {word} {px(level)} on {ratio[i]:.1f}x volume"

    return emit(
        "volume_breakout",
        state,
        bar,
        (up, down),
        lambda i, _s: 0.8 + 0.05 * (float(ratio[i]) - p["volume_mult"]),
        reason,
    )


def scalp(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """Scalp: from `start_minute` on, a close that clears the high (low) of the previous `lookback` bars by
    at least `min_break_atr` × ATR, on the same side of VWAP (with the session's flow), opens a short-lived
    position; it fires when the breakout starts (the previous close had not cleared its own level)."""
    if state.bars < p["start_minute"]:
        return []
    n, k = int(p["lookback"]), p["min_break_atr"]
    atr = state.atr
    level_hi, level_lo = state.highest(n, 1) + k * atr, state.lowest(n, 1) - k * atr
    prev_hi, prev_lo = state.highest(n, 2) + k * atr, state.lowest(n, 2) - k * atr
    vw = state.vwap
    with np.errstate(invalid="ignore"):
        up = ready(state, bar) & (bar.close > level_hi) & (bar.open <= prev_hi) & (bar.close > vw)
        down = ready(state, bar) & (bar.close < level_lo) & (bar.open >= prev_lo) & (bar.close < vw)

    def strength(i: int, side: Side) -> float:
        beyond = bar.close[i] - level_hi[i] if side is Side.BUY else level_lo[i] - bar.close[i]
        return float(beyond / atr[i])

    def reason(i: int, side: Side) -> str:
        word = "high" if side is Side.BUY else "low"
        level = state.highest(n, 1)[i] if side is Side.BUY else state.lowest(n, 1)[i]
        where = "above" if side is Side.BUY else "below"
        return (
            f"close {px(bar.close[i])} cleared the {n}-bar {word} {px(level)} by "
            f"{strength(i, side) + k:.1f} ATR, {where} VWAP {px(vw[i])}"
        )

    return emit("scalp", state, bar, (up, down), lambda i, s: 0.55 + 0.1 * min(1.5, strength(i, s)), reason)


DEFS = (
    StrategyDef(
        "orb",
        orb.__doc__ or "",
        {
            "range_minutes": Param(15, 5, 60, "minutes in the opening range", integer=True),
            "buffer_pct": Param(0.05, 0.0, 1.0, "breakout beyond the range, % of price"),
            "volume_mult": Param(1.2, 0.5, 5.0, "bar volume over its average to confirm"),
        },
        orb,
    ),
    StrategyDef(
        "vwap",
        vwap.__doc__ or "",
        {
            "start_minute": Param(20, 5, 120, "minutes after the open before signals", integer=True),
            "band_pct": Param(0.05, 0.0, 1.0, "cross beyond VWAP, % of price"),
        },
        vwap,
    ),
    StrategyDef(
        "volume_breakout",
        volume_breakout.__doc__ or "",
        {
            "lookback": Param(20, 5, 60, "bars whose high/low the close must break", integer=True),
            "volume_mult": Param(1.3, 1.0, 10.0, "bar volume over its running average to confirm"),
        },
        volume_breakout,
        needs=lambda p: {f"win_{int(p['lookback']) + 2}"},
    ),
    StrategyDef(
        "scalp",
        scalp.__doc__ or "",
        {
            "lookback": Param(10, 2, 30, "bars whose high/low the close must clear", integer=True),
            "min_break_atr": Param(0.25, 0.0, 2.0, "how far beyond the level, in ATRs"),
            "start_minute": Param(15, 14, 120, "minutes after the open before signals", integer=True),
        },
        scalp,
        needs=lambda p: {f"win_{int(p['lookback']) + 2}"},
    ),
)
