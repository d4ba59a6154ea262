"""Intraday strategies as pure functions of the session state and the bar that just completed.

Each strategy declares its parameters with defaults and allowed ranges (the planner — rules or LLM — may
only choose inside them) and returns signals for the symbols it fires on."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tron.domain.models import Side
from tron.domain.session import Bar, SessionState


@dataclass(frozen=True)
class Param:
    default: float
    low: float
    high: float
    doc: str


@dataclass(frozen=True)
class Signal:
    symbol: str
    side: Side
    confidence: float
    strategy: str
    reason: str
    price: float  # the close that triggered it
    atr: float


SignalFn = Callable[[dict[str, float], SessionState, Bar], list[Signal]]


@dataclass(frozen=True)
class StrategyDef:
    name: str
    doc: str
    params: dict[str, Param]
    fn: SignalFn

    def resolve(self, given: dict[str, Any] | None) -> dict[str, float]:
        """Defaults overlaid with given values; raises ValueError for unknown or out-of-range params."""
        out = {k: p.default for k, p in self.params.items()}
        for k, v in (given or {}).items():
            if k not in self.params:
                raise ValueError(f"{self.name}: unknown parameter {k!r}; allowed: {', '.join(self.params)}")
            p = self.params[k]
            if not p.low <= float(v) <= p.high:
                raise ValueError(f"{self.name}.{k}={v} outside [{p.low}, {p.high}]")
            out[k] = float(v)
        return out


def _fire_once(state: SessionState, key: str, idx: np.ndarray) -> list[int]:
    fired = set(state.flags.get(key, []))
    out = [int(i) for i in idx if state.symbols[int(i)] not in fired]
    state.flags[key] = sorted(fired | {state.symbols[i] for i in out})
    return out


def _ready(state: SessionState, bar: Bar) -> np.ndarray:
    return bar.fresh & ~np.isnan(state.atr) & (state.atr > 0)


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
    ready = _ready(state, bar) & vol_ok
    up = ready & (bar.close > state.or_high * (1 + buf)) & (bar.open <= state.or_high * (1 + buf))
    down = ready & (bar.close < state.or_low * (1 - buf)) & (bar.open >= state.or_low * (1 - buf))
    out = []
    for side, mask in ((Side.BUY, up), (Side.SELL, down)):
        for i in _fire_once(state, "orb", np.flatnonzero(mask)):
            ratio = bar.volume[i] / max(state.vol_avg[i], 1.0)
            conf = float(min(0.95, 0.55 + 0.1 * ratio))
            level = state.or_high[i] if side is Side.BUY else state.or_low[i]
            out.append(
                Signal(
                    state.symbols[i],
                    side,
                    conf,
                    "orb",
                    f"close {bar.close[i]:.2f} broke range "
                    f"{'high' if side is Side.BUY else 'low'} {level:.2f} on {ratio:.1f}x volume",
                    float(bar.close[i]),
                    float(state.atr[i]),
                )
            )
    return out


def vwap(p: dict[str, float], state: SessionState, bar: Bar) -> list[Signal]:
    """VWAP cross: from `start_minute` on, a close that crosses the session VWAP by more than `band_pct`
    with volume above its average opens a position in the direction of the cross."""
    side_now, prev = state.vwap_side, state.prev_vwap_side
    band = p["band_pct"] / 100
    if state.bars < p["start_minute"]:
        return []
    dist = np.abs(bar.close / state.vwap - 1)
    ready = _ready(state, bar) & (bar.volume >= np.nan_to_num(state.vol_avg)) & (dist > band)
    up = ready & (prev < 0) & (side_now > 0)
    down = ready & (prev > 0) & (side_now < 0)
    out = []
    for side, mask in ((Side.BUY, up), (Side.SELL, down)):
        for i in np.flatnonzero(mask):
            conf = float(min(0.9, 0.5 + 20 * dist[i]))
            out.append(
                Signal(
                    state.symbols[int(i)],
                    side,
                    conf,
                    "vwap",
                    f"close {bar.close[i]:.2f} crossed VWAP {state.vwap[i]:.2f}",
                    float(bar.close[i]),
                    float(state.atr[i]),
                )
            )
    return out


REGISTRY: dict[str, StrategyDef] = {
    s.name: s
    for s in (
        StrategyDef(
            "orb",
            orb.__doc__ or "",
            {
                "range_minutes": Param(15, 5, 60, "minutes in the opening range"),
                "buffer_pct": Param(0.05, 0.0, 1.0, "breakout beyond the range, % of price"),
                "volume_mult": Param(1.2, 0.5, 5.0, "bar volume over its average to confirm"),
            },
            orb,
        ),
        StrategyDef(
            "vwap",
            vwap.__doc__ or "",
            {
                "start_minute": Param(20, 5, 120, "minutes after the open before signals"),
                "band_pct": Param(0.05, 0.0, 1.0, "cross beyond VWAP, % of price"),
            },
            vwap,
        ),
    )
}


def opening_range_minutes(choices: Iterable[Any]) -> int:
    """The opening range the session must keep: the planned ORB's range_minutes (its default otherwise)."""
    for c in choices:
        if c.name == "orb":
            return int(REGISTRY["orb"].resolve(c.params)["range_minutes"])
    return int(REGISTRY["orb"].params["range_minutes"].default)


def run(name: str, params: dict[str, Any] | None, state: SessionState, bar: Bar) -> list[Signal]:
    if name not in REGISTRY:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(REGISTRY)}")
    s = REGISTRY[name]
    return s.fn(s.resolve(params), state, bar)


def evaluate(choices: Iterable[Any], state: SessionState, bar: Bar) -> list[Signal]:
    """The signals of the planned strategies on this bar, strongest first (what the tick acts on)."""
    signals = [sig for c in choices for sig in run(c.name, c.params, state, bar)]
    signals.sort(key=lambda s: (-s.confidence, s.symbol, s.strategy))
    return signals
