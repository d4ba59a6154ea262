"""Clocks: the only place TRON reads the time."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from tron.domain.timeutil import IST, require_ist


class RealClock:
    """The wall clock, in IST."""

    def now(self) -> datetime:
        """The current time, timezone-aware IST."""
        return datetime.now(IST)


class VirtualClock:
    """Time that moves only when told to: the clock of a local day (tron.runday) and of the tests."""

    def __init__(self, start: datetime) -> None:
        self._now = require_ist(start)

    def now(self) -> datetime:
        """The time last set."""
        return self._now

    def set(self, when: datetime) -> None:
        """Move to ``when`` (converted to IST; ValueError for a naive time)."""
        self._now = require_ist(when)

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``."""
        self._now += delta


class ScaledClock:
    """Simulated time that starts at a given IST instant and runs at `speed` × real time (1 = real time,
    60 = a minute per second): the clock of `tron kite-sim`. Elapsed time is measured on the monotonic
    clock, so wall-clock adjustments do not make it jump."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self._start = require_ist(start)
        self._speed = float(speed)
        self._monotonic = time.monotonic
        self._t0 = time.monotonic()

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def now(self) -> datetime:
        """The start plus the monotonic time elapsed since construction, times the speed."""
        return self._start + timedelta(seconds=(self._monotonic() - self._t0) * self._speed)

    def sleep_until(self, when: datetime) -> None:
        """Wait (in real time) until the clock shows `when`; at once if it already does."""
        ahead = (require_ist(when) - self.now()).total_seconds() / self._speed
        if ahead > 0:
            time.sleep(ahead)
