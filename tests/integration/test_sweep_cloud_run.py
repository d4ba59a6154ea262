"""Sweeps on Cloud Run jobs (tron.backtest.sweep, `tron sweep-task`, `tron optimize --runner cloud-run`,
tron.adapters.cloud_run_jobs) against fake-gcs-server and a local Cloud Run Admin API that runs the job's
tasks as processes (tests/support/fakes/cloud_run.py).

The task contract: with the run's task list and bars in the bucket, the entry point run as Cloud Run runs
it (CLOUD_RUN_TASK_INDEX/COUNT, TRON_SWEEP_RUN, the gcp backend's variables) writes one result object per
task index, whose union is what the local runner computes; a retry leaves the same object; bad input
exits non-zero with nothing written. The submitter: the same walk-forward as `--workers 1`, a second
submission reusing the results, and the Admin API's requests and error answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from google.cloud import storage

from tests.support.emulators import PROJECT
from tests.support.fakes.cloud_run import FakeCloudRun, Job
from tests.unit.backtest.test_optimize import DAYS, _day
from tron.adapters.cloud_run_jobs import CloudRunJobs, LaunchError
from tron.adapters.gcs_archive import GcsArchive
from tron.backtest import sweep
from tron.backtest.tasks import RunSpec, Task, TaskResult, run_local
from tron.cli import main
from tron.devtools.emulators import Server
from tron.domain.risk import RiskLimits

REGION, JOB = "asia-south1", "tron-sweep"
TASK = [sys.executable, "-m", "tron.cli", "sweep-task"]


@pytest.fixture(scope="module")
def bars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nine trading days of one symbol whose opening range pays only at 30 minutes (as test_optimize), and
    a file the loader ignores (it is not uploaded)."""
    folder = tmp_path_factory.mktemp("sweep") / "bars"
    folder.mkdir()
    lines = ["date,open,high,low,close,volume"]
    for i, d in enumerate(DAYS[:9]):
        lines += _day(d, 0.25 + 0.25 * ((i * 7) % 10) / 9)
    (folder / "ORBX.csv").write_text("\n".join(lines) + "\n")
    (folder / "notes.txt").write_text("not bars\n")
    return folder


def job_env(gcs: Server, bucket: str) -> dict[str, str]:
    """What infra/terraform's sweep job sets (the gcp backend on the archive bucket), on fake-gcs-server."""
    return {
        "TRON_BACKEND": "gcp",
        "TRON_ARCHIVE_BUCKET": bucket,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "STORAGE_EMULATOR_HOST": gcs.url,
    }


def tasks_of(bars: Path) -> list[Task]:
    """Five backtests: four parameter sets on six days, and one with its equity curve on two."""
    spec = RunSpec(str(bars), RiskLimits(capital=Decimal(1_000_000)).to_doc(), charges=False)
    sets = [(15.0, 0.05), (30.0, 0.05), (15.0, 0.2), (30.0, 0.2)]
    out = [
        Task(i, 0, "train", i, DAYS[0], DAYS[5], (("orb", {"range_minutes": r, "buffer_pct": b}),), spec)
        for i, (r, b) in enumerate(sets)
    ]
    out.append(Task(4, 0, "test", 1, DAYS[6], DAYS[7], (("orb", {"range_minutes": 30.0}),), spec, curve=True))
    return out


def objects(client: storage.Client, bucket: str) -> dict[str, tuple[bytes, int]]:
    """Every object of the bucket: name → (bytes, generation)."""
    return {b.name: (b.download_as_bytes(), int(b.generation or 0)) for b in client.list_blobs(bucket)}


def entry(
    env: dict[str, str], cwd: Path, index: str | None, count: str | None, run: str | None
) -> subprocess.Popen[str]:
    """`tron sweep-task` as Cloud Run starts it (in a folder without a config file)."""
    extra = {"CLOUD_RUN_TASK_INDEX": index, "CLOUD_RUN_TASK_COUNT": count, "TRON_SWEEP_RUN": run}
    full = {**os.environ, **env, **{k: v for k, v in extra.items() if v is not None}}
    return subprocess.Popen(
        TASK, env=full, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(p: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


@pytest.fixture
def submitted(
    bars: Path, gcs_client: storage.Client, gcs_bucket: str
) -> tuple[GcsArchive, sweep.Sweep, list[Task]]:
    """The five tasks submitted for two Cloud Run tasks (bars and tasks.json in the bucket), nothing run."""
    archive = GcsArchive(gcs_client, gcs_bucket)
    tasks = tasks_of(bars)
    runner = sweep.CloudRunRunner(archive, launcher=None, job=JOB, tasks=2)  # type: ignore[arg-type]
    return archive, runner.submit(tasks), tasks


# ---------------------------------------------------------------------------------------------- the task contract
def test_each_task_writes_its_share_and_the_union_is_the_local_run(
    submitted: tuple[GcsArchive, sweep.Sweep, list[Task]],
    fake_gcs_server: Server,
    gcs_client: storage.Client,
    gcs_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, run, tasks = submitted
    rid = run.run_id()
    before = objects(gcs_client, gcs_bucket)
    ds = run.data
    assert set(before) == {
        f"sweeps/{rid}/tasks.json",
        f"sweeps/data/{ds.key}/manifest.json",
        f"sweeps/data/{ds.key}/bars/ORBX.csv",  # notes.txt stays home
    }
    assert run.count == 2 and [t.spec.data for t in run.tasks] == ["bars"] * 5

    env = job_env(fake_gcs_server, gcs_bucket)
    procs = [entry(env, tmp_path, str(i), "2", rid) for i in (0, 1)]  # the two tasks at once
    for i, p in enumerate(procs):
        code, out, err = finish(p)
        assert code == 0, err
        assert f"sweep {rid} task {i} of 2: {3 - i} backtests, results written" in out

    after = objects(gcs_client, gcs_bucket)
    names = {f"sweeps/{rid}/results/00000.json", f"sweeps/{rid}/results/00001.json"}
    assert set(after) == set(before) | names
    got = {i: [TaskResult.from_doc(d) for d in json.loads(after[n][0])] for i, n in enumerate(sorted(names))}
    assert [r.index for r in got[0]] == [0, 2, 4] and [r.index for r in got[1]] == [1, 3]
    local = run_local(tasks, 1)
    assert sorted(got[0] + got[1], key=lambda r: r.index) == local  # to the last digit
    assert local[4].equity and local[1].net > 0  # the curve came back; range 30 pays

    # Cloud Run retries task 1 (here in this process, as the command runs it): its object is there, so it
    # is left as it is
    monkeypatch.chdir(tmp_path)
    for k, v in {
        **env,
        "CLOUD_RUN_TASK_INDEX": "1",
        "CLOUD_RUN_TASK_COUNT": "2",
        "TRON_SWEEP_RUN": rid,
    }.items():
        monkeypatch.setenv(k, v)
    assert main(["sweep-task"]) == 0
    assert "results already in the bucket" in capsys.readouterr().out
    assert objects(gcs_client, gcs_bucket) == after  # same bytes, same generation: not rewritten
    # a retry after a crash that left no object writes the same bytes again
    gcs_client.bucket(gcs_bucket).blob(f"sweeps/{rid}/results/00001.json").delete()
    assert main(["sweep-task"]) == 0
    assert "results written" in capsys.readouterr().out
    again = objects(gcs_client, gcs_bucket)
    assert again[f"sweeps/{rid}/results/00001.json"][0] == after[f"sweeps/{rid}/results/00001.json"][0]


def test_bad_input_exits_2_and_writes_nothing(
    submitted: tuple[GcsArchive, sweep.Sweep, list[Task]],
    fake_gcs_server: Server,
    gcs_client: storage.Client,
    gcs_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive, run, _ = submitted
    rid = run.run_id()
    env = job_env(fake_gcs_server, gcs_bucket)
    # the real entry point, started without the run id
    code, _, err = finish(entry(env, tmp_path, "0", "2", None))
    assert code == 2 and "TRON_SWEEP_RUN is not set" in err

    archive.write("sweeps/00000000000000ff/tasks.json", b"{not json")
    before = objects(gcs_client, gcs_bucket)
    monkeypatch.chdir(tmp_path)  # no config file
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cases: list[tuple[dict[str, str | None], str]] = [
        ({"CLOUD_RUN_TASK_INDEX": None}, "CLOUD_RUN_TASK_INDEX is not set"),
        ({"CLOUD_RUN_TASK_COUNT": "two"}, "CLOUD_RUN_TASK_COUNT='two' is not a whole number"),
        ({"CLOUD_RUN_TASK_INDEX": "2"}, "CLOUD_RUN_TASK_INDEX=2 is out of range for CLOUD_RUN_TASK_COUNT=2"),
        ({"CLOUD_RUN_TASK_COUNT": "3"}, f"run {rid} is cut for 2 Cloud Run tasks, this execution has 3"),
        ({"TRON_SWEEP_RUN": "../../etc"}, "is not a sweep run id"),
        ({"TRON_SWEEP_RUN": "0123456789abcdef"}, "no task list at sweeps/0123456789abcdef/tasks.json"),
        ({"TRON_SWEEP_RUN": "00000000000000ff"}, "is not a readable sweep task list"),
    ]
    for change, message in cases:
        good: dict[str, str | None] = {
            "CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "2", "TRON_SWEEP_RUN": rid,
        }  # fmt: skip
        for k, v in {**good, **change}.items():
            if v is None:
                monkeypatch.delenv(k, raising=False)
            else:
                monkeypatch.setenv(k, v)
        assert main(["sweep-task"]) == 2, change
        assert message in capsys.readouterr().err, change
    assert objects(gcs_client, gcs_bucket) == before


def test_a_failing_backtest_exits_2_and_writes_nothing(
    bars: Path,
    fake_gcs_server: Server,
    gcs_client: storage.Client,
    gcs_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive = GcsArchive(gcs_client, gcs_bucket)
    (good, *_rest) = tasks_of(bars)
    none = Task(1, 0, "train", 1, date(2030, 1, 1), date(2030, 1, 31), good.choices, good.spec)
    run = sweep.CloudRunRunner(archive, None, JOB, 1).submit([good, none])  # type: ignore[arg-type]
    before = objects(gcs_client, gcs_bucket)
    monkeypatch.chdir(tmp_path)
    for k, v in {
        **job_env(fake_gcs_server, gcs_bucket),
        "CLOUD_RUN_TASK_INDEX": "0",
        "CLOUD_RUN_TASK_COUNT": "1",
        "TRON_SWEEP_RUN": run.run_id(),
    }.items():
        monkeypatch.setenv(k, v)
    assert main(["sweep-task"]) == 2
    assert "task 1 (window 0, train) of run" in capsys.readouterr().err
    assert objects(gcs_client, gcs_bucket) == before


# ---------------------------------------------------------------------------------------------- the submitter
@pytest.fixture
def cloud_run(
    fake_gcs_server: Server, gcs_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeCloudRun]:
    """A local Admin API whose job runs `tron sweep-task` against fake-gcs-server; the submitter in this
    process reaches the same server."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs_server.url)
    work = tmp_path / "task"
    work.mkdir()
    with FakeCloudRun() as api:
        api.add(PROJECT, REGION, JOB, Job(TASK, job_env(fake_gcs_server, gcs_bucket), work))
        yield api


def optimize(bars: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(
        [
            "optimize", "--data", str(bars), "--strategy", "orb", "--capital", "1000000", "--charges", "none",
            "--train", "4d", "--test", "2d", "--grid", "range_minutes=15,30", "--grid", "buffer_pct=0.05,0.2",
            "--json", *argv,
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def on_cloud_run(api: FakeCloudRun, bucket: str, *argv: str) -> list[str]:
    return [
        "--runner", "cloud-run", "--project", PROJECT, "--region", REGION, "--bucket", bucket,
        "--endpoint", api.url, "--poll", "0.05", *argv,
    ]  # fmt: skip


def test_optimize_on_cloud_run_is_the_local_walk_forward(
    bars: Path, cloud_run: FakeCloudRun, gcs_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = optimize(bars, capsys, "--workers", "1")
    assert code == 0, err
    local = json.loads(out)
    code, out, err = optimize(bars, capsys, *on_cloud_run(cloud_run, gcs_bucket, "--tasks", "2"))
    assert code == 0, err + "\n".join(o for *_, o in cloud_run.outputs)
    remote = json.loads(out)
    runs = remote.pop("runs")
    assert (remote.pop("runner"), remote.pop("tasks"), local.pop("workers")) == ("cloud-run", 2, 1)
    assert remote == local  # the same chosen sets, stitched result and degradation, to the last digit
    assert [w["chosen"]["range_minutes"] for w in remote["windows"]] == [30, 30, 30]

    # two executions (training: 3 windows × 4 sets, then the 3 test runs), each on 2 tasks, named by run
    bodies = cloud_run.runs()
    assert len(runs) == 2 and len(bodies) == 2
    for body, rid in zip(bodies, runs, strict=True):
        assert body == {
            "overrides": {
                "containerOverrides": [{"name": "sweep", "env": [{"name": "TRON_SWEEP_RUN", "value": rid}]}],
                "taskCount": 2,
            }
        }
    cloud_run.wait()
    assert sorted((i, a, c) for i, a, c, _ in cloud_run.outputs) == [
        (0, 0, 0),
        (0, 0, 0),
        (1, 0, 0),
        (1, 0, 0),
    ]
    assert f"sweep {runs[0]}: 12 backtests on 2 Cloud Run tasks, execution projects/{PROJECT}" in err

    # the same sweep again: the same runs, every result already there, no execution started
    code, out, err = optimize(bars, capsys, *on_cloud_run(cloud_run, gcs_bucket, "--tasks", "2"))
    assert code == 0, err
    again = json.loads(out)
    assert again.pop("runs") == runs and len(cloud_run.runs()) == 2
    assert {k: v for k, v in again.items() if k not in ("runner", "tasks")} == local
    assert "all 12 results already in the bucket" in err


def test_an_execution_that_ends_without_results_is_a_clear_error(
    bars: Path,
    cloud_run: FakeCloudRun,
    gcs_bucket: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The job's image is not the sweep task (the placeholder terraform starts with): every task exits 0
    without writing, or fails; the command says so when the execution ends, not at the timeout."""
    for command, how in (
        ([sys.executable, "-c", "pass"], "2 of 2 tasks succeeded, 0 failed"),
        ([sys.executable, "-c", "raise SystemExit(3)"], "0 of 2 tasks succeeded, 2 failed"),
    ):
        cloud_run.jobs[f"projects/{PROJECT}/locations/{REGION}/jobs/{JOB}"].command = command
        code, _, err = optimize(bars, capsys, *on_cloud_run(cloud_run, gcs_bucket, "--tasks", "2"))
        assert code == 1, err
        assert f"ended ({how}; logs: https://console.cloud.google.com/logs" in err
        assert "without the results of 2 Cloud Run task(s) (0, 1) of run" in err


def test_the_run_request_and_the_admin_apis_error_answers(
    cloud_run: FakeCloudRun, bars: Path, gcs_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud_run.jobs[f"projects/{PROJECT}/locations/{REGION}/jobs/{JOB}"].command = [
        sys.executable,
        "-c",
        "pass",
    ]
    jobs = CloudRunJobs(requests.Session(), PROJECT, REGION, cloud_run.url, timeout_s=5)
    execution = jobs.run(JOB, "0123456789abcdef", 3)
    method, path, body = cloud_run.requests[-1]
    assert (method, path) == ("POST", f"/v2/projects/{PROJECT}/locations/{REGION}/jobs/{JOB}:run")
    assert body["overrides"]["taskCount"] == 3
    assert body["overrides"]["containerOverrides"][0]["env"] == [
        {"name": "TRON_SWEEP_RUN", "value": "0123456789abcdef"}
    ]
    assert execution.startswith(f"projects/{PROJECT}/locations/{REGION}/jobs/{JOB}/executions/{JOB}-")
    cloud_run.wait()
    assert jobs.finished(execution) == (
        f"3 of 3 tasks succeeded, 0 failed; logs: https://console.cloud.google.com/logs?execution="
        f"{execution.rsplit('/', 1)[-1]}"
    )
    assert cloud_run.requests[-1][:2] == ("GET", f"/v2/{execution}")

    with pytest.raises(
        LaunchError, match=r"run the Cloud Run job .*/jobs/nope: HTTP 404 NOT_FOUND: Resource 'nope'"
    ):
        jobs.run("nope", "0123456789abcdef", 1)
    cloud_run.refuse[JOB] = (403, "PERMISSION_DENIED", "Permission 'run.jobs.runWithOverrides' denied")
    with pytest.raises(
        LaunchError, match=r"HTTP 403 PERMISSION_DENIED: Permission 'run\.jobs\.runWithOverrides'"
    ):
        jobs.run(JOB, "0123456789abcdef", 1)
    # through the command: exit 1 with Google's answer, nothing started
    code, _, err = optimize(bars, capsys, *on_cloud_run(cloud_run, gcs_bucket, "--tasks", "2"))
    assert (
        code == 1 and "tron optimize: could not run the Cloud Run job" in err and "PERMISSION_DENIED" in err
    )
    # an Admin API that is not there: starting fails; reading an execution's state waits for the next poll
    gone = CloudRunJobs(requests.Session(), PROJECT, REGION, "http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(LaunchError, match="could not run the Cloud Run job"):
        gone.run(JOB, "0123456789abcdef", 1)
    assert gone.finished(execution) is None


def test_the_runner_options_are_checked(bars: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["--tasks", "4"], "--tasks: only with --runner cloud-run (locally: --workers)"),
        (["--runner", "cloud-run"], "--runner cloud-run needs --tasks N"),
        (["--runner", "cloud-run", "--tasks", "2", "--workers", "2"], "--workers runs locally"),
        (["--runner", "cloud-run", "--tasks", "10001"], "at most 10000 tasks"),
    ):
        code, _, err = optimize(bars, capsys, *argv)
        assert code == 2 and message in err, (argv, err)
