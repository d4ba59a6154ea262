"""A whole day on the embedded backend with every store call metered per function invocation.

The loop is every virtual day's (tron.runday.loop.drive). Only the metering is added: each call runs inside
`MeteredStore.invocation(<function>)`, as tron.devtools.functions_host does for the served functions, so
the two backends' tables can be compared line by line."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from tron.adapters.clock import VirtualClock
from tron.config import schedule
from tron.config.settings import Settings
from tron.devtools.metering import MeteredStore, meter
from tron.runday.embedded import DayRun, dispatch, prepare
from tron.runday.loop import drive
from tron.services.end_of_day import summarize
from tron.services.execute_order import execute_order


def metered_embedded_day(
    settings: Settings, day: date, root: Path, jobs: list[schedule.Job] | None = None
) -> tuple[dict[str, Any], MeteredStore, DayRun]:
    run = prepare(settings, day, root)
    deps, bus = run.deps, run.bus
    metered = meter(deps)
    clock = deps.clock
    assert isinstance(clock, VirtualClock)

    def execute(data: bytes, attributes: dict[str, str]) -> None:
        with metered.invocation("execute_order"):
            execute_order(deps, data, attributes)

    def fire(job: schedule.Job) -> None:
        with metered.invocation(job.function):
            dispatch(deps, job.function, job.body)

    drive(day, clock, deps.calendar, lambda: bus.drain(deps.config.orders_topic, execute), fire, jobs)
    return summarize(deps, day.isoformat()), metered, run
