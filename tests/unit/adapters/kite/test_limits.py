"""The Kite adapters' token buckets, rate limiter and circuit breaker, on a fake clock."""

from __future__ import annotations

import pytest

from tests.support.fakes.kite import FakeTime
from tron.adapters.kite import CircuitBreaker, CircuitOpen, RateLimiter, TokenBucket


# ---------------------------------------------------------------------------------------------- buckets
def test_a_bucket_paces_calls_at_its_rate() -> None:
    ft = FakeTime()
    b = TokenBucket(1.0, 1.0, ft.monotonic, ft.sleep)
    waits = [b.take() for _ in range(4)]
    assert waits == [0.0, 1.0, 1.0, 1.0]
    assert ft.t == pytest.approx(103.0)


def test_the_limiter_uses_kites_rates_per_kind() -> None:
    ft = FakeTime()
    lim = RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep)
    lim.acquire("historical")
    lim.acquire("historical")  # 3/s
    assert ft.t == pytest.approx(100 + 1 / 3)
    start = ft.t
    for _ in range(31):
        lim.acquire("orders")  # 10/s
    assert ft.t - start == pytest.approx(3.0)
    start = ft.t
    for _ in range(2):
        lim.acquire("quote")  # 1/s
    assert ft.t - start == pytest.approx(1.0)
    lim.acquire("margins")  # unknown kinds share "other" (10/s)


@pytest.mark.parametrize(("kind", "rate"), [("quote", 1), ("historical", 3), ("orders", 10), ("other", 10)])
def test_no_second_ever_sees_more_calls_than_kites_rate(kind: str, rate: int) -> None:
    """Kite counts requests in sliding windows of a second (tron.sim.kite.rate_windows): a bucket holding a
    second's burst let up to twice the rate through in one (19 orders: the simulator answered 429)."""
    ft = FakeTime()
    lim = RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep)
    stamps = []
    for _ in range(5 * rate):
        lim.acquire(kind)
        stamps.append(ft.t)
    assert max(sum(1 for t in stamps if s <= t < s + 1 - 1e-9) for s in stamps) <= rate


def test_a_disabled_limiter_never_waits() -> None:
    ft = FakeTime()
    lim = RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep, enabled=False)
    for _ in range(100):
        lim.acquire("quote")
    assert ft.slept == []


def test_bad_bucket_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(0, 1)
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(0, 1)


# ---------------------------------------------------------------------------------------------- breaker
def test_the_breaker_opens_after_consecutive_failures_then_lets_one_trial_through() -> None:
    ft = FakeTime()
    br = CircuitBreaker(threshold=3, cooloff=10, monotonic=ft.monotonic)
    for _ in range(2):
        br.before_call()
        br.failure()
    br.before_call()
    br.success()  # a success resets the count
    for _ in range(3):
        br.before_call()
        br.failure()
    assert br.state == "open" and br.opened == 1
    with pytest.raises(CircuitOpen, match=r"retry in 10\.0 s"):
        br.before_call()
    ft.sleep(10)
    assert br.state == "half-open"
    br.before_call()  # the trial
    with pytest.raises(CircuitOpen, match="trial"):
        br.before_call()
    br.failure()  # the trial failed: open again for a full cool-off
    assert br.state == "open" and br.opened == 2
    ft.sleep(10)
    br.before_call()
    br.success()
    assert br.state == "closed"
    br.before_call()
