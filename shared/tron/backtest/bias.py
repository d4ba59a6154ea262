"""Bias checks for strategies, as freqtrade's lookahead and recursive analyses: does a strategy read bars it
could not have seen yet, and do its values depend on how much history happens to precede them?

Both run a strategy (a :class:`Subject`) over bars several times and compare what it computed bar by bar
(a :class:`Trace`: its signals and the indicators it reads, per bar and symbol):

* **lookahead** (:func:`check_lookahead`): the bars cut after bar t must give, on every bar up to t, the
  signals and indicator values the whole data gives there. The cuts are spread over the data, half of
  them on bars where the whole run signalled (a signal computed from the future changes when the future is
  cut away). Values must agree to floating-point noise (:data:`LOOKAHEAD_TOLERANCE`).
* **recursive warm-up** (:func:`check_recursive`): the data started k bars later (several offsets k) must
  give, on every bar past the strategy's declared warm-up, the values the whole data gives there: the
  largest relative deviation of each indicator (against its mean absolute value over the compared bars)
  must stay within the tolerance and the signals must be the same.

The strategies checked:

* the intraday registry (tron.domain.strategies.REGISTRY), replayed as ``tron backtest`` replays bars:
  tron.backtest.data turns them into each session's snapshots, a fresh ``SessionState`` per session folds
  them in, and the strategy's signal function runs on each bar (:class:`SessionStrategy`). Their warm-up is
  the session: the state restarts at every open (in the backtester and live), so a bar's values may depend
  on its session since the open and on nothing before it. A run's first session may start after its open,
  so the recursive check compares the sessions after it;
* peer mode's crossovers (tron.backtest.peer.STRATEGIES), computed over a symbol's whole series at once
  (:class:`VectorStrategy`, the kind of code where lookahead hides), each with its declared warm-up in bars.

Pure: no I/O and no clock.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import numpy as np

from tron.backtest.data import Bars, sessions_from_bars
from tron.backtest.peer import STRATEGIES as PEER_STRATEGIES
from tron.backtest.peer import crossings
from tron.domain import strategies
from tron.domain.plan import StrategyChoice
from tron.domain.session import SessionState

__all__ = [
    "LOOKAHEAD_TOLERANCE",
    "RECURSIVE_TOLERANCE",
    "BiasReport",
    "CheckResult",
    "Difference",
    "NotEnoughData",
    "SessionStrategy",
    "Subject",
    "Trace",
    "VectorStrategy",
    "check",
    "check_lookahead",
    "check_recursive",
    "peer_strategy",
    "registered",
]

LOOKAHEAD_TOLERANCE = 1e-9  # the same computation on fewer bars: only floating-point noise may differ
RECURSIVE_TOLERANCE = 1e-6  # a declared warm-up must bring values this close to the longer history's
DEFAULT_CUTS = 12
DEFAULT_OFFSETS = 4

Signals = dict[tuple[datetime, str], tuple[tuple[int, float], ...]]  # (bar, symbol) → (side, confidence)…


class NotEnoughData(ValueError):
    """The bars are too few for a check to compare anything (it names what it needs)."""


@dataclass
class Trace:
    """What a strategy computed on one run: per bar (``times``, the union of the symbols' bar starts,
    oldest first) and symbol, its signals (+1 buy, −1 sell, with a confidence), its indicators
    (``(bars, symbols)`` arrays, NaN where not defined or no bar) and whether each value is past the
    warm-up counted from the run's first bar (``settled``)."""

    times: list[datetime]
    symbols: list[str]
    signals: Signals
    indicators: dict[str, np.ndarray]
    settled: np.ndarray


class Subject(Protocol):
    """A strategy as the checks see it: its name, its mode (intraday | peer | …), its warm-up in words,
    a run over bars, and the first offset that would leave no settled bar of ``times`` to compare."""

    @property
    def name(self) -> str: ...

    @property
    def mode(self) -> str: ...

    @property
    def warmup(self) -> str: ...

    def trace(self, bars: Sequence[Bars]) -> Trace: ...

    def offset_limit(self, times: Sequence[datetime]) -> int: ...


# ---------------------------------------------------------------------------------------------- subjects
VectorFn = Callable[[Bars], tuple[np.ndarray, dict[str, np.ndarray]]]


@dataclass(frozen=True)
class VectorStrategy:
    """A strategy computed over one symbol's whole series at once: ``fn(bars)`` gives the side per bar
    (+1 buy, −1 sell, 0 nothing) and its indicators by name, each one value per bar. ``warmup_bars``: the
    bars from the start of the data after which its values must not depend on where the data starts."""

    name: str
    mode: str
    warmup_bars: int
    fn: VectorFn

    @property
    def warmup(self) -> str:
        return f"{self.warmup_bars} bars"

    def trace(self, bars: Sequence[Bars]) -> Trace:
        times, symbols, at = _axes(bars)
        indicators: dict[str, np.ndarray] = {}
        settled = np.zeros((len(times), len(symbols)), dtype=bool)
        signals: Signals = {}
        for col, b in enumerate(bars):
            side, values = self.fn(b)
            side = np.asarray(side)
            rows = np.array([at[t] for t in b.times], dtype=np.intp)
            if side.shape != (len(b),):
                raise ValueError(f"{self.name}: sides of shape {side.shape} for {len(b)} bars of {b.symbol}")
            for name, v in values.items():
                v = np.asarray(v, dtype=np.float64)
                if v.shape != (len(b),):
                    raise ValueError(f"{self.name}: indicator {name} has shape {v.shape}, not ({len(b)},)")
                arr = indicators.setdefault(name, np.full((len(times), len(symbols)), np.nan))
                arr[rows, col] = v
            settled[rows, col] = np.arange(len(b)) >= self.warmup_bars
            for i in np.flatnonzero(side):
                signals[(b.times[int(i)], b.symbol)] = ((int(np.sign(side[i])), 1.0),)
        return Trace(times, symbols, signals, indicators, settled)

    def offset_limit(self, times: Sequence[datetime]) -> int:
        return len(times) - self.warmup_bars


def peer_strategy(name: str, params: dict[str, Any] | None = None) -> VectorStrategy:
    """A peer-mode crossover (tron.backtest.peer) as run_peer computes it: its two averages and their
    crossings (up: buy, down: sell), with its declared warm-up. ValueError for an unknown name or bad
    parameters."""
    if name not in PEER_STRATEGIES:
        raise ValueError(f"unknown peer strategy {name!r}; known: {', '.join(PEER_STRATEGIES)}")
    spec = PEER_STRATEGIES[name]
    p = spec.resolve(params)
    fast, slow = int(p["fast"]), int(p["slow"])
    label = getattr(spec.average, "__name__", "").lstrip("_")
    label = label if label.isidentifier() else "average"  # a lambda's is <lambda>

    def fn(b: Bars) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        f, s = spec.average(b.close, fast), spec.average(b.close, slow)
        up, down = crossings(f, s)
        return up.astype(np.int8) - down.astype(np.int8), {f"{label}_{fast}": f, f"{label}_{slow}": s}

    return VectorStrategy(name, "peer", spec.warmup(p), fn)


@dataclass(frozen=True)
class SessionStrategy:
    """An intraday registry strategy replayed as the backtester replays bars: each session's snapshots
    (tron.backtest.data.sessions_from_bars) folded into a fresh SessionState keeping what the strategy
    reads, and the strategy run on each bar (tron.domain.strategies.run). Its indicators: the session's
    ATR, volume average, VWAP and opening range, and those its parameters need (EMA, RSI, MACD line and
    signal, the EMA of the rate of change, the rolling highs and lows of its windows)."""

    name: str
    params: dict[str, float] = field(default_factory=dict)
    mode: str = "intraday"

    def __post_init__(self) -> None:
        if self.name not in strategies.REGISTRY:
            raise ValueError(f"unknown strategy {self.name!r}; known: {', '.join(strategies.REGISTRY)}")
        strategies.REGISTRY[self.name].resolve(self.params)  # ValueError names a bad parameter

    @property
    def warmup(self) -> str:
        return "the session: its state restarts at each open"

    def trace(self, bars: Sequence[Bars]) -> Trace:
        times, symbols, at = _axes(bars)
        choice = StrategyChoice(self.name, dict(self.params))
        s = strategies.REGISTRY[self.name]
        needs = s.needs(s.resolve(self.params))
        readers = _readers(needs)
        indicators = {n: np.full((len(times), len(symbols)), np.nan) for n, _ in readers}
        settled = np.ones((len(times), len(symbols)), dtype=bool)
        signals: dict[tuple[datetime, str], list[tuple[int, float]]] = {}
        per_day = _by_day(times)
        col_of = {sym: j for j, sym in enumerate(symbols)}
        for n, sess in enumerate(sessions_from_bars(bars)):
            day_times = per_day[sess.day]
            if len(sess.snapshots) != len(day_times) + 1:
                raise ValueError(f"{sess.day}: {len(sess.snapshots)} snapshots for {len(day_times)} bars")
            if n == 0:  # it may have started after its open: never past the warm-up
                settled[at[day_times[0]] : at[day_times[-1]] + 1] = False
            cols = np.array([col_of[sym] for sym in sess.symbols], dtype=np.intp)
            state = SessionState.new(
                sess.symbols, or_minutes=strategies.opening_range_minutes([choice]), needs=needs
            )
            for k, snap in enumerate(sess.snapshots):
                bar = state.apply(snap)
                if bar is None:
                    continue
                t = day_times[k - 1]  # snapshot k closes bar k − 1
                for sig in strategies.run(self.name, self.params, state, bar):
                    signals.setdefault((t, sig.symbol), []).append((sig.side.sign, sig.confidence))
                row = at[t]
                for name, read in readers:
                    indicators[name][row, cols] = read(state)
        return Trace(times, symbols, {k: tuple(sorted(v)) for k, v in signals.items()}, indicators, settled)

    def offset_limit(self, times: Sequence[datetime]) -> int:
        days = [t.date() for t in times]
        return days.index(days[-1]) if days else 0  # the last session must start after the offset


def registered(mode: str = "all") -> list[Subject]:
    """Every registered strategy with its default parameters: the intraday registry's, then peer mode's
    (``mode``: intraday | peer | all)."""
    out: list[Subject] = []
    if mode in ("intraday", "all"):
        out += [SessionStrategy(name) for name in strategies.REGISTRY]
    if mode in ("peer", "all"):
        out += [peer_strategy(name) for name in PEER_STRATEGIES]
    return out


Reader = Callable[[SessionState], np.ndarray]


def _readers(needs: Iterable[str]) -> list[tuple[str, Reader]]:
    """What the strategy reads from the session, by name: the session's own indicators, then its needs'."""
    out: list[tuple[str, Reader]] = [
        ("atr_14", lambda st: st.atr),
        ("vol_avg", lambda st: st.vol_avg),
        ("vwap", lambda st: st.vwap),
        ("or_high", lambda st: st.or_high),
        ("or_low", lambda st: st.or_low),
    ]
    for key in sorted(needs):
        out += _need_readers(key)
    return out


def _need_readers(key: str) -> list[tuple[str, Reader]]:
    """The values a need (a SessionState indicator key) gives; none for a kind this does not know."""
    kind, *nums = key.split("_")
    n = [int(x) for x in nums]
    if kind == "ema":
        return [(key, lambda st: st.ema(n[0])[0])]
    if kind == "rsi":
        return [(key, lambda st: st.rsi(n[0])[0])]
    if kind == "macd":
        return [
            (f"{key}_line", lambda st: st.macd(n[0], n[1], n[2])[0]),
            (f"{key}_signal", lambda st: st.macd(n[0], n[1], n[2])[1]),
        ]
    if kind == "rocema":
        return [(key, lambda st: st.rocema(n[0], n[1])[0])]
    if kind == "win":
        return [
            (f"high_{n[0]}", lambda st: st.window("h", n[0]).max(axis=0)),
            (f"low_{n[0]}", lambda st: st.window("lo", n[0]).min(axis=0)),
        ]
    return []


def _axes(bars: Sequence[Bars]) -> tuple[list[datetime], list[str], dict[datetime, int]]:
    times = sorted({t for b in bars for t in b.times})
    return times, [b.symbol for b in bars], {t: i for i, t in enumerate(times)}


def _by_day(times: Sequence[datetime]) -> dict[date, list[datetime]]:
    out: dict[date, list[datetime]] = {}
    for t in times:
        out.setdefault(t.date(), []).append(t)
    return out


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Difference:
    """Where two runs disagree: the bar and symbol, what (``signal`` or an indicator's name), the whole
    data's value and the other run's, their relative deviation, and the run that showed it (the bar a
    lookahead cut ends at, or a recursive offset in bars)."""

    bar: datetime
    symbol: str
    what: str
    full: Any
    other: Any
    deviation: float
    run: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "bar": self.bar.isoformat(),
            "symbol": self.symbol,
            "what": self.what,
            "full": self.full,
            "other": self.other,
            "deviation": _finite(self.deviation),
            "run": self.run,
        }


@dataclass
class CheckResult:
    """One check of one strategy: clean or not, the runs compared with the whole data (lookahead: the
    cuts, the last bar each keeps; recursive: the offsets in bars), how many bar values and signals were
    compared, the first difference beyond the tolerance, and per indicator its largest relative deviation
    with where it was."""

    check: str
    tolerance: float
    runs: list[str] = field(default_factory=list)
    bars_compared: int = 0
    signals_compared: int = 0
    signals_differing: int = 0
    first: Difference | None = None
    deviations: dict[str, Difference] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.first is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "clean": self.clean,
            "tolerance": self.tolerance,
            "runs": self.runs,
            "bars_compared": self.bars_compared,
            "signals_compared": self.signals_compared,
            "signals_differing": self.signals_differing,
            "first_difference": self.first.to_dict() if self.first else None,
            "largest_deviation": {k: _finite(d.deviation) for k, d in sorted(self.deviations.items())},
        }


@dataclass
class BiasReport:
    """Both checks of one strategy."""

    strategy: str
    mode: str
    warmup: str
    lookahead: CheckResult
    recursive: CheckResult

    @property
    def clean(self) -> bool:
        return self.lookahead.clean and self.recursive.clean

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "mode": self.mode,
            "warmup": self.warmup,
            "clean": self.clean,
            "lookahead": self.lookahead.to_dict(),
            "recursive": self.recursive.to_dict(),
        }


def _finite(x: float) -> float | str:
    return x if math.isfinite(x) else "inf"  # JSON has no infinity


# ---------------------------------------------------------------------------------------------- checks
def check(
    subject: Subject,
    bars: Sequence[Bars],
    cuts: int = DEFAULT_CUTS,
    offsets: Sequence[int] | None = None,
    tolerance: float = RECURSIVE_TOLERANCE,
) -> BiasReport:
    """Both checks of ``subject`` on ``bars`` (the whole run made once for both)."""
    full = subject.trace(bars)
    return BiasReport(
        subject.name,
        subject.mode,
        subject.warmup,
        check_lookahead(subject, bars, cuts, full=full),
        check_recursive(subject, bars, offsets, tolerance, full=full),
    )


def check_lookahead(
    subject: Subject, bars: Sequence[Bars], cuts: int = DEFAULT_CUTS, full: Trace | None = None
) -> CheckResult:
    """The lookahead check: ``cuts`` runs on the bars cut after some bar t, each compared on every bar up to
    t with the run on all of them (``full``, made here if not given). NotEnoughData under two bars."""
    full = full if full is not None else subject.trace(bars)
    if len(full.times) < 2:
        raise NotEnoughData(f"{subject.name}: the lookahead check needs at least two bars")
    result = CheckResult("lookahead", LOOKAHEAD_TOLERANCE)
    for row in _cut_rows(full, cuts):
        end = full.times[row]
        cut = [
            Bars(b.symbol, b.times[:k], b.open[:k], b.high[:k], b.low[:k], b.close[:k], b.volume[:k])
            for b in bars
            if (k := bisect_right(b.times, end))
        ]
        other = subject.trace(cut)
        _compare(full, other, 0, np.ones_like(other.settled), LOOKAHEAD_TOLERANCE, end.isoformat(), result)
    return result


def check_recursive(
    subject: Subject,
    bars: Sequence[Bars],
    offsets: Sequence[int] | None = None,
    tolerance: float = RECURSIVE_TOLERANCE,
    full: Trace | None = None,
) -> CheckResult:
    """The recursive warm-up check: runs on the bars from the k-th on (``offsets``, in bars of the union of
    the symbols' bar times; default: up to four spread from 1 to the last that leaves bars past the
    warm-up), each compared with the run on all of them on the bars past its warm-up. NotEnoughData when
    no offset leaves a bar to compare (it names the warm-up)."""
    full = full if full is not None else subject.trace(bars)
    limit = subject.offset_limit(full.times)
    ks = sorted({int(k) for k in offsets}) if offsets is not None else _default_offsets(limit)
    ks = [k for k in ks if 0 < k < len(full.times)]
    result = CheckResult("recursive", tolerance)
    for k in ks:
        start = full.times[k]
        later = [
            Bars(b.symbol, b.times[i:], b.open[i:], b.high[i:], b.low[i:], b.close[i:], b.volume[i:])
            for b in bars
            if (i := bisect_left(b.times, start)) < len(b)
        ]
        other = subject.trace(later)
        _compare(full, other, k, other.settled, tolerance, f"{k} bars later", result)
    if result.bars_compared == 0:
        raise NotEnoughData(
            f"{subject.name}: the recursive check compares bars past the warm-up ({subject.warmup}) of a "
            f"run started later; {len(full.times)} bars leave none"
            + (" (intraday strategies need at least two sessions)" if subject.mode == "intraday" else "")
        )
    return result


def _cut_rows(full: Trace, cuts: int) -> list[int]:
    """Up to ``cuts`` bars to cut after (never the last: that is the whole data): half of them among the
    bars where the whole run signalled, the rest evenly spread."""
    last = len(full.times) - 1
    at = {t: i for i, t in enumerate(full.times)}
    signalled = sorted({at[t] for t, _ in full.signals if at[t] < last})
    pick = _spread(signalled, cuts // 2)
    pick += [round(float(x)) for x in np.linspace(1, last - 1, max(cuts - len(pick), 0))] if last > 1 else []
    return sorted({r for r in pick if 0 <= r < last})


def _default_offsets(limit: int) -> list[int]:
    """1, 4, 16, … below ``limit`` and the last offset below it, up to DEFAULT_OFFSETS of them spread."""
    candidates = {k for k in (1, 4, 16, 64, 256, 1024, 4096, 16384) if k < limit}
    return _spread(sorted(candidates | ({limit - 1} if limit > 1 else set())), DEFAULT_OFFSETS)


def _spread(items: Sequence[int], n: int) -> list[int]:
    """n of the items, evenly spread (first and last included), or all of them."""
    if n <= 0 or not items:
        return []
    if len(items) <= n:
        return list(items)
    return [items[round(float(x))] for x in np.linspace(0, len(items) - 1, n)]


def _compare(
    full: Trace, other: Trace, shift: int, mask: np.ndarray, tol: float, run: str, out: CheckResult
) -> None:
    """Compare ``other`` (whose bar i is the whole data's bar i + shift) with ``full`` where ``mask`` is set
    (bars × other's symbols), adding to ``out``."""
    out.runs.append(run)
    where = {s: j for j, s in enumerate(full.symbols)}
    ocols = [j for j, s in enumerate(other.symbols) if s in where]
    fcols = [where[other.symbols[j]] for j in ocols]
    rows = len(other.times)
    m = mask[:, ocols]
    out.bars_compared += int(m.sum())
    firsts: list[Difference] = []
    for name in sorted(set(full.indicators) | set(other.indicators)):
        if name not in full.indicators or name not in other.indicators:  # computed in one run only
            kept = ("yes" if name in full.indicators else "no", "yes" if name in other.indicators else "no")
            diff = Difference(other.times[0], other.symbols[0], name, *kept, math.inf, run)
            firsts.append(diff)
            out.deviations[name] = diff
            continue
        a = other.indicators[name][:, ocols]
        b = full.indicators[name][shift : shift + rows][:, fcols]
        dev = _deviation(a, b, m)
        if not dev.size:
            continue

        over = np.argwhere(dev > tol)
        worst_at = np.unravel_index(int(np.argmax(dev)), dev.shape)
        for (i, j), is_first in [(worst_at, False), *([(over[0], True)] if over.size else [])]:
            d = Difference(other.times[int(i)], other.symbols[ocols[int(j)]], name, _num(b[i, j]),
                           _num(a[i, j]), float(dev[i, j]), run)  # fmt: skip
            if is_first:
                firsts.append(d)
            elif name not in out.deviations or d.deviation > out.deviations[name].deviation:
                out.deviations[name] = d
    row_of = {t: i for i, t in enumerate(other.times)}
    col_of = {other.symbols[j]: c for c, j in enumerate(ocols)}

    def compared(key: tuple[datetime, str]) -> bool:
        i, c = row_of.get(key[0]), col_of.get(key[1])
        return i is not None and c is not None and bool(m[i, c])

    keys = sorted(k for k in set(full.signals) | set(other.signals) if compared(k))
    out.signals_compared += sum(1 for k in keys if k in full.signals)
    for key in keys:
        f, o = full.signals.get(key, ()), other.signals.get(key, ())
        if not _same_signals(f, o, tol):
            out.signals_differing += 1
            firsts.append(Difference(key[0], key[1], "signal", _sides(f), _sides(o), math.inf, run))
    if firsts:
        first = min(firsts, key=lambda d: (d.bar, d.what != "signal", d.symbol, d.what))
        if out.first is None or first.bar < out.first.bar:
            out.first = first


def _deviation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """|a − b| relative to the mean |b| over the compared values (absolute when that is 0), where ``mask``
    is set (0 elsewhere); infinite where one is defined and the other not."""
    na, nb = np.isnan(a), np.isnan(b)
    both = mask & ~na & ~nb
    scale = float(np.mean(np.abs(b[both]))) if both.any() else 0.0
    dev = np.zeros(a.shape)
    dev[both] = np.abs(a[both] - b[both]) / (scale if scale > 0 else 1.0)
    dev[mask & (na != nb)] = math.inf
    return dev


def _same_signals(a: tuple[tuple[int, float], ...], b: tuple[tuple[int, float], ...], tol: float) -> bool:
    return len(a) == len(b) and all(
        sa == sb and abs(ca - cb) <= tol for (sa, ca), (sb, cb) in zip(a, b, strict=True)
    )


def _sides(sigs: tuple[tuple[int, float], ...]) -> str:
    return ", ".join(f"{'buy' if s > 0 else 'sell'} {c:.4f}" for s, c in sigs) or "none"


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)
