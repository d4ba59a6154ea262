"""Client-side protection for the Kite API: token buckets at Kite's documented rates and a circuit breaker.

Both are small and pure: time comes from an injected monotonic function and waiting goes through an injected
sleep, so tests run them on a fake clock in microseconds. These timers only pace calls; they are not the
trading clock (that is tron.adapters.clock)."""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

Monotonic = Callable[[], float]
Sleep = Callable[[float], None]

# Kite Connect's documented limits (requests per second), by the kind of call. Orders also have a per-minute
# and a daily cap for the whole account: tron.adapters.kite.account_budget keeps those, across instances.
KITE_RATES: dict[str, float] = {"quote": 1.0, "historical": 3.0, "orders": 10.0, "other": 10.0}


class Limiter(Protocol):
    """What KiteSession asks of a limiter: a slot for one call of a kind (RateLimiter per process, or the
    account's shared order budget)."""

    enabled: bool
    waited: float

    def acquire(self, kind: str) -> float:
        """Wait for a slot for one call of this kind; returns the seconds waited."""
        ...


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `capacity`; `take` waits (through the injected sleep) for a token."""

    rate: float
    capacity: float
    monotonic: Monotonic = _time.monotonic
    sleep: Sleep = _time.sleep
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.capacity < 1:
            raise ValueError(
                f"a token bucket needs rate > 0 and capacity ≥ 1, got {self.rate}, {self.capacity}"
            )
        self.tokens = self.capacity
        self.stamp = self.monotonic()

    def _refill(self) -> None:
        now = self.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self) -> float:
        """Seconds until a token is available (0 if one is)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> float:
        """Take one token, sleeping once for as long as it takes to have one; returns the seconds waited.
        (One sleep, not a loop: float rounding must never spin; a hair of debt is paid by the next wait.)"""
        waited = self.wait_time()
        if waited > 0:
            self.sleep(waited)
            self._refill()
        self.tokens -= 1
        return waited


class RateLimiter:
    """A bucket per kind of call ("quote", "historical", "orders", "other"; unknown kinds use "other") that
    holds one token: calls of a kind are spaced 1/rate apart, so no sliding second (how Kite counts) ever
    sees more than the rate. `enabled=False` makes every acquire free (fast replays against a simulator
    without limits)."""

    def __init__(
        self,
        rates: dict[str, float] | None = None,
        monotonic: Monotonic = _time.monotonic,
        sleep: Sleep = _time.sleep,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.waited = 0.0
        rates = {"other": 10.0, **(rates or KITE_RATES)}
        self.buckets = {kind: TokenBucket(rate, 1.0, monotonic, sleep) for kind, rate in rates.items()}

    def acquire(self, kind: str) -> float:
        """Wait for a slot for one call of this kind; returns the seconds waited."""
        if not self.enabled:
            return 0.0
        waited = self.buckets.get(kind, self.buckets["other"]).take()
        self.waited += waited
        return waited


class CircuitOpen(Exception):
    """The breaker is open: the broker is not being called until the cool-off ends."""


class CircuitBreaker:
    """closed → (after `threshold` consecutive failures) open → (after `cooloff` seconds) half-open, when one
    trial call is let through: its success closes the breaker, its failure opens it again."""

    def __init__(
        self, threshold: int = 5, cooloff: float = 30.0, monotonic: Monotonic = _time.monotonic
    ) -> None:
        if threshold < 1 or cooloff <= 0:
            raise ValueError(
                f"a circuit breaker needs threshold ≥ 1 and cooloff > 0, got {threshold}, {cooloff}"
            )
        self.threshold = threshold
        self.cooloff = cooloff
        self.monotonic = monotonic
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_in_flight = False
        self.opened = 0  # how many times it opened (for logs and tests)

    @property
    def state(self) -> str:
        """The state now: closed, open, or half-open once the cool-off has passed since it opened."""
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.monotonic() - self.opened_at >= self.cooloff else "open"

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go out now."""
        state = self.state
        if state == "open":
            assert self.opened_at is not None
            left = self.cooloff - (self.monotonic() - self.opened_at)
            raise CircuitOpen(
                f"circuit open after {self.failures} consecutive failures; retry in {left:.1f} s"
            )
        if state == "half-open":
            if self.trial_in_flight:
                raise CircuitOpen("circuit half-open: a trial call is already in flight")
            self.trial_in_flight = True

    def success(self) -> None:
        """A call went through (or the broker answered): close the breaker and forget the failures."""
        self.failures = 0
        self.opened_at = None
        self.trial_in_flight = False

    def failure(self) -> None:
        """A call failed: count it; at the threshold, or on a failed trial, (re)open the breaker now."""
        self.failures += 1
        self.trial_in_flight = False
        if self.opened_at is not None or self.failures >= self.threshold:
            if self.opened_at is None:
                self.opened += 1
            elif self.state == "half-open":
                self.opened += 1
            self.opened_at = self.monotonic()
