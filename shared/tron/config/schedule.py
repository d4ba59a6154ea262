"""The scheduler jobs as data (tron/data/jobs.yaml, package data that terraform reads too), and when each
fires on a given day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

from tron.domain.timeutil import IST, ist

DEFAULT_PATH = Path(str(resources.files("tron.data").joinpath("jobs.yaml")))
FUNCTIONS = ("plan_day", "tick_stocks", "tick_futures", "tick_options", "square_off", "end_of_day")


@dataclass(frozen=True)
class Job:
    """One scheduler job: its name (as terraform names it), the function it calls, its cron (IST) and the
    JSON body it sends."""

    name: str
    function: str
    cron: str
    body: dict[str, Any] = field(default_factory=dict)

    def fire_times(self, day: date) -> list[datetime]:
        """Every time the cron fires on ``day``, in IST, in order."""
        it = croniter(self.cron, ist(day, time(0, 0)) - timedelta(seconds=1))
        out = []
        while (t := it.get_next(datetime)).date() == day:
            out.append(t.astimezone(IST))
        return out


def load(path: Path | None = None) -> list[Job]:
    """The jobs of the schedule file (default: tron/data/jobs.yaml), in file order. ValueError unless the
    time zone is Asia/Kolkata and every job names a known function and a valid cron."""
    doc = yaml.safe_load((path or DEFAULT_PATH).read_text())
    if doc.get("time_zone") != "Asia/Kolkata":
        raise ValueError("schedules must be in Asia/Kolkata")
    jobs = [Job(j["name"], j["function"], j["cron"], dict(j.get("body") or {})) for j in doc["jobs"]]
    for j in jobs:
        if j.function not in FUNCTIONS:
            raise ValueError(f"job {j.name}: unknown function {j.function!r}")
        if not croniter.is_valid(j.cron):
            raise ValueError(f"job {j.name}: invalid cron {j.cron!r}")
    return jobs


def timeline(jobs: list[Job], day: date) -> list[tuple[datetime, Job]]:
    """Every firing on the day, in time order (jobs keep file order within a minute)."""
    return sorted(((t, j) for j in jobs for t in j.fire_times(day)), key=lambda x: x[0])
