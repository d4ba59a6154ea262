"""One Kite Connect session shared by the market-data and broker adapters: the official client, the day's
access token from the Secrets port, client-side rate limits, the circuit breaker, retries with backoff and
the error classification — so every call the adapters make goes through the same door."""

from __future__ import annotations

import logging
import random
import time as _time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kiteconnect import KiteConnect

from tron.adapters.kite.errors import Kind, TokenExpired, classify, describe
from tron.adapters.kite.limits import CircuitBreaker, CircuitOpen, Limiter, RateLimiter, Sleep
from tron.ports import BrokerUnavailable, OrderRejected, Secrets

log = logging.getLogger("tron.kite")
T = TypeVar("T")
ACCESS_TOKEN_SECRET = "kite_access_token"
API_KEY_SECRET = "kite_api_key"
API_SECRET_SECRET = "kite_api_secret"
LOGIN_HINT = "run the daily login (the kite_login function, or `tron kite-login`)"
RATE_WINDOW_S = 1.0  # Kite's limits are per second and per api key: a 429 waits at least this long
RATE_JITTER_S = 0.5  # plus up to this, so functions sharing the api key (three ticks a minute) spread out


def app_api_key(secrets: Secrets, configured: str) -> str:
    """The Kite app's api key: the secret kite_api_key where one is stored (the gcp backend), else the
    configured one (kite.api_key)."""
    return secrets.get(API_KEY_SECRET) or configured


class KiteSession:
    """The one door to Kite: the official client with the day's access token, rate limits per call kind,
    a circuit breaker and retries (:meth:`call`). A missing ``api_key`` raises ValueError. When the token
    is gone, ``on_token_expired(reason)`` is called (bootstrap: halt the day's entries)."""

    def __init__(
        self,
        api_key: str,
        secrets: Secrets,
        root: str | None,
        limiter: Limiter | None = None,
        breaker: CircuitBreaker | None = None,
        retries: int = 3,
        backoff: float = 0.25,
        sleep: Sleep = _time.sleep,
        timeout: float = 7.0,
        client_factory: Callable[..., Any] = KiteConnect,
        on_token_expired: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = _time.monotonic,
    ) -> None:
        if not api_key:
            raise ValueError("a Kite session needs an api_key")
        self.api_key = api_key  # the configured key; the secret kite_api_key wins (read on first use)
        self.secrets = secrets
        self.root = root
        self.limiter: Limiter = limiter or RateLimiter()
        self.breaker = breaker or CircuitBreaker()
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.timeout = timeout
        self._factory = client_factory
        self.on_token_expired = on_token_expired  # bootstrap: halt the day's entries (ERROR log)
        self._rng = rng or random.Random()
        self.monotonic = monotonic
        self._deadline: tuple[float, float] | None = None  # (monotonic deadline, the budget in seconds)
        self._client: Any = None
        self._token: str | None = None
        self.calls: dict[str, int] = {}
        self.retried = 0

    # ------------------------------------------------------------------ the client
    def client(self) -> Any:
        """The official client with the latest access token (a new login during the day is picked up)."""
        token = self.secrets.get(ACCESS_TOKEN_SECRET)
        if not token:
            raise TokenExpired(f"no Kite access token is stored: {LOGIN_HINT}")
        if self._client is None:
            self._client = self._factory(
                app_api_key(self.secrets, self.api_key),
                access_token=token,
                root=self.root,
                timeout=self.timeout,
            )
        elif token != self._token:
            self._client.set_access_token(token)
        self._token = token
        return self._client

    # ------------------------------------------------------------------ calls
    @contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        """Calls made inside give up with BrokerUnavailable instead of starting an attempt, or a wait before
        a retry, that would end past ``seconds`` from now (a budget inside another keeps the earlier end):
        the whole operation lasts at most ``seconds`` plus one call's timeout (its last attempt)."""
        before = self._deadline
        end = self.monotonic() + seconds
        self._deadline = (end, seconds) if before is None or end < before[0] else before
        try:
            yield
        finally:
            self._deadline = before

    def _within_budget(self, name: str, wait: float = 0.0) -> None:
        if self._deadline is not None and self.monotonic() + wait > self._deadline[0]:
            raise BrokerUnavailable(
                f"Kite {name}: the operation's {self._deadline[1]:g} s budget is spent; "
                "its outcome is read again later"
            )

    def call(
        self,
        kind: str,
        name: str,
        fn: Callable[[Any], T],
        before_retry: Callable[[BaseException], T | None] | None = None,
    ) -> T:
        """Run fn(client) under the rate limit and the breaker, retrying transient failures with exponential
        backoff. before_retry may answer instead of a retry (an order that did reach the broker).

        Raises OrderRejected (input/order errors), TokenExpired (the session is gone) or BrokerUnavailable
        (still failing after the retries, the breaker is open, or the :meth:`budget` is spent)."""
        attempt = 0
        while True:
            self._within_budget(name)
            try:
                self.breaker.before_call()
            except CircuitOpen as e:
                raise BrokerUnavailable(f"Kite {name}: {e}") from None
            self.limiter.acquire(kind)
            self.calls[name] = self.calls.get(name, 0) + 1
            try:
                client = self.client()
            except TokenExpired as e:
                self.breaker.success()  # nothing was called; do not hold the trial slot
                self._expired(str(e))
                raise
            try:
                out = fn(client)
            except Exception as e:
                what = classify(e)
                if what is None:
                    self.breaker.failure()
                    raise
                if what is Kind.REJECTED:
                    self.breaker.success()  # the broker answered: it is up
                    raise OrderRejected(describe(e)) from None
                if what is Kind.TOKEN:
                    self.breaker.success()
                    reason = f"{describe(e)}; {LOGIN_HINT}"
                    self._expired(reason)
                    raise TokenExpired(reason) from None
                self.breaker.failure()
                if attempt >= self.retries:
                    log.warning(
                        f"Kite {name} failed {attempt + 1} time(s), giving up: {describe(e)}",
                        extra={"component": "kite"},
                    )
                    raise BrokerUnavailable(f"Kite {name}: {describe(e)}") from None
                wait = self.backoff * (2**attempt)
                if what is Kind.RATE_LIMITED:
                    wait = max(wait, RATE_WINDOW_S) + self._rng.uniform(0, RATE_JITTER_S)
                self._within_budget(name, wait)
                attempt += 1
                self.retried += 1
                log.info(
                    f"Kite {name}: {what.value} ({describe(e)}); retry {attempt} in {wait:.2f} s",
                    extra={"component": "kite"},
                )
                self.sleep(wait)
                if before_retry is not None:
                    answer = before_retry(e)
                    if answer is not None:
                        return answer
                continue
            self.breaker.success()
            return out

    def preflight(self) -> str | None:
        """A cheap `profile` call: None if the session works, else why not (plan_day's health gate)."""
        try:
            profile = self.call("other", "profile", lambda c: c.profile())
        except TokenExpired as e:
            return f"TokenException: {e}" if "TokenException" not in str(e) else str(e)
        except (BrokerUnavailable, OrderRejected) as e:
            return f"Kite unreachable: {e}"
        if not isinstance(profile, dict) or not profile.get("user_id"):
            return "Kite profile has no user_id: the session is not usable"
        return None

    def _expired(self, reason: str) -> None:
        if self.on_token_expired is not None:
            self.on_token_expired(reason)
