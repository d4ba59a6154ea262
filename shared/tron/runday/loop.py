"""The virtual trading day: minute by minute, as Cloud Scheduler and Pub/Sub drive the deployed functions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from tron.adapters.clock import ScaledClock, VirtualClock
from tron.config import schedule
from tron.domain.calendar import TradingCalendar

OnMinute = Callable[[datetime, int, int], None]


def drive(
    day: date,
    clock: VirtualClock | ScaledClock,
    calendar: TradingCalendar,
    deliver: Callable[[], None],
    fire: Callable[[schedule.Job], None],
    jobs: list[schedule.Job] | None = None,
    on_minute: OnMinute | None = None,
) -> None:
    """Every minute from the day's first job to one minute after its last: move the clock there (a virtual
    clock is set; a clock that follows a running simulator is waited for), `deliver` what the bus holds
    (the executor: an order decided at one minute fills at the next), then `fire` the jobs due in their
    file order. On a day the exchange is closed only plan_day runs (it records why), at its time.
    `on_minute(t, i, total)` follows the progress."""
    events = schedule.timeline(jobs or schedule.load(), day)
    if not calendar.is_trading_day(day):
        events = [(t, j) for t, j in events if j.function == "plan_day"][:1]
    if not events:
        return
    by_minute: dict[datetime, list[schedule.Job]] = {}
    for when, job in events:
        by_minute.setdefault(when, []).append(job)
    t, last = min(by_minute), max(by_minute) + timedelta(minutes=1)
    total = int((last - t).total_seconds() // 60) + 1
    for i in range(1, total + 1):
        if isinstance(clock, VirtualClock):
            clock.set(t)
        else:
            clock.sleep_until(t)
        deliver()
        for job in by_minute.get(t, []):
            fire(job)
        if on_minute:
            on_minute(t, i, total)
        t += timedelta(minutes=1)
