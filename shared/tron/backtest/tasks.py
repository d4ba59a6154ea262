"""The unit of work of a parameter sweep or a walk-forward: a small description (:class:`Task`) and a pure
function of it (:func:`run_task`), so any runner can execute the same tasks and get the same results.

A task names everything its backtest needs and nothing else: the bars (a CSV file or folder, read by
tron.backtest.data), the days (a first and a last date, both included), the strategies with their
parameters, the risk limits as stored (``RiskLimits.to_doc``), the fill model, slippage and charges. It
pickles (a local process pool) and round-trips through JSON (:meth:`Task.to_doc`, for a runner that ships
tasks to another machine, one task or share of tasks per Cloud Run task index: :func:`share`). Its result
(:class:`TaskResult`) carries the objectives (Sharpe, Calmar, net P&L) and, when asked, the equity curve
for stitching out-of-sample windows together; it round-trips through JSON too.

:func:`run_local` runs tasks on a ``ProcessPoolExecutor`` (or in this process with one worker); results
come back in the tasks' order, identical whatever the number of workers. Each process reads the bars once
(:func:`load_sessions` is cached per file fingerprint) and makes each task's sessions from them; under the
``fork`` start method the workers inherit the parent's already read bars.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from tron.backtest import data as bdata
from tron.backtest.engine import IntradayConfig, run_intraday
from tron.backtest.metrics import cagr_pct, daily_equity, max_drawdown_pct, sharpe
from tron.domain.models import Asset
from tron.domain.plan import AssetPlan, StrategyChoice
from tron.domain.risk import RiskLimits

TRAIN, TEST = "train", "test"


@dataclass(frozen=True)
class RunSpec:
    """What every task of one sweep shares: the bars (a local CSV file or folder of CSV files), the risk
    limits as stored (``RiskLimits.to_doc()``), the fill model, slippage in basis points and whether
    Zerodha's charges apply (tron.backtest.engine.IntradayConfig)."""

    data: str
    risk: Mapping[str, Any]
    fill: str = "next-open"
    slippage_bps: float = 0.0
    charges: bool = True

    def to_doc(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_doc` reads it."""
        return {
            "data": self.data,
            "risk": dict(self.risk),
            "fill": self.fill,
            "slippage_bps": self.slippage_bps,
            "charges": self.charges,
        }

    @staticmethod
    def from_doc(d: Mapping[str, Any]) -> RunSpec:
        return RunSpec(
            str(d["data"]), dict(d["risk"]), str(d["fill"]), float(d["slippage_bps"]), bool(d["charges"])
        )


@dataclass(frozen=True)
class Task:
    """One backtest: the registry strategies ``choices`` (name → parameters) over the sessions of the
    spec's bars from ``first`` to ``last``. ``index`` is its place in the run's list of tasks (results are
    matched to tasks by it); ``window``, ``phase`` (train: in-sample, test: out-of-sample) and ``point``
    (the parameter set's place in the grid) say what it is part of; ``curve``: keep the equity curve."""

    index: int
    window: int
    phase: str
    point: int
    first: date
    last: date
    choices: tuple[tuple[str, Mapping[str, float]], ...]
    spec: RunSpec
    curve: bool = False

    def plan(self) -> AssetPlan:
        """The stocks plan the task backtests."""
        return AssetPlan(
            Asset.STOCKS,
            True,
            tuple(StrategyChoice(name, dict(params)) for name, params in self.choices),
            RiskLimits.from_doc(dict(self.spec.risk)),
            "optimize",
        )

    def to_doc(self) -> dict[str, Any]:
        """JSON-ready; :meth:`from_doc` reads it."""
        return {
            "index": self.index,
            "window": self.window,
            "phase": self.phase,
            "point": self.point,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "choices": [{"name": n, "params": dict(p)} for n, p in self.choices],
            "spec": self.spec.to_doc(),
            "curve": self.curve,
        }

    @staticmethod
    def from_doc(d: Mapping[str, Any]) -> Task:
        return Task(
            int(d["index"]),
            int(d["window"]),
            str(d["phase"]),
            int(d["point"]),
            date.fromisoformat(d["first"]),
            date.fromisoformat(d["last"]),
            tuple((str(c["name"]), {str(k): float(v) for k, v in c["params"].items()}) for c in d["choices"]),
            RunSpec.from_doc(d["spec"]),
            bool(d.get("curve", False)),
        )


@dataclass(frozen=True)
class TaskResult:
    """What a task produced: its identity (``index``, ``window``, ``phase``, ``point``), the sessions run
    (``days``), closed ``trades``, the ``net`` P&L in rupees (final equity − capital), ``capital``, and the
    objectives as tron.backtest.metrics.summarize defines them: ``sharpe`` (daily returns), ``calmar``
    (CAGR % / max drawdown %; None when either is undefined or the drawdown is 0), ``max_drawdown_pct``,
    ``total_return_pct``. With ``curve``: the equity marked at every bar (``equity``), the index of each
    day's last bar (``day_ends``) and the days (``dates``)."""

    index: int
    window: int
    phase: str
    point: int
    days: int
    trades: int
    net: Decimal
    capital: Decimal
    sharpe: float | None
    calmar: float | None
    max_drawdown_pct: float
    total_return_pct: float
    equity: tuple[float, ...] = ()
    day_ends: tuple[int, ...] = ()
    dates: tuple[date, ...] = field(default=())

    def to_doc(self) -> dict[str, Any]:
        """JSON-ready (money as strings, dates ISO); :meth:`from_doc` reads it."""
        return {
            "index": self.index,
            "window": self.window,
            "phase": self.phase,
            "point": self.point,
            "days": self.days,
            "trades": self.trades,
            "net": str(self.net),
            "capital": str(self.capital),
            "sharpe": self.sharpe,
            "calmar": self.calmar,
            "max_drawdown_pct": self.max_drawdown_pct,
            "total_return_pct": self.total_return_pct,
            "equity": list(self.equity),
            "day_ends": list(self.day_ends),
            "dates": [d.isoformat() for d in self.dates],
        }

    @staticmethod
    def from_doc(d: Mapping[str, Any]) -> TaskResult:
        return TaskResult(
            int(d["index"]),
            int(d["window"]),
            str(d["phase"]),
            int(d["point"]),
            int(d["days"]),
            int(d["trades"]),
            Decimal(str(d["net"])),
            Decimal(str(d["capital"])),
            None if d["sharpe"] is None else float(d["sharpe"]),
            None if d["calmar"] is None else float(d["calmar"]),
            float(d["max_drawdown_pct"]),
            float(d["total_return_pct"]),
            tuple(float(x) for x in d.get("equity", ())),
            tuple(int(x) for x in d.get("day_ends", ())),
            tuple(date.fromisoformat(x) for x in d.get("dates", ())),
        )


def objectives(day_equity: np.ndarray, equity: np.ndarray, capital: float) -> dict[str, float | None]:
    """Sharpe, Calmar, max drawdown % and total return % of an equity curve marked at every bar
    (``equity``) and at each day's end (``day_equity``), from ``capital``: the definitions of
    tron.backtest.metrics.summarize, shared by a task's result and the stitched out-of-sample curve."""
    e = np.concatenate([[capital], np.asarray(day_equity, dtype=np.float64)])
    r = e[1:] / e[:-1] - 1  # tron.backtest.metrics.daily_returns
    dd = max_drawdown_pct(equity, capital)
    final = float(e[-1])
    cagr = cagr_pct(final, capital, len(r))
    return {
        "sharpe": sharpe(r),
        "calmar": cagr / dd if cagr is not None and dd > 0 else None,
        "max_drawdown_pct": dd,
        "total_return_pct": (final / capital - 1) * 100,
    }


def _fingerprint(path: Path) -> tuple[Any, ...]:
    """What identifies the bars' contents cheaply: each file's name, size and modification time."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stats = [(str(p), p.stat()) for p in files]
    return tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats)


@lru_cache(maxsize=2)
def _sessions(data: str, _key: tuple[Any, ...]) -> bdata.BarSessions:
    return bdata.sessions_from_bars(bdata.load(Path(data)))


def load_sessions(data: str) -> bdata.BarSessions:
    """The sessions of the bars at ``data`` (tron.backtest.data.load: a CSV file or a folder of them), oldest
    first: the bars read once per process while the files are unchanged, each session made when a task
    reads it (kept, every session of a 50-symbol year would take gigabytes in each worker, more than a Cloud
    Run task's memory); InputError for a missing or bad file."""
    path = Path(data)
    if not path.exists():
        raise bdata.InputError(f"data file not found: {path}")
    return _sessions(data, _fingerprint(path))


def trading_days(data: str) -> list[date]:
    """The days the bars at ``data`` hold, oldest first (what walk-forward windows are cut from)."""
    return load_sessions(data).days


def run_task(task: Task) -> TaskResult:
    """Backtest one task through the intraday engine (the live decide()); a pure function of the task and
    the files it names. ValueError when the engine refuses a setting or no session falls in the days."""
    sessions = load_sessions(task.spec.data).between(task.first, task.last)
    if not sessions:
        raise ValueError(f"{task.spec.data} has no session from {task.first} to {task.last}")
    cfg = IntradayConfig(
        task.plan(), fill=task.spec.fill, slippage_bps=task.spec.slippage_bps, charges=task.spec.charges
    )
    result = run_intraday(sessions, cfg)
    capital = float(result.capital)
    day_eq = daily_equity(result.times, result.equity)
    obj = objectives(day_eq, result.equity, capital)
    ends: tuple[int, ...] = ()
    if task.curve:
        ordinals = np.array([t.date().toordinal() for t in result.times])
        ends = tuple(int(i) for i in np.flatnonzero(np.append(ordinals[1:] != ordinals[:-1], True)))
    return TaskResult(
        task.index,
        task.window,
        task.phase,
        task.point,
        len(sessions),
        sum(1 for t in result.trades if t.closed),
        result.final_equity - result.capital,
        result.capital,
        obj["sharpe"],
        obj["calmar"],
        float(obj["max_drawdown_pct"] or 0.0),
        float(obj["total_return_pct"] or 0.0),
        tuple(float(x) for x in result.equity) if task.curve else (),
        ends,
        tuple(sessions.days) if task.curve else (),
    )


def share(tasks: Sequence[Task], index: int, count: int) -> list[Task]:
    """The tasks a runner numbered ``index`` of ``count`` takes (Cloud Run's CLOUD_RUN_TASK_INDEX and
    CLOUD_RUN_TASK_COUNT): every ``count``-th task from ``index``. ValueError for an index out of range."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"task index {index} of {count}: want 0 ≤ index < count")
    return list(tasks[index::count])


def cpu_count() -> int:
    """The cores this process may run on (the default number of workers)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


Done = Callable[[int], None]


def start_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool of ``workers`` with its processes started now: under ``fork`` they are copies of this
    process as it is (its bars already read, no progress-bar thread running yet)."""
    gc.freeze()  # the objects read so far are shared, not copied by each worker's garbage collector
    try:
        pool = ProcessPoolExecutor(max_workers=workers)
        pool.submit(cpu_count).result()  # with fork, the first submit starts every worker
    finally:
        gc.unfreeze()
    return pool


def run_local(
    tasks: Sequence[Task], workers: int, done: Done | None = None, pool: ProcessPoolExecutor | None = None
) -> list[TaskResult]:
    """Run the tasks, in this process with one worker, else on a process pool of ``workers`` (or on
    ``pool``, kept by the caller across batches); ``done(n)`` after each task finishes. Results come in the
    tasks' order whatever the number of workers; a task's exception is raised here."""
    if workers < 1:
        raise ValueError(f"workers must be ≥ 1, got {workers}")
    out: dict[int, TaskResult] = {}
    if pool is None and (workers == 1 or len(tasks) <= 1):
        for t in tasks:
            out[t.index] = run_task(t)
            if done:
                done(len(out))
        return [out[t.index] for t in tasks]
    own = pool is None
    ex = pool or ProcessPoolExecutor(max_workers=min(workers, len(tasks)))
    try:
        futures = [ex.submit(run_task, t) for t in tasks]
        for f in as_completed(futures):
            r = f.result()
            out[r.index] = r
            if done:
                done(len(out))
    finally:
        if own:
            ex.shutdown(cancel_futures=True)
    return [out[t.index] for t in tasks]
