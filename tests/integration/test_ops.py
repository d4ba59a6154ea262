"""`tron ops pause|resume|status` with the real google-cloud-scheduler client (gRPC) against a local Cloud
Scheduler (tests/support/fakes/scheduler.py), through the CLI entry point, errors included."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.support.fakes.scheduler import FakeScheduler
from tron.adapters.scheduler import SchedulerJobs, SchedulerUnavailable, UnknownJobs, make_client
from tron.cli import main
from tron.cli.ops import pause_targets, resume_targets
from tron.config import schedule

PROJECT, REGION = "tron-test", "asia-south1"
JOBS = schedule.load()
NAMES = [j.name for j in JOBS]
TICKS = {a: [j.name for j in JOBS if j.function == f"tick_{a}"] for a in ("stocks", "futures", "options")}
SQUARE_OFF = [j.name for j in JOBS if j.function == "square_off"]
PLAN = [j.name for j in JOBS if j.function == "plan_day"]
EOD = [j.name for j in JOBS if j.function == "end_of_day"]


@pytest.fixture
def fake() -> Iterator[FakeScheduler]:
    with FakeScheduler() as f:
        for name in NAMES:
            f.add(PROJECT, REGION, name)
        f.add(PROJECT, REGION, "someone-elses-job")
        f.add("other-project", REGION, "tick-stocks-open")
        yield f


def ops(fake: FakeScheduler, *args: str) -> list[str]:
    return [
        "ops",
        *args,
        "--project",
        PROJECT,
        "--region",
        REGION,
        "--endpoint",
        fake.endpoint,
        "--timeout",
        "5",
    ]


def states(fake: FakeScheduler, names: list[str] = NAMES) -> dict[str, str]:
    return {n: fake.state(PROJECT, REGION, n) for n in names}


def test_the_selection_comes_from_the_schedule_file() -> None:
    assert pause_targets(JOBS, "all") == PLAN + [n for n in NAMES if n.startswith("tick-")]
    assert (
        pause_targets(JOBS, "futures")
        == TICKS["futures"]
        == [
            "tick-futures-open",
            "tick-futures-day",
            "tick-futures-close",
        ]
    )
    for asset in ("all", "stocks", "futures", "options"):
        assert not set(pause_targets(JOBS, asset)) & set(SQUARE_OFF + EOD), "square-off is never paused"
    assert set(resume_targets(JOBS, "all")) == set(NAMES)
    assert set(resume_targets(JOBS, "options")) == {*TICKS["options"], "square-off-fno-options", *EOD}


def test_pause_all_then_resume_all(fake: FakeScheduler, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ops(fake, "pause")) == 0
    out = capsys.readouterr().out
    after = states(fake)
    for name in PLAN + TICKS["stocks"] + TICKS["futures"] + TICKS["options"]:
        assert after[name] == "PAUSED", name
        assert f"{name}" in out and "ENABLED -> PAUSED" in out
    for name in SQUARE_OFF + EOD:
        assert after[name] == "ENABLED", name
    assert "left running on purpose: square-off-stocks" in out
    # only this project's jobs were touched
    assert fake.state(PROJECT, REGION, "someone-elses-job") == "ENABLED"
    assert fake.state("other-project", REGION, "tick-stocks-open") == "ENABLED"

    assert main(ops(fake, "resume", "--asset", "all")) == 0
    assert set(states(fake).values()) == {"ENABLED"}


def test_pause_one_asset_leaves_the_others(fake: FakeScheduler, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ops(fake, "pause", "--asset", "options"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["job"] for r in report["jobs"]] == TICKS["options"]
    assert all(r["changed"] and r["after"] == "PAUSED" and r["error"] is None for r in report["jobs"])
    paused = {n for n, s in states(fake).items() if s == "PAUSED"}
    assert paused == set(TICKS["options"])


def test_pause_twice_is_harmless_and_says_so(fake: FakeScheduler, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ops(fake, "pause", "--asset", "stocks")) == 0
    capsys.readouterr()
    n = len(fake.mutations())
    assert main(ops(fake, "pause", "--asset", "stocks")) == 0
    assert "already PAUSED" in capsys.readouterr().out
    assert len(fake.mutations()) == n, "no call for a job already in the wanted state"


def test_resume_also_restores_a_paused_square_off(fake: FakeScheduler) -> None:
    for name in NAMES:  # as terraform's pause_schedules=true leaves them
        fake.add(PROJECT, REGION, name, paused=True)
    assert main(ops(fake, "resume", "--asset", "stocks")) == 0
    s = states(fake)
    assert {n for n, v in s.items() if v == "ENABLED"} == {*TICKS["stocks"], "square-off-stocks", *EOD}


def test_a_missing_job_changes_nothing_and_exits_2(
    fake: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    del fake.jobs[f"projects/{PROJECT}/locations/{REGION}/jobs/tick-futures-day"]
    assert main(ops(fake, "pause")) == 2
    err = capsys.readouterr().err
    assert "no Cloud Scheduler job tick-futures-day" in err and "nothing was changed" in err
    assert fake.mutations() == []
    assert set(states(fake, [n for n in NAMES if n != "tick-futures-day"]).values()) == {"ENABLED"}


def test_wrong_region_is_a_clear_error(fake: FakeScheduler, capsys: pytest.CaptureFixture[str]) -> None:
    args = ops(fake, "pause")
    args[args.index(REGION)] = "europe-west1"
    assert main(args) == 2
    assert "in projects/tron-test/locations/europe-west1" in capsys.readouterr().err
    assert fake.mutations() == []


def test_a_failed_call_is_reported_and_the_rest_still_done(
    fake: FakeScheduler, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail["tick-stocks-day"] = grpc.StatusCode.PERMISSION_DENIED
    assert main(ops(fake, "pause")) == 1
    captured = capsys.readouterr()
    assert "tick-stocks-day" in captured.out and "FAILED, still ENABLED: PERMISSION_DENIED" in captured.out
    assert (
        "1 of" in captured.err
        and "tick-stocks-day" in captured.err
        and "run the same command again" in captured.err
    )
    s = states(fake)
    assert s["tick-stocks-day"] == "ENABLED"
    assert all(s[n] == "PAUSED" for n in pause_targets(JOBS, "all") if n != "tick-stocks-day")
    # the same command again finishes the job
    assert main(ops(fake, "pause")) == 0
    assert states(fake)["tick-stocks-day"] == "PAUSED"


def test_no_project_exits_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("CLOUDSDK_CORE_PROJECT", raising=False)
    assert main(["ops", "pause", "--endpoint", "127.0.0.1:9"]) == 2
    assert "no project" in capsys.readouterr().err


def test_no_credentials_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Google's endpoint with no Application Default Credentials: refused before any call."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    assert main(["ops", "pause", "--project", PROJECT]) == 2
    assert "no Google credentials" in capsys.readouterr().err


def test_an_unreachable_endpoint_fails_fast_with_nothing_changed(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeScheduler() as gone:
        endpoint = gone.endpoint
    code = main(["ops", "pause", "--project", PROJECT, "--endpoint", endpoint, "--timeout", "2"])
    assert code == 1
    err = capsys.readouterr().err
    assert "could not list the Cloud Scheduler jobs" in err and "nothing was changed" in err


def test_status_lists_every_job(fake: FakeScheduler, capsys: pytest.CaptureFixture[str]) -> None:
    main(ops(fake, "pause", "--asset", "futures"))
    capsys.readouterr()
    assert main([*ops(fake, "status"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert set(rows) == set(NAMES)
    assert {n for n, s in rows.items() if s == "PAUSED"} == set(TICKS["futures"])


def test_adapter_refuses_unknown_names_before_any_call(fake: FakeScheduler) -> None:
    sched = SchedulerJobs(make_client(fake.endpoint), PROJECT, REGION, timeout_s=5)
    with pytest.raises(UnknownJobs) as e:
        sched.set_paused(["tick-stocks-open", "tick-crypto"], paused=True)
    assert e.value.missing == ["tick-crypto"]
    assert fake.mutations() == []
    bad = SchedulerJobs(make_client(fake.endpoint), PROJECT, "not a region", timeout_s=5)
    with pytest.raises(SchedulerUnavailable, match="INVALID_ARGUMENT"):
        bad.states()


def test_the_installed_command(fake: FakeScheduler) -> None:
    """The console script, as a user runs it."""
    exe = Path(sys.executable).with_name("tron")
    proc = subprocess.run(
        [str(exe), *ops(fake, "pause", "--asset", "stocks")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "tick-stocks-open" in proc.stdout
    assert {n for n, s in states(fake).items() if s == "PAUSED"} == set(TICKS["stocks"])
