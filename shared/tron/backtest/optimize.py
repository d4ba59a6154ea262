"""Walk-forward optimisation: cut the data's trading days into windows, search a parameter grid in sample,
trade the best set out of sample, and stitch the out-of-sample results together.

* :func:`split_windows`: rolling windows (``train`` days, then ``test`` days; the next window starts
  ``test`` days later) or anchored ones (every training window starts at the first day and grows); the last
  test window takes the days left, so it may be shorter.
* :func:`parse_grid`: ``k=v1,v2,…`` per parameter, checked against the registry strategies' parameters
  (tron.domain.strategies: each value alone must be in its range; a combination that breaks a rule across
  parameters, like fast ≥ slow, is left out by the caller and reported).
* :func:`walk_forward`: two batches of tasks (tron.backtest.tasks), every (window × parameter set) on the
  training days, then each window's chosen set on its test days, run by any runner (a local process pool
  today); :func:`select` picks by the objective (``sharpe``, ``calmar`` or ``net``). The result holds the
  chosen set per window, the stitched out-of-sample curve and metrics, the parameter-stability table and the
  out-of-sample against in-sample degradation (:func:`degradation`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from tron.backtest.tasks import TEST, TRAIN, RunSpec, Task, TaskResult, objectives
from tron.domain.strategies import REGISTRY

OBJECTIVES = ("sharpe", "calmar", "net")
NAMES = {"sharpe": "Sharpe", "calmar": "Calmar", "net": "net P&L per day (₹)"}
Runner = Callable[[list[Task]], list[TaskResult]]


# ---------------------------------------------------------------------------------------------- windows
def parse_span(text: str, what: str) -> int:
    """A number of trading days, ``60d`` or ``60``; ValueError naming the option otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*d?\s*", text)
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"{what} wants a number of trading days such as 60d, got {text!r}")
    return int(m.group(1))


@dataclass(frozen=True)
class Window:
    """One walk-forward step: its training (in-sample) days and its test (out-of-sample) days."""

    index: int
    train: tuple[date, ...]
    test: tuple[date, ...]

    def to_doc(self) -> dict[str, Any]:
        def span(days: tuple[date, ...]) -> dict[str, Any]:
            return {"from": days[0].isoformat(), "to": days[-1].isoformat(), "days": len(days)}

        return {"window": self.index, "train": span(self.train), "test": span(self.test)}


def split_windows(days: Sequence[date], train: int, test: int, anchored: bool = False) -> list[Window]:
    """Walk-forward windows over the trading ``days`` (sorted, distinct): window i trains on ``train`` days
    (anchored: on every day from the first) and tests on the ``test`` days that follow; the next window
    moves ``test`` days on, so the test windows tile the days after the first training window, the last
    one taking what is left. ValueError with fewer than ``train + test`` days or ``train`` < 2 (a Sharpe
    needs two days)."""
    if train < 2 or test < 1:
        raise ValueError(f"--train must be ≥ 2 and --test ≥ 1 trading days, got {train} and {test}")
    days = list(days)
    if len(days) < train + test:
        held = f" ({days[0]} … {days[-1]})" if days else ""
        raise ValueError(
            f"too few trading days for one window: --train {train}d --test {test}d needs at least "
            f"{train + test}, the data holds {len(days)}{held}"
        )
    out: list[Window] = []
    start = train
    while start < len(days):
        lo = 0 if anchored else start - train
        out.append(Window(len(out), tuple(days[lo:start]), tuple(days[start : start + test])))
        start += test
    return out


# ---------------------------------------------------------------------------------------------- the grid
@dataclass(frozen=True)
class Grid:
    """The parameters searched (as the user named them: ``key``, or ``strategy.key`` with several
    strategies) and the values of each, in the order given; :meth:`points` is their product."""

    keys: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]

    def points(self) -> list[dict[str, float]]:
        """Every combination, the last key varying fastest."""
        return [dict(zip(self.keys, combo, strict=True)) for combo in itertools.product(*self.values)]

    def to_doc(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in zip(self.keys, self.values, strict=True)}


def fmt(v: float) -> str:
    """A parameter value as written: 30, 0.05."""
    return f"{v:g}"


def label(params: Mapping[str, float]) -> str:
    """``fast=5 slow=20``."""
    return " ".join(f"{k}={fmt(v)}" for k, v in params.items())


def _no_rule(_p: dict[str, float]) -> str | None:
    return None


def parse_grid(items: Sequence[str], strategies: Sequence[str]) -> Grid:
    """The ``--grid k=v1,v2,…`` options for the registry ``strategies``. A key is a parameter of the one
    strategy, or ``name.key`` with several. ValueError, naming the option, for a malformed item, a key
    given twice, an unknown strategy or parameter, a value that is not a number, repeated, out of the
    parameter's range or not whole where bars are counted."""
    if not items:
        raise ValueError("say what to search: --grid k=v1,v2,… (repeat for each parameter)")
    keys: list[str] = []
    values: list[tuple[float, ...]] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise ValueError(f"--grid wants k=v1,v2,…, got {item!r}")
        if key in keys:
            raise ValueError(f"--grid {key} given twice")
        name, dot, param = key.rpartition(".")
        if not dot:
            if len(strategies) > 1:
                raise ValueError(f"--grid {key}: say which strategy (name.{key}=…) when running several")
            name, param = strategies[0], key
        if name not in strategies:
            raise ValueError(
                f"--grid {key}: {name!r} is not one of the strategies run ({', '.join(strategies)})"
            )
        sdef = REGISTRY[name]
        if param not in sdef.params:
            raise ValueError(
                f"--grid {key}: {name} has no parameter {param!r}; allowed: {', '.join(sdef.params)}"
            )
        alone = dataclasses.replace(sdef, check=_no_rule)  # the rules across parameters apply per combination
        vals: list[float] = []
        for raw in text.split(","):
            try:
                v = float(raw.strip())
            except ValueError:
                raise ValueError(f"--grid {key}: not a number: {raw.strip()!r}") from None
            if not math.isfinite(v):
                raise ValueError(f"--grid {key}: not a finite number: {raw.strip()!r}")
            if v in vals:
                raise ValueError(f"--grid {key}: {fmt(v)} given twice")
            try:
                alone.resolve({param: v})
            except ValueError as e:
                raise ValueError(f"--grid {key}: {e}") from None
            vals.append(v)
        keys.append(key)
        values.append(tuple(vals))
    return Grid(tuple(keys), tuple(values))


@dataclass(frozen=True)
class Point:
    """One parameter set of the grid that can run: its place in the grid, its values (``params``, keyed as
    the grid is) and the plan's strategies with their parameters (``choices``)."""

    index: int
    params: dict[str, float]
    choices: tuple[tuple[str, Mapping[str, float]], ...]


# ---------------------------------------------------------------------------------------------- selection
def value(r: TaskResult, objective: str) -> float | None:
    """The objective as reported: Sharpe, Calmar (None when undefined) or the net P&L in rupees."""
    if objective == "net":
        return float(r.net)
    return r.sharpe if objective == "sharpe" else r.calmar


def score(r: TaskResult, objective: str) -> float:
    """The objective as ranked: an undefined Sharpe or Calmar ranks last, except a Calmar undefined because
    a gaining run never drew down, which ranks first."""
    v = value(r, objective)
    if v is not None:
        return v
    if objective == "calmar" and r.max_drawdown_pct == 0 and r.net > 0:
        return math.inf
    return -math.inf


def select(results: Sequence[TaskResult], objective: str) -> TaskResult:
    """The best of one window's in-sample results: the highest :func:`score`, ties broken by the higher net
    P&L, then by the earlier parameter set in the grid. ValueError for an unknown objective or no results."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")
    if not results:
        raise ValueError("no in-sample result to choose from")
    return max(results, key=lambda r: (score(r, objective), r.net, -r.point))


# ---------------------------------------------------------------------------------------------- the run
@dataclass
class WindowOutcome:
    """One window: its in-sample results (one per parameter set, in grid order), the chosen one and the
    chosen set's out-of-sample result."""

    window: Window
    train: list[TaskResult]
    chosen: TaskResult
    test: TaskResult


@dataclass
class Stitched:
    """The out-of-sample test windows one after the other, each starting where the previous one ended:
    the equity at every bar and at each day's end, the days, and the totals and objectives."""

    equity: np.ndarray
    day_equity: np.ndarray
    dates: list[date]
    capital: Decimal
    net: Decimal
    trades: int
    metrics: dict[str, float | None]

    def to_doc(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "days": len(self.dates),
            "from": self.dates[0].isoformat() if self.dates else None,
            "to": self.dates[-1].isoformat() if self.dates else None,
            "capital": str(self.capital),
            "final_equity": str((self.capital + self.net).quantize(Decimal("0.01"))),
            "net": str(self.net),
            "trades": self.trades,
            **{k: _round(v) for k, v in m.items()},
        }


def stitch(tests: Sequence[TaskResult]) -> Stitched:
    """Chain the test windows' equity curves (each run from the capital) by carrying the net P&L of the
    windows before; the objectives are computed on the chained curve as for one backtest."""
    capital = tests[0].capital
    carried = Decimal(0)
    equity: list[np.ndarray] = []
    day_eq: list[np.ndarray] = []
    dates: list[date] = []
    for t in tests:
        eq = np.asarray(t.equity, dtype=np.float64) + float(carried)
        equity.append(eq)
        day_eq.append(eq[list(t.day_ends)])
        dates.extend(t.dates)
        carried += t.net
    e, d = np.concatenate(equity), np.concatenate(day_eq)
    return Stitched(
        e, d, dates, capital, carried, sum(t.trades for t in tests), objectives(d, e, float(capital))
    )


@dataclass
class WalkForward:
    """A whole walk-forward: its settings, the grid and its runnable sets (``points``) and those left out
    (``skipped``: params and why), each window's outcome, the stitched out-of-sample result, the
    parameter stability and the degradation."""

    objective: str
    anchored: bool
    train_days: int
    test_days: int
    grid: Grid
    points: list[Point]
    outcomes: list[WindowOutcome]
    oos: Stitched
    skipped: list[tuple[dict[str, float], str]] = field(default_factory=list)

    def stability(self) -> dict[str, dict[str, Any]]:
        """Per grid key: the value chosen in each window, how often each value was chosen, the most chosen
        one and its share of the windows."""
        by_point = {p.index: p for p in self.points}
        out: dict[str, dict[str, Any]] = {}
        n = len(self.outcomes)
        for j, key in enumerate(self.grid.keys):
            chosen = [by_point[o.chosen.point].params[key] for o in self.outcomes]
            counts = Counter(chosen)
            top, top_n = max(counts.items(), key=lambda kv: (kv[1], -self.grid.values[j].index(kv[0])))
            out[key] = {
                "chosen": chosen,
                "counts": {fmt(v): counts.get(v, 0) for v in self.grid.values[j]},
                "mode": top,
                "mode_share": round(top_n / n, 6),
                "distinct": len(counts),
            }
        return out

    def heat(self) -> dict[int, tuple[float | None, int]]:
        """Per runnable set (by grid index): its mean in-sample objective over the windows (None when never
        defined) and how many windows chose it."""
        chosen = Counter(o.chosen.point for o in self.outcomes)
        out: dict[int, tuple[float | None, int]] = {}
        for p in self.points:
            vals = [
                v for o in self.outcomes for r in o.train if r.point == p.index
                if (v := value(r, self.objective)) is not None
            ]  # fmt: skip
            out[p.index] = (float(np.mean(vals)) if vals else None, chosen.get(p.index, 0))
        return out

    def degradation(self) -> dict[str, dict[str, float | None]]:
        """:func:`degradation` of this run."""
        return degradation(self.outcomes, self.oos)

    def statement(self) -> str:
        """The degradation of the objective in one sentence."""
        return statement(self.objective, self.degradation()[self.objective])

    def to_doc(self) -> dict[str, Any]:
        """Everything, JSON-ready."""
        by_point = {p.index: p for p in self.points}
        return {
            "objective": self.objective,
            "windowing": "anchored" if self.anchored else "rolling",
            "train_days": self.train_days,
            "test_days": self.test_days,
            "grid": self.grid.to_doc(),
            "sets": len(self.points),
            "skipped": [{"params": p, "reason": why} for p, why in self.skipped],
            "windows": [
                {
                    **o.window.to_doc(),
                    "chosen": by_point[o.chosen.point].params,
                    "in_sample": _metrics(o.chosen),
                    "out_of_sample": _metrics(o.test),
                }
                for o in self.outcomes
            ],
            "in_sample_grid": [
                {"window": o.window.index, "params": by_point[r.point].params, **_metrics(r)}
                for o in self.outcomes
                for r in o.train
            ],
            "out_of_sample": self.oos.to_doc(),
            "stability": self.stability(),
            "degradation": self.degradation(),
            "summary": self.statement(),
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 6)


def _metrics(r: TaskResult) -> dict[str, Any]:
    return {
        "days": r.days,
        "trades": r.trades,
        "net": str(r.net),
        "sharpe": _round(r.sharpe),
        "calmar": _round(r.calmar),
        "max_drawdown_pct": _round(r.max_drawdown_pct),
        "total_return_pct": _round(r.total_return_pct),
    }


def walk_forward(
    spec: RunSpec,
    grid: Grid,
    points: Sequence[Point],
    windows: Sequence[Window],
    objective: str,
    runner: Runner,
    anchored: bool = False,
    skipped: Sequence[tuple[dict[str, float], str]] = (),
) -> WalkForward:
    """Run the walk-forward: every set on every window's training days, then each window's chosen set
    (:func:`select`) on its test days, both batches through ``runner`` (tasks in, results in the same
    order out); stitch the out-of-sample results. ValueError for an unknown objective, no set or no
    window."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")
    if not points or not windows:
        raise ValueError("nothing to run: no parameter set or no window")
    train = [
        Task(i, w.index, TRAIN, p.index, w.train[0], w.train[-1], p.choices, spec)
        for i, (w, p) in enumerate(itertools.product(windows, points))
    ]
    results = runner(train)
    per_window = [results[k * len(points) : (k + 1) * len(points)] for k in range(len(windows))]
    chosen = [select(rs, objective) for rs in per_window]
    by_point = {p.index: p for p in points}
    tests = [
        Task(i, w.index, TEST, c.point, w.test[0], w.test[-1], by_point[c.point].choices, spec, curve=True)
        for i, (w, c) in enumerate(zip(windows, chosen, strict=True))
    ]
    oos = runner(tests)
    outcomes = [
        WindowOutcome(w, rs, c, t) for w, rs, c, t in zip(windows, per_window, chosen, oos, strict=True)
    ]
    return WalkForward(
        objective,
        anchored,
        len(windows[0].train),
        len(windows[0].test),
        grid,
        list(points),
        outcomes,
        stitch(oos),
        list(skipped),
    )


# ---------------------------------------------------------------------------------------------- degradation
def degradation(outcomes: Sequence[WindowOutcome], oos: Stitched) -> dict[str, dict[str, float | None]]:
    """Out of sample against in sample, per objective: ``in_sample`` is the mean over the windows of the
    chosen set's in-sample value (windows where it is undefined left out), ``out_of_sample`` the stitched
    out-of-sample value; for ``net`` both are per trading day (windows differ in length). ``ratio`` =
    out-of-sample / in-sample, defined when the in-sample value is positive (1 keeps all of it; 0.4 keeps
    40 %: a 60 % degradation)."""
    out: dict[str, dict[str, float | None]] = {}
    for obj in OBJECTIVES:
        if obj == "net":
            ins = [float(o.chosen.net) / o.chosen.days for o in outcomes]
            oo: float | None = float(oos.net) / len(oos.dates) if oos.dates else None
        else:
            ins = [v for o in outcomes if (v := value(o.chosen, obj)) is not None]
            oo = oos.metrics[obj]
        is_mean = float(np.mean(ins)) if ins else None
        ratio = oo / is_mean if is_mean is not None and is_mean > 0 and oo is not None else None
        out[obj] = {"in_sample": _round(is_mean), "out_of_sample": _round(oo), "ratio": _round(ratio)}
    return out


def statement(objective: str, d: Mapping[str, float | None]) -> str:
    """One sentence: the out-of-sample value against the in-sample one and what share of it survived."""
    name = NAMES[objective]
    ins, oos, ratio = d["in_sample"], d["out_of_sample"], d["ratio"]

    def f(x: float | None) -> str:
        return "undefined" if x is None else f"{x:,.2f}"

    head = f"Out-of-sample {name} {f(oos)} against {f(ins)} in sample (mean of the windows' chosen sets)"
    if ratio is None:
        why = "undefined in sample" if ins is None else "not positive in sample" if ins <= 0 else "undefined"
        return f"{head}: no OOS/IS ratio ({name} {why})."
    if ratio >= 1:
        return f"{head}: OOS/IS = {ratio:.2f}, no degradation."
    return f"{head}: OOS/IS = {ratio:.2f}, {(1 - ratio) * 100:.0f}% lower out of sample."
