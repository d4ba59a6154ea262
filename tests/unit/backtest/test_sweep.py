"""tron.backtest.sweep on a local archive folder (tron.adapters.localfs): which files of the bars are uploaded
and when they are not uploaded again, their checks on the way down, a task list that cannot be read, and the
submitter's waiting (results already there, a timeout). The Cloud Run side is in
tests/integration/test_sweep_cloud_run.py."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.backtest.test_optimize import DAYS, _day
from tron.adapters.localfs import LocalArchive
from tron.backtest import sweep
from tron.backtest.data import InputError
from tron.backtest.tasks import RunSpec, Task, run_local
from tron.domain.risk import RiskLimits


class Counting(LocalArchive):
    """A local archive that counts its writes."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes: list[str] = []

    def write(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self.writes.append(path)
        return super().write(path, data, content_type)


class NeverDone:
    """A launcher whose execution never ends and never writes."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str, int]] = []

    def run(self, job: str, run_id: str, count: int) -> str:
        self.started.append((job, run_id, count))
        return f"projects/p/locations/r/jobs/{job}/executions/{job}-x"

    def finished(self, execution: str) -> str | None:
        return None


def test_only_the_files_the_loader_reads_are_uploaded_once(tmp_path: Path) -> None:
    root = tmp_path / "bars"
    (root / "INFY").mkdir(parents=True)
    (root / "instruments").mkdir()
    (root / "TCS.csv").write_text("date,open,high,low,close,volume\n")
    (root / "INFY" / "2025-01.parquet").write_bytes(b"p1")
    (root / "INFY" / "2025-02.parquet").write_bytes(b"p2")
    (root / "INFY" / "notes.parquet").write_bytes(b"no")
    (root / "instruments" / "2025-01-02.csv.gz").write_bytes(b"dump")
    (root / "README.txt").write_text("no")
    assert [p.relative_to(root).as_posix() for p in sweep.data_files(root)] == [
        "INFY/2025-01.parquet",
        "INFY/2025-02.parquet",
        "TCS.csv",
    ]
    assert sweep.data_files(root / "INFY") == [
        root / "INFY" / "2025-01.parquet",
        root / "INFY" / "2025-02.parquet",
    ]
    assert sweep.data_files(root / "TCS.csv") == [root / "TCS.csv"]
    with pytest.raises(InputError, match=r"no \*\.csv files"):
        sweep.data_files(root / "instruments")
    with pytest.raises(InputError, match="data file not found"):
        sweep.data_files(tmp_path / "missing")

    archive = Counting(tmp_path / "archive")
    ds = sweep.upload_data(archive, root)
    prefix = f"sweeps/data/{ds.key}"
    assert archive.writes == [
        f"{prefix}/bars/INFY/2025-01.parquet",
        f"{prefix}/bars/INFY/2025-02.parquet",
        f"{prefix}/bars/TCS.csv",
        f"{prefix}/manifest.json",  # last: marks the upload complete
    ]
    assert sweep.upload_data(archive, root) == ds and len(archive.writes) == 4  # there already
    (root / "TCS.csv").write_text("date,open,high,low,close,volume\n1\n")
    changed = sweep.upload_data(archive, root)
    assert changed.key != ds.key and len(archive.writes) == 8  # new contents, new key

    down = sweep.fetch_data(archive, changed, tmp_path / "down")
    assert down == tmp_path / "down" / "bars"
    assert (down / "TCS.csv").read_bytes() == (root / "TCS.csv").read_bytes()
    assert not (down / "instruments").exists()
    archive.write(f"sweeps/data/{changed.key}/bars/TCS.csv", b"tampered")
    with pytest.raises(sweep.SweepError, match="does not match its hash"):
        sweep.fetch_data(archive, changed, tmp_path / "again")
    with pytest.raises(ValueError, match="not a clean relative path"):
        sweep.DataSet.from_doc(
            {"key": "k", "root": "r", "files": [{"path": "../x", "sha256": "", "size": 0}]}
        )


@pytest.fixture
def bars(tmp_path: Path) -> Path:
    lines = ["date,open,high,low,close,volume"]
    for i, d in enumerate(DAYS[:4]):
        lines += _day(d, 0.3 + 0.1 * i)
    path = tmp_path / "ORBX.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def tasks(bars: Path) -> list[Task]:
    spec = RunSpec(str(bars), RiskLimits(capital=Decimal(1_000_000)).to_doc(), charges=False)
    return [
        Task(i, 0, "train", i, DAYS[0], DAYS[3], (("orb", {"range_minutes": r}),), spec)
        for i, r in enumerate((15.0, 30.0, 45.0))
    ]


def test_a_run_done_before_is_collected_without_starting_anything(bars: Path, tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path / "archive")
    launcher = NeverDone()
    runner = sweep.CloudRunRunner(archive, launcher, "tron-sweep", tasks=2, poll_s=0)
    run = runner.submit(tasks(bars))
    assert (run.count, run.run_id()) == (2, runner.runs[0])
    assert sweep.Sweep.from_bytes(run.to_bytes(), "x") == run
    for i in range(2):  # what the two Cloud Run tasks do
        done = sweep.run_share(archive, run.run_id(), i, 2, tmp_path / f"task{i}")
        assert (done.tasks, done.skipped) == (2 - i, False)
    seen: list[int] = []
    assert runner(tasks(bars), seen.append) == run_local(tasks(bars), 1)
    assert launcher.started == [] and seen == [3]
    assert runner.runs == [run.run_id()] * 2  # the same run: its id is a hash of the tasks and the bars


def test_no_results_in_time_is_a_clear_error(bars: Path, tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path / "archive")
    launcher = NeverDone()
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += 30

    runner = sweep.CloudRunRunner(
        archive, launcher, "tron-sweep", tasks=8, timeout_s=60, sleep=sleep, clock=lambda: now[0]
    )
    with pytest.raises(sweep.SweepError) as e:
        runner(tasks(bars))
    rid = runner.runs[0]
    assert launcher.started == [("tron-sweep", rid, 3)]  # fewer tasks than --tasks: one backtest each
    assert f"no results of 3 Cloud Run task(s) (0, 1, 2) of run {rid} after 60 s" in str(e.value)
    assert "jobs/tron-sweep/executions/tron-sweep-x is still running" in str(e.value)


def test_a_task_list_that_cannot_be_read(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path / "archive")
    good = sweep.DataSet("k", "bars", ()).to_doc()
    for doc, message in (
        ({"version": 2, "count": 1, "data": good, "tasks": []}, "version 2, this program reads version 1"),
        ({"version": 1, "count": 0, "data": good, "tasks": []}, "count 0 is not 1"),
        ({"version": 1, "data": good, "tasks": []}, "missing key 'count'"),
        ({"version": 1, "count": 1, "data": good, "tasks": [{"index": 0}]}, "missing key"),
    ):
        archive.write("sweeps/00000000000000aa/tasks.json", json.dumps(doc).encode())
        with pytest.raises(sweep.SweepError, match=message):
            sweep.run_share(archive, "00000000000000aa", 0, 1, tmp_path)
    assert not (tmp_path / "archive" / "sweeps" / "00000000000000aa" / "results").exists()
