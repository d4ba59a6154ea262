"""Clocks: the only place TRON reads the time."""

from __future__ import annotations

from datetime import datetime, timedelta

from tron.domain.timeutil import IST, require_ist


class RealClock:
    def now(self) -> datetime:
        return datetime.now(IST)


class VirtualClock:
    """Time that moves only when told to: the local runner's and the tests' clock."""

    def __init__(self, start: datetime) -> None:
        self._now = require_ist(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = require_ist(when)

    def advance(self, delta: timedelta) -> None:
        self._now += delta
