"""Kite's request rate limits as the server enforces them (sliding windows answered with HTTP 429); not the
adapter's client-side token buckets (`tron.adapters.kite.limits.RateLimiter`).

Documented rates: quote 1 request/s, historical candles 3/s, order place/modify/cancel 10/s (and at most 200
orders a minute), every other endpoint 10/s. Each class is a sliding window on a monotonic timer that is
injected (tests pass a fake timer to step through windows without sleeping); the default is the process's
monotonic clock, which measures only intervals and never the time of day."""

from __future__ import annotations

import time as _time
from collections import deque
from collections.abc import Callable

RATES: dict[str, tuple[tuple[int, float], ...]] = {
    "quote": ((1, 1.0),),
    "historical": ((3, 1.0),),
    "orders": ((10, 1.0), (200, 60.0)),
    "other": ((10, 1.0),),
}


class RateWindows:
    """Sliding windows per (caller, request class); `allow` records a request and says if it is within them."""

    def __init__(self, timer: Callable[[], float] | None = None, enabled: bool = True) -> None:
        self.timer = timer or _time.monotonic
        self.enabled = enabled
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def allow(self, who: str, kind: str) -> bool:
        """Record a request of a class for a caller; False when it is over any of the class's windows."""
        if not self.enabled:
            return True
        now = self.timer()
        rates = RATES[kind]
        q = self._seen.setdefault((who, kind), deque())
        longest = max(w for _, w in rates)
        while q and now - q[0] >= longest:
            q.popleft()
        for count, window in rates:
            if sum(1 for t in q if now - t < window) >= count:
                return False
        q.append(now)
        return True
