"""What every strategy is made of: its parameters (defaults and allowed ranges), the signal it emits, and
the small helpers that keep strategies to fresh bars, defined indicators and events (not states)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tron.domain.models import Side
from tron.domain.session import Bar, SessionState


@dataclass(frozen=True)
class Param:
    """One strategy parameter: its default, the range a planner may choose from, and what it means."""

    default: float
    low: float
    high: float
    doc: str
    integer: bool = False  # a count of bars: whole numbers only


@dataclass(frozen=True)
class Signal:
    """A strategy's call on one symbol at one bar: the side, a confidence in [0, 1], why, and the close
    and ATR the entry is sized and stopped from."""

    symbol: str
    side: Side
    confidence: float  # in [0, 1]
    strategy: str
    reason: str
    price: float  # the close that triggered it
    atr: float
    agree: tuple[str, ...] = ()  # after aggregation: every strategy on the winning side


SignalFn = Callable[[dict[str, float], SessionState, Bar], list[Signal]]


def _no_needs(_p: dict[str, float]) -> set[str]:
    return set()


def _no_check(_p: dict[str, float]) -> str | None:
    return None


@dataclass(frozen=True)
class StrategyDef:
    """A registered strategy: its name, description (the signal function's docstring), parameters, the
    signal function, the session indicators it reads for given parameters, and a check across parameters."""

    name: str
    doc: str
    params: dict[str, Param]
    fn: SignalFn
    needs: Callable[[dict[str, float]], set[str]] = field(default=_no_needs)  # session indicators it reads
    check: Callable[[dict[str, float]], str | None] = field(default=_no_check)  # rules across parameters

    def resolve(self, given: dict[str, Any] | None) -> dict[str, float]:
        """Defaults overlaid with given values; raises ValueError for unknown, non-numeric, out-of-range or
        inconsistent params."""
        out = {k: p.default for k, p in self.params.items()}
        for k, v in (given or {}).items():
            if k not in self.params:
                raise ValueError(f"{self.name}: unknown parameter {k!r}; allowed: {', '.join(self.params)}")
            p = self.params[k]
            try:
                x = float(v)
            except (TypeError, ValueError):
                x = float("nan")
            if isinstance(v, bool) or x != x:
                raise ValueError(f"{self.name}.{k}={v!r} is not a number") from None
            if not p.low <= x <= p.high:
                raise ValueError(f"{self.name}.{k}={v} outside [{p.low:g}, {p.high:g}]")
            if p.integer and x != int(x):
                raise ValueError(f"{self.name}.{k}={v} must be a whole number of bars")
            out[k] = x
        problem = self.check(out)
        if problem:
            raise ValueError(f"{self.name}: {problem}")
        return out


# --------------------------------------------------------------------------- helpers


def fire_once(state: SessionState, key: str, idx: np.ndarray) -> list[int]:
    """The indices among idx that have not fired under key today (and marks them as fired)."""
    fired = set(state.flags.get(key, []))
    out = [int(i) for i in idx if state.symbols[int(i)] not in fired]
    state.flags[key] = sorted(fired | {state.symbols[i] for i in out})
    return out


def ready(state: SessionState, bar: Bar) -> np.ndarray:
    """Symbols a strategy may signal on: a fresh quote and a defined, positive ATR (the stop needs it)."""
    return bar.fresh & ~np.isnan(state.atr) & (state.atr > 0)


def clamp(x: float, low: float, high: float) -> float:
    """x within [low, high] as a float (NaN stays NaN, as np.clip leaves it; a fraction of np.clip's cost on
    one number)."""
    return min(max(float(x), low), high)


def crossed_up(prev_a: np.ndarray, prev_b: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a went from at or below b to above it on this bar (False wherever anything is undefined)."""
    with np.errstate(invalid="ignore"):
        return (prev_a <= prev_b) & (a > b)


def crossed_down(prev_a: np.ndarray, prev_b: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a went from at or above b to below it on this bar (False wherever anything is undefined)."""
    with np.errstate(invalid="ignore"):
        return (prev_a >= prev_b) & (a < b)


def px(x: float) -> str:
    """A price for a reason: 2,431.50."""
    return f"{x:,.2f}"


def emit(
    name: str,
    state: SessionState,
    bar: Bar,
    masks: tuple[np.ndarray, np.ndarray],
    confidence: Callable[[int, Side], float],
    reason: Callable[[int, Side], str],
    once: str | None = None,
) -> list[Signal]:
    """Signals for the symbols in the (buy, sell) masks; with `once`, each symbol fires once a day."""
    out = []
    for side, mask in zip((Side.BUY, Side.SELL), masks, strict=True):
        idx = np.flatnonzero(mask)
        chosen = fire_once(state, once, idx) if once else [int(i) for i in idx]
        for i in chosen:
            conf = float(min(0.95, max(0.0, confidence(i, side))))
            out.append(
                Signal(
                    state.symbols[i],
                    side,
                    conf,
                    name,
                    reason(i, side),
                    float(bar.close[i]),
                    float(state.atr[i]),
                )
            )
    return out
