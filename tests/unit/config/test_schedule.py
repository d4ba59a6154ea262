"""tron/data/jobs.yaml (tron.config.schedule) covers exactly the session, and the square-off beats the broker's."""

from __future__ import annotations

import re
from datetime import date, time

from tron.config import schedule

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


def test_crons_are_unix_cron_as_cloud_scheduler_reads_them() -> None:
    """Cloud Scheduler takes 5-field unix-cron; croniter would also accept @macros and a seconds field."""
    jobs = schedule.load()
    names = [j.name for j in jobs]
    assert len(names) == len(set(names)), "terraform and `tron ops` key the jobs by name"
    for j in jobs:
        fields = j.cron.split()
        assert len(fields) == 5 and not j.cron.startswith("@"), (j.name, j.cron)
        assert re.fullmatch(r"[a-z0-9-]{1,500}", j.name), j.name  # a valid Cloud Scheduler job id
    assets = {j.body.get("asset") for j in jobs if j.function == "square_off"}
    assert assets == {"stocks", "futures", "options"}
