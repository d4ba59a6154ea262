"""A whole day on the embedded backend with every store call metered per function invocation.

The loop is the local runner's (tron.runner.run_day): each minute the clock moves, the bus is delivered to
the executor, then the minute's jobs fire. Only the metering is added: each call runs inside
`MeteredStore.invocation(<function>)`, as tron.devtools.functions_host does for the served functions, so
the two backends' tables can be compared line by line."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tron import schedule
from tron.adapters.clock import VirtualClock
from tron.devtools.metering import MeteredStore, meter
from tron.runner import DayRun, dispatch, prepare
from tron.services.end_of_day import summarize
from tron.services.execute_order import execute_order
from tron.settings import Settings


def metered_embedded_day(
    settings: Settings, day: date, root: Path, jobs: list[schedule.Job] | None = None
) -> tuple[dict[str, Any], MeteredStore, DayRun]:
    run = prepare(settings, day, root)
    deps, bus = run.deps, run.bus
    metered = meter(deps)
    clock = deps.clock
    assert isinstance(clock, VirtualClock)
    events = schedule.timeline(jobs or schedule.load(), day)
    by_minute: dict[Any, list[schedule.Job]] = {}
    for when, job in events:
        by_minute.setdefault(when, []).append(job)

    def deliver(data: bytes, attributes: dict[str, str]) -> None:
        with metered.invocation("execute_order"):
            execute_order(deps, data, attributes)

    if not deps.calendar.is_trading_day(day):
        by_minute = {min(by_minute): [j for j in by_minute[min(by_minute)] if j.function == "plan_day"]}
    t, last = min(by_minute), max(by_minute) + timedelta(minutes=1)
    while t <= last:
        clock.set(t)
        bus.drain(deps.config.orders_topic, deliver)
        for job in by_minute.get(t, []):
            with metered.invocation(job.function):
                dispatch(deps, job.function, job.body)
        t += timedelta(minutes=1)
    return summarize(deps, day.isoformat()), metered, run
