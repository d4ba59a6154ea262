"""Kite's request limits as the server enforces them, per account (answered with HTTP 429); not the adapter's
client-side token buckets (`tron.adapters.kite.limits.RateLimiter`).

Documented rates: quote 1 request/s, historical candles 3/s, order place/modify/cancel 10/s and at most 200 a
minute (a setting: some sources say 400) and 3,000 a day; every other endpoint 10/s. Repeated 429s can get an
account blocked for a while ("might make the RMS block you": a setting, on by default). Windows slide on a
monotonic timer that is injected (tests step a fake one); the daily count is keyed by the trading date."""

from __future__ import annotations

import time as _time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class RateSettings:
    """The account's limits. `block_after` 429s within `block_window_s` block every request for
    `block_for_s` (None: never blocked)."""

    orders_per_minute: int = 200
    orders_per_day: int = 3000
    block_after: int | None = 50
    block_window_s: float = 60.0
    block_for_s: float = 60.0

    def windows(self, kind: str) -> tuple[tuple[int, float], ...]:
        """The (count, seconds) sliding windows of a request class."""
        return {
            "quote": ((1, 1.0),),
            "historical": ((3, 1.0),),
            "orders": ((10, 1.0), (self.orders_per_minute, 60.0)),
            "other": ((10, 1.0),),
        }[kind]


class RateWindows:
    """Sliding windows per (caller, request class), the daily order count and the block after repeated
    429s; `refusal` records a request and says why it is refused, or None."""

    def __init__(
        self,
        timer: Callable[[], float] | None = None,
        enabled: bool = True,
        settings: RateSettings | None = None,
    ) -> None:
        self.timer = timer or _time.monotonic
        self.enabled = enabled
        self.settings = settings or RateSettings()
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._day: dict[str, tuple[date, int]] = {}
        self._refused: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def refusal(self, who: str, kind: str, day: date) -> str | None:
        """Record a request of a class for a caller on a trading day; the 429 message if it is over a limit."""
        if not self.enabled:
            return None
        now = self.timer()
        if now < self._blocked_until.get(who, 0.0):
            return (
                "Too many requests: the account is blocked for a while after repeated rate-limit violations"
            )
        why = self._over(who, kind, day, now)
        if why is not None:
            self._note_refused(who, now)
        return why

    def allow(self, who: str, kind: str, day: date | None = None) -> bool:
        """Whether the request is within the limits (recording it)."""
        return self.refusal(who, kind, day or date.min) is None

    def _over(self, who: str, kind: str, day: date, now: float) -> str | None:
        windows = self.settings.windows(kind)
        q = self._seen.setdefault((who, kind), deque())
        longest = max(w for _, w in windows)
        while q and now - q[0] >= longest:
            q.popleft()
        for count, window in windows:
            if sum(1 for t in q if now - t < window) >= count:
                return "Too many requests"
        if kind == "orders":
            seen_day, n = self._day.get(who, (day, 0))
            n = n if seen_day == day else 0
            if n >= self.settings.orders_per_day:
                return (
                    f"Too many requests: the account's {self.settings.orders_per_day} orders a day are used"
                )
            self._day[who] = (day, n + 1)
        q.append(now)
        return None

    def _note_refused(self, who: str, now: float) -> None:
        s = self.settings
        if s.block_after is None:
            return
        r = self._refused.setdefault(who, deque())
        r.append(now)
        while r and now - r[0] >= s.block_window_s:
            r.popleft()
        if len(r) >= s.block_after:
            self._blocked_until[who] = now + s.block_for_s
            r.clear()
