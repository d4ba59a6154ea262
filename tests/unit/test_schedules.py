"""schedules/jobs.yaml covers exactly the session, and the square-off beats the broker's."""

from __future__ import annotations

from datetime import date, time

from tron import schedule

DAY = date(2026, 11, 23)


def test_ticks_cover_exactly_09_15_to_15_29_per_asset() -> None:
    jobs = schedule.load()
    for asset in ("stocks", "futures", "options"):
        times = sorted(t.time() for j in jobs if j.function == f"tick_{asset}" for t in j.fire_times(DAY))
        assert len(times) == len(set(times)) == 375
        assert times[0] == time(9, 15) and times[-1] == time(15, 29)


def test_plan_before_the_open_and_square_off_before_the_broker() -> None:
    jobs = {j.name: j for j in schedule.load()}
    assert all(t.time() < time(9, 15) for t in jobs["plan-day"].fire_times(DAY))
    assert max(t.time() for t in jobs["square-off-stocks"].fire_times(DAY)) < time(15, 20)
    for name in ("square-off-fno-futures", "square-off-fno-options"):
        assert max(t.time() for t in jobs[name].fire_times(DAY)) < time(15, 25)
    assert all(t.time() > time(15, 30) for t in jobs["end-of-day"].fire_times(DAY))


def test_firing_times_are_ist() -> None:
    t = schedule.load()[0].fire_times(DAY)[0]
    assert t.utcoffset().total_seconds() == 5.5 * 3600


def test_cloudbuild_tests_and_applies_only_on_main_when_asked() -> None:
    from pathlib import Path

    import yaml

    doc = yaml.safe_load((Path(__file__).resolve().parents[2] / "cloudbuild.yaml").read_text())
    steps = {s["id"]: " ".join(s["args"]) for s in doc["steps"]}
    assert "make test" in steps["test"]
    assert "terraform validate" in steps["terraform-validate"]
    apply = steps["terraform-apply"]
    assert 'BRANCH_NAME" = "main"' in apply and '_APPLY}" = "true"' in apply
    assert doc["substitutions"]["_APPLY"] == "false"
