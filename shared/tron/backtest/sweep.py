"""Sweeps on Cloud Run jobs: the objects a run keeps in the archive bucket, the task side (one Cloud Run task
runs its share) and the submitting side (upload, start one execution, wait for the results).

A run is one batch of tasks (tron.backtest.tasks; a walk-forward submits two: training, then test) cut for
``count`` Cloud Run tasks. Its objects, all under ``sweeps/``:

* ``sweeps/data/{key}/…``: the bars, as the files tron.backtest.data.load reads (a CSV or Parquet file, or
  a folder's symbol files and month folders; other files are not uploaded), keyed by a hash of their names
  and contents, so a run's two batches and any later run on the same bars share one upload;
  ``manifest.json`` is written last and marks the upload complete.
* ``sweeps/{run}/tasks.json``: the run (:class:`Sweep`): the task count, the bars' :class:`DataSet` and the
  tasks, whose spec names the bars by their root name. The run id is a hash of this file, so submitting
  the same sweep again finds the same run and reuses the results already there.
* ``sweeps/{run}/results/{index:05d}.json``: what Cloud Run task ``index`` produced, a JSON list of
  TaskResult docs, one per task of its :func:`~tron.backtest.tasks.share`. Results are a pure function
  of the run, so a retried task writes the same bytes; a task whose object is already there and holds
  its share does not run again.

:func:`run_share` is the task side (`tron sweep-task`), :class:`CloudRunRunner` the submitting side: a
walk_forward runner that starts the job through a :class:`JobLauncher` (the Cloud Run Admin API in
tron.adapters.cloud_run_jobs) and polls the bucket. Both reach the bucket only through the Archive port.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from tron.backtest.data import InputError
from tron.backtest.tasks import Task, TaskResult, run_task, share
from tron.ports import Archive

PREFIX = "sweeps"
VERSION = 1
RUN_ENV = "TRON_SWEEP_RUN"  # the job's environment override naming the run
MAX_TASKS = 10_000  # Cloud Run's limit on an execution's task count
_RUN_ID = re.compile(r"[0-9a-f]{16}")
_MONTH = re.compile(r"\d{4}-\d{2}")


class SweepError(RuntimeError):
    """A run that cannot go on: its task list or bars missing or unreadable, a task that failed, an
    execution that ended without its results, or no results in time. The message says which and where."""


def tasks_path(run: str) -> str:
    return f"{PREFIX}/{run}/tasks.json"


def result_path(run: str, index: int) -> str:
    return f"{PREFIX}/{run}/results/{index:05d}.json"


def data_prefix(key: str) -> str:
    return f"{PREFIX}/data/{key}"


def check_run_id(run: str) -> str:
    """``run`` when it is a run id (16 hex digits), else SweepError."""
    if not _RUN_ID.fullmatch(run):
        raise SweepError(f"{RUN_ENV}={run!r} is not a sweep run id (16 hex digits)")
    return run


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------------------------------------- the bars
@dataclass(frozen=True)
class DataSet:
    """Bars uploaded to the archive: ``root`` (the file's or folder's name, what the tasks' spec names),
    ``files`` (each file's path from the root's parent, sha256 and size) and ``key`` (a hash of the
    names and contents: where they are, ``sweeps/data/{key}/``)."""

    key: str
    root: str
    files: tuple[tuple[str, str, int], ...]

    def to_doc(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "root": self.root,
            "files": [{"path": p, "sha256": h, "size": n} for p, h, n in self.files],
        }

    @staticmethod
    def from_doc(d: Mapping[str, Any]) -> DataSet:
        files = tuple((str(f["path"]), str(f["sha256"]), int(f["size"])) for f in d["files"])
        for path, _, _ in files:
            parts = PurePosixPath(path).parts
            if path.startswith("/") or not parts or any(p in ("", ".", "..") for p in parts):
                raise ValueError(f"data file {path!r} is not a clean relative path")
        return DataSet(str(d["key"]), str(d["root"]), files)


def data_files(path: Path) -> list[Path]:
    """The files tron.backtest.data.load reads at ``path``: the file itself; a folder's month files
    (``YYYY-MM.parquet``); else its ``*.csv`` and ``*.parquet`` files and its sub-folders' month files.
    Everything else (instruments dumps, notes) stays home. InputError when there is nothing to read."""

    def months(folder: Path) -> list[Path]:
        return sorted(
            p for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() == ".parquet" and _MONTH.fullmatch(p.stem)
        )  # fmt: skip

    if not path.exists():
        raise InputError(f"data file not found: {path}")
    if path.is_file():
        return [path]
    if found := months(path):
        return found
    out: list[Path] = []
    for p in sorted(path.iterdir(), key=lambda p: p.name):
        if p.is_file() and p.suffix.lower() in (".csv", ".parquet"):
            out.append(p)
        elif p.is_dir():
            out.extend(months(p))
    if not out:
        raise InputError(
            f"no *.csv files, *.parquet files or symbol folders of YYYY-MM.parquet months in {path}"
        )
    return out


def upload_data(archive: Archive, path: Path) -> DataSet:
    """Put the bars at ``path`` (:func:`data_files`) in the archive, unless the same files are there
    already (their manifest is); the :class:`DataSet` naming them."""
    path = Path(path)
    root = path.resolve().name or "data"
    base = path.parent if path.is_file() else path
    files = []
    for f in data_files(path):
        rel = root if path.is_file() else f"{root}/{f.relative_to(base).as_posix()}"
        blob = f.read_bytes()
        files.append((rel, _sha256(blob), len(blob)))
    key = _sha256(_canonical([[p, h] for p, h, _ in files]))[:32]
    ds = DataSet(key, root, tuple(files))
    manifest = _canonical(ds.to_doc())
    where = f"{data_prefix(key)}/manifest.json"
    if archive.read(where) == manifest:
        return ds
    for f, (rel, _, _) in zip(data_files(path), files, strict=True):
        archive.write(f"{data_prefix(key)}/{rel}", f.read_bytes())
    archive.write(where, manifest, "application/json")
    return ds


def fetch_data(archive: Archive, ds: DataSet, into: Path) -> Path:
    """Download the bars into the folder ``into``, each file checked against its hash; the local path
    the tasks' spec should name. SweepError for a file missing or changed."""
    for rel, sha, _ in ds.files:
        where = f"{data_prefix(ds.key)}/{rel}"
        blob = archive.read(where)
        if blob is None:
            raise SweepError(f"the bars' file {where} is missing from the archive: submit the sweep again")
        if _sha256(blob) != sha:
            raise SweepError(f"the bars' file {where} does not match its hash in the task list")
        dest = into.joinpath(*PurePosixPath(rel).parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(blob)
    return into / ds.root


# ---------------------------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class Sweep:
    """A run as stored at ``sweeps/{run}/tasks.json``: the number of Cloud Run tasks it is cut for, the
    bars and the tasks (their spec's ``data`` is the bars' root name)."""

    count: int
    data: DataSet
    tasks: tuple[Task, ...]

    def to_bytes(self) -> bytes:
        """Canonical JSON: the same run always gives the same bytes (and :meth:`run_id`)."""
        return _canonical(
            {
                "version": VERSION,
                "count": self.count,
                "data": self.data.to_doc(),
                "tasks": [t.to_doc() for t in self.tasks],
            }
        )

    def run_id(self) -> str:
        """16 hex digits of the hash of :meth:`to_bytes`."""
        return _sha256(self.to_bytes())[:16]

    @staticmethod
    def from_bytes(raw: bytes, where: str) -> Sweep:
        """Read a task list; SweepError naming ``where`` for one that is not JSON or not a version-1 run."""
        try:
            doc = json.loads(raw)
            if doc.get("version") != VERSION:
                raise ValueError(f"version {doc.get('version')!r}, this program reads version {VERSION}")
            count = int(doc["count"])
            if not 1 <= count <= MAX_TASKS:
                raise ValueError(f"count {count} is not 1 … {MAX_TASKS}")
            return Sweep(count, DataSet.from_doc(doc["data"]), tuple(Task.from_doc(t) for t in doc["tasks"]))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            why = f"missing key {e}" if isinstance(e, KeyError) else str(e)
            raise SweepError(f"{where} is not a readable sweep task list: {why}") from None


def encode_results(results: Sequence[TaskResult]) -> bytes:
    """A result object's bytes: the same results always give the same bytes."""
    return json.dumps([r.to_doc() for r in results], separators=(",", ":")).encode()


def read_results(archive: Archive, run: str, index: int, tasks: Sequence[Task]) -> list[TaskResult] | None:
    """Task ``index``'s results when its object is there, parses and holds exactly ``tasks`` (its share);
    None otherwise (not written yet, or something else: it will be written again)."""
    raw = archive.read(result_path(run, index))
    if raw is None:
        return None
    try:
        results = [TaskResult.from_doc(d) for d in json.loads(raw)]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if [r.index for r in results] != [t.index for t in tasks]:
        return None
    return results


@dataclass(frozen=True)
class ShareDone:
    """What :func:`run_share` did: the backtests of this Cloud Run task, whether they had already run (its
    result object was there) and where the results are."""

    run: str
    index: int
    count: int
    tasks: int
    skipped: bool
    location: str


def run_share(archive: Archive, run: str, index: int, count: int, workdir: Path) -> ShareDone:
    """The task side: read run ``run``'s task list, take the share of Cloud Run task ``index`` of
    ``count`` and, unless its result object already holds it, download the bars into ``workdir``, run
    each task (:func:`~tron.backtest.tasks.run_task`) and write the results as one object. Nothing is
    written unless every task of the share ran. SweepError (nothing written) for an unknown run, an
    unreadable task list, a count or index that does not fit the run, missing bars or a failed task."""
    check_run_id(run)
    if not 0 <= index < count:
        raise SweepError(f"task index {index} is out of range for {count} tasks")
    where = tasks_path(run)
    raw = archive.read(where)
    if raw is None:
        raise SweepError(f"no task list at {where}: no sweep {run} was submitted to this bucket")
    sweep = Sweep.from_bytes(raw, where)
    if count != sweep.count:
        raise SweepError(f"run {run} is cut for {sweep.count} Cloud Run tasks, this execution has {count}")
    mine = share(sweep.tasks, index, count)
    if read_results(archive, run, index, mine) is not None:
        return ShareDone(run, index, count, len(mine), True, result_path(run, index))
    local = str(fetch_data(archive, sweep.data, workdir))
    results = []
    for t in mine:
        try:
            results.append(run_task(replace(t, spec=replace(t.spec, data=local))))
        except (ValueError, InputError) as e:
            raise SweepError(
                f"task {t.index} (window {t.window}, {t.phase}) of run {run} failed: {e}"
            ) from None
    location = archive.write(result_path(run, index), encode_results(results), "application/json")
    return ShareDone(run, index, count, len(mine), False, location)


# ---------------------------------------------------------------------------------------------- submitting
class JobLauncher(Protocol):
    """Starts executions of a Cloud Run job and says when one has ended (tron.adapters.cloud_run_jobs)."""

    def run(self, job: str, run_id: str, count: int) -> str:
        """Start one execution of ``job`` with ``count`` tasks and ``TRON_SWEEP_RUN=run_id``; its name."""
        ...

    def finished(self, execution: str) -> str | None:
        """None while the execution runs; once it has ended, one line saying how (tasks succeeded and
        failed, where its logs are)."""
        ...


Say = Callable[[str], None]
Done = Callable[[int], None]


def _quiet(_line: str) -> None:
    pass


class CloudRunRunner:
    """A walk_forward runner on Cloud Run jobs: each batch of tasks becomes a run (the bars and
    ``tasks.json`` uploaded, the run id a hash of it), cut for ``tasks`` Cloud Run tasks (fewer when the
    batch is smaller), started as one execution of ``job`` unless every result is already there, then
    collected from the bucket every ``poll_s`` seconds until all are in; ``done(n)`` reports the
    backtests finished, ``say`` a line per run. Results come in the tasks' order. SweepError when the
    execution ends without them or ``timeout_s`` passes; the launcher's own errors pass through."""

    def __init__(
        self,
        archive: Archive,
        launcher: JobLauncher,
        job: str,
        tasks: int,
        poll_s: float = 5.0,
        timeout_s: float = 7200.0,
        say: Say = _quiet,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= tasks <= MAX_TASKS:
            raise ValueError(f"the Cloud Run task count must be 1 … {MAX_TASKS}, got {tasks}")
        self.archive, self.launcher, self.job, self.tasks = archive, launcher, job, tasks
        self.poll_s, self.timeout_s, self.say, self.sleep, self.clock = poll_s, timeout_s, say, sleep, clock
        self.runs: list[str] = []  # the run ids submitted, in order
        self.executions: list[str] = []  # the executions started (none for a run found complete)
        self._data: dict[str, DataSet] = {}

    def submit(self, tasks: Sequence[Task]) -> Sweep:
        """Upload the bars (once per runner) and the task list; the run as stored."""
        paths = {t.spec.data for t in tasks}
        if len(paths) != 1:
            raise ValueError(f"one run reads one set of bars, these tasks name {len(paths)}")
        data = paths.pop()
        if data not in self._data:
            self._data[data] = upload_data(self.archive, Path(data))
        ds = self._data[data]
        count = min(self.tasks, len(tasks))
        sweep = Sweep(count, ds, tuple(replace(t, spec=replace(t.spec, data=ds.root)) for t in tasks))
        body, run = sweep.to_bytes(), sweep.run_id()
        if self.archive.read(tasks_path(run)) != body:
            self.archive.write(tasks_path(run), body, "application/json")
        self.runs.append(run)
        return sweep

    def __call__(self, tasks: Sequence[Task], done: Done | None = None) -> list[TaskResult]:
        if not tasks:
            return []
        sweep = self.submit(tasks)
        run, count = sweep.run_id(), sweep.count
        shares = {i: share(sweep.tasks, i, count) for i in range(count)}
        got: dict[int, list[TaskResult]] = {}

        def collect() -> None:
            for i in sorted(set(shares) - set(got)):
                rs = read_results(self.archive, run, i, shares[i])
                if rs is not None:
                    got[i] = rs
            if done:
                done(sum(len(rs) for rs in got.values()))

        collect()
        execution = None
        if len(got) < count:
            execution = self.launcher.run(self.job, run, count)
            self.executions.append(execution)
            self.say(f"sweep {run}: {len(tasks)} backtests on {count} Cloud Run tasks, execution {execution}")
        else:
            self.say(f"sweep {run}: all {len(tasks)} results already in the bucket")
        start = self.clock()
        while len(got) < count:
            self.sleep(self.poll_s)
            collect()
            if len(got) == count:
                break
            assert execution is not None
            ended = self.launcher.finished(execution)
            if ended is not None:
                collect()  # a result written just before the execution ended
                if len(got) < count:
                    raise SweepError(
                        f"execution {execution} ended ({ended}) without the results of "
                        f"{self._missing(shares, got)} of run {run}: see its logs"
                    )
            elif self.clock() - start > self.timeout_s:
                raise SweepError(
                    f"no results of {self._missing(shares, got)} of run {run} after {self.timeout_s:.0f} s; "
                    f"execution {execution} is still running: the same command run later collects what it "
                    "has written"
                )
        by_index = {r.index: r for rs in got.values() for r in rs}
        return [by_index[t.index] for t in tasks]

    @staticmethod
    def _missing(shares: Mapping[int, Sequence[Task]], got: Mapping[int, Any]) -> str:
        missing = sorted(set(shares) - set(got))
        head = ", ".join(str(i) for i in missing[:10]) + (" …" if len(missing) > 10 else "")
        return f"{len(missing)} Cloud Run task(s) ({head})"
