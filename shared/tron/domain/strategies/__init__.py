"""Intraday strategies as pure functions of the session state and the bar that just completed.

Each strategy (a :class:`StrategyDef` in ``REGISTRY``) declares its parameters with defaults and allowed
ranges (the planner — rules or LLM — may only choose inside them) and the session indicators it reads, and
returns signals for the symbols it fires on. :func:`evaluate` runs the planned strategies on a bar and
aggregates their signals per symbol (:func:`aggregate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tron.domain.models import Side
from tron.domain.session import Bar, SessionState
from tron.domain.strategies import breakout, reversion, trend
from tron.domain.strategies.base import Param, Signal, SignalFn, StrategyDef

__all__ = [
    "REGISTRY",
    "Param",
    "Signal",
    "SignalFn",
    "StrategyDef",
    "aggregate",
    "evaluate",
    "new_session",
    "opening_range_minutes",
    "raw_signals",
    "run",
    "session_needs",
]

REGISTRY: dict[str, StrategyDef] = {s.name: s for s in (*breakout.DEFS, *trend.DEFS, *reversion.DEFS)}


def opening_range_minutes(choices: Iterable[Any]) -> int:
    """The opening range the session must keep: the planned ORB's range_minutes (its default otherwise)."""
    for c in choices:
        if c.name == "orb":
            return int(REGISTRY["orb"].resolve(c.params)["range_minutes"])
    return int(REGISTRY["orb"].params["range_minutes"].default)


def _strategy(name: str) -> StrategyDef:
    if name not in REGISTRY:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def session_needs(choices: Iterable[Any]) -> list[str]:
    """The session indicators the planned strategies read (SessionState keys, see tron.domain.session)."""
    out: set[str] = set()
    for c in choices:
        s = _strategy(c.name)
        out |= s.needs(s.resolve(c.params))
    return sorted(out)


def new_session(symbols: list[str], choices: Iterable[Any]) -> SessionState:
    """A session state that keeps exactly what the planned strategies need, from the first snapshot."""
    choices = list(choices)
    return SessionState.new(symbols, or_minutes=opening_range_minutes(choices), needs=session_needs(choices))


def run(name: str, params: dict[str, Any] | None, state: SessionState, bar: Bar) -> list[Signal]:
    """One registry strategy's signals on this bar, with ``params`` resolved against its definition (the
    session is made to keep what it reads). ValueError for an unknown strategy or a bad parameter."""
    s = _strategy(name)
    p = s.resolve(params)
    state.require(s.needs(p))
    return s.fn(p, state, bar)


def aggregate(signals: Iterable[Signal], min_agreement: int = 1) -> list[Signal]:
    """One signal per symbol from the strategies' signals, strongest first:

    * signals on the same side of a symbol agree; their confidence is the confidence-weighted mean of
      theirs (Σc² / Σc), the strongest names the signal, the reason lists them all (a lone signal passes
      unchanged);
    * opposing signals are netted by confidence weight: the side with the larger Σc wins, its confidence
      scaled by (Σc_win − Σc_lose) / (Σc_win + Σc_lose); a tie cancels both;
    * the winning side must have at least ``min_agreement`` signals (default 1: any single strategy acts),
      otherwise nothing is emitted for that symbol; a ``min_agreement`` below 1 raises ValueError.

    The risk governor then applies the plan's ``min_confidence`` to the aggregated confidence.
    """
    if min_agreement < 1:
        raise ValueError(f"min_agreement must be at least 1, got {min_agreement}")
    if not signals:
        return []
    by_symbol: dict[str, list[Signal]] = {}
    for sig in signals:
        by_symbol.setdefault(sig.symbol, []).append(sig)
    out = []
    for sigs in by_symbol.values():
        buys = [s for s in sigs if s.side is Side.BUY]
        sells = [s for s in sigs if s.side is Side.SELL]
        w_buy, w_sell = sum(s.confidence for s in buys), sum(s.confidence for s in sells)
        if w_buy == w_sell:
            continue  # no signal, or a tie: they cancel
        win, lose, w_win, w_lose = (
            (buys, sells, w_buy, w_sell) if w_buy > w_sell else (sells, buys, w_sell, w_buy)
        )
        if len(win) < min_agreement:
            continue
        if len(win) == 1 and not lose:
            out.append(win[0])  # a lone signal passes unchanged
            continue
        win.sort(key=lambda s: (-s.confidence, s.strategy))
        conf = sum(s.confidence**2 for s in win) / w_win * (w_win - w_lose) / (w_win + w_lose)
        lead = win[0]
        reason = "; ".join(f"{s.strategy}: {s.reason}" for s in win)
        if lose:
            reason += " — netted against " + ", ".join(f"{s.strategy} ({s.confidence:.2f})" for s in lose)
        out.append(
            Signal(
                lead.symbol,
                lead.side,
                conf,
                lead.strategy,
                reason,
                lead.price,
                lead.atr,
                agree=tuple(s.strategy for s in win),
            )
        )
    out.sort(key=lambda s: (-s.confidence, s.symbol, s.strategy))
    return out


def evaluate(choices: Sequence[Any], state: SessionState, bar: Bar, min_agreement: int = 1) -> list[Signal]:
    """The planned strategies' signals on this bar, aggregated per symbol, strongest first (what the tick
    acts on). A state that knows them already (``state.signals_ahead``) gives them instead of running the
    strategies again."""
    signals = state.signals_ahead(choices)
    if signals is None:
        signals = raw_signals(choices, state, bar)
    return aggregate(signals, min_agreement)


def raw_signals(choices: Sequence[Any], state: SessionState, bar: Bar) -> list[Signal]:
    """Each planned strategy's signals on this bar, in the plan's order, before :func:`aggregate`."""
    state.require(session_needs(choices))
    return [sig for c in choices for sig in run(c.name, c.params, state, bar)]
