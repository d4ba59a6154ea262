"""One Kite order budget per account, shared by every function and instance through the StateStore.

Kite allows an account at most 10 order operations a second and 200 a minute (place, modify and cancel all
count), answering more with HTTP 429 and, after repeated 429s, an RMS block. The per-process
`tron.adapters.kite.limits.RateLimiter` cannot keep several executor instances and tick functions under that
together, so `AccountOrderBudget` takes each order operation's slot from one shared document: sliding windows
of stamps, like the simulator's (`tron.sim.kite.rate_windows`), a little below Kite's numbers. Every other
kind of call keeps the per-process limiter.

Stamps are wall time (an injected function, `time.time` by default) because instances share them; they only
pace calls, they are not the trading clock (that is tron.adapters.clock)."""

from __future__ import annotations

import bisect
import logging
import math
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tron.adapters.kite.limits import RateLimiter, Sleep
from tron.domain.timeutil import IST
from tron.ports import BrokerUnavailable, StateStore, Txn

log = logging.getLogger("tron.kite")

ORDER_BUDGET_PATH = "control/order_budget"
ORDERS = "orders"  # the kind of call (KiteSession.call's first argument) that the shared budget paces
SECOND = 1.0
MINUTE = 60.0
# Past a slot's end by this much before trying again: float rounding must never make a wait end a hair early.
_SLACK_S = 1e-6


@dataclass(frozen=True)
class BudgetState:
    """The shared document, parsed: the recent order stamps (ascending wall times), the trading day and its
    count of order operations."""

    stamps: tuple[float, ...] = ()
    day: str | None = None
    count: int = 0

    def doc(self) -> dict[str, Any]:
        """The document as stored."""
        return {"stamps": list(self.stamps), "day": self.day, "count": self.count}


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def parse_budget(doc: object) -> BudgetState | None:
    """The state a budget document holds; an absent document is an empty state, None if it is malformed
    (not a mapping, stamps that are not a list of finite numbers, a day that is not text, a count that is not
    a non-negative integer)."""
    if doc is None:
        return BudgetState()
    if not isinstance(doc, dict):
        return None
    stamps, day, count = doc.get("stamps", []), doc.get("day"), doc.get("count", 0)
    if not isinstance(stamps, list) or not all(_is_number(t) for t in stamps):
        return None
    if day is not None and not isinstance(day, str):
        return None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return None
    return BudgetState(tuple(sorted(float(t) for t in stamps)), day, count)


class AccountOrderBudget:
    """A limiter with RateLimiter's interface (``acquire(kind)`` → seconds waited, ``enabled``, ``waited``)
    for KiteSession: calls of kind "orders" take a slot from the account's shared budget document at
    ``path`` in the store; every other kind goes to the per-process ``local`` limiter (its "orders" buckets
    are never used: the shared windows replace them).

    A slot is free when fewer than ``per_second`` stamps fall in the last 1 + ``guard`` seconds and fewer
    than ``per_minute`` in the last 60 + ``guard`` (defaults 8, 180 and 0.2 s: fewer calls, in longer windows,
    than Kite's 10 a second and 200 a minute). Both margins are needed: a request stamped at t reaches Kite
    some ms later (more for an instance still opening its connection) and instances' clocks differ a little;
    and slots free in bursts, a second after the burst before, so with windows of exactly a second the head
    of one burst, sent promptly, can reach Kite less than a second after the slow tail of the one before
    (the simulator counted 10 in a second at 8 a second without the guard).

    Taking a slot adds a stamp and counts the operation against the trading day (``today()``, by default
    the IST date of ``now()``). When none is free, it sleeps until one frees and tries again; past
    ``max_wait`` seconds in all it raises BrokerUnavailable (the delivery is retried later rather than
    held). A malformed or foreign document is logged (WARNING), treated as empty and overwritten.
    ``enabled=False`` makes every acquire free and touches no store."""

    def __init__(
        self,
        store: StateStore,
        local: RateLimiter | None = None,
        path: str = ORDER_BUDGET_PATH,
        per_second: int = 8,
        per_minute: int = 180,
        max_wait: float = 10.0,
        guard: float = 0.2,
        now: Callable[[], float] = _time.time,
        sleep: Sleep = _time.sleep,
        today: Callable[[], date] | None = None,
        enabled: bool = True,
    ) -> None:
        if per_second < 1 or per_minute < per_second or max_wait < 0 or guard < 0:
            raise ValueError(
                "an order budget needs 1 ≤ per_second ≤ per_minute, max_wait ≥ 0 and guard ≥ 0, "
                f"got {per_second}, {per_minute}, {max_wait}, {guard}"
            )
        self.store = store
        self.local = local or RateLimiter()
        self.path = path
        self.per_second = per_second
        self.per_minute = per_minute
        self.max_wait = max_wait
        self.guard = guard
        self.now = now
        self.sleep = sleep
        self.today = today or (lambda: datetime.fromtimestamp(self.now(), IST).date())
        self.enabled = enabled
        self.waited = 0.0
        self.taken = 0  # order slots this object took (for logs and tests)

    def acquire(self, kind: str) -> float:
        """Wait for a slot for one call of this kind; returns the seconds waited. Raises BrokerUnavailable
        when an order slot would take more than ``max_wait`` seconds in all."""
        if not self.enabled:
            return 0.0
        if kind != ORDERS:
            waited = self.local.acquire(kind)
            self.waited += waited
            return waited
        waited = 0.0
        while True:
            wait, malformed = self.store.transaction(self._take)
            if malformed is not None:
                log.warning(
                    f"the order budget {self.path} held a malformed document ({malformed}); "
                    "it was treated as empty and overwritten",
                    extra={"component": "kite"},
                )
            if wait <= 0:
                self.taken += 1
                return waited
            if waited + wait > self.max_wait:
                raise BrokerUnavailable(
                    f"Kite orders: the account's order budget ({self.per_second}/s, {self.per_minute}/min, "
                    f"shared by every instance) has no free slot within {self.max_wait:g} s "
                    f"(waited {waited:.2f} s, next slot in {wait:.2f} s)"
                )
            self.sleep(wait)
            waited += wait
            self.waited += wait

    # ------------------------------------------------------------------ the transaction
    def _take(self, txn: Txn) -> tuple[float, str | None]:
        """Inside the store's transaction (repeatable: it only reads the document and the wall time): take
        a slot if one is free, returning (0, …), else (seconds until one frees, …) without writing; the
        second item describes a malformed document that was replaced (None if it was fine)."""
        now = self.now()
        raw = txn.get(self.path)
        state = parse_budget(raw)
        malformed = None
        if state is None:
            malformed = f"{type(raw).__name__}: {str(raw)[:80]}"
            state = BudgetState()
        # Stamps older than the minute window no longer count; one further ahead than that is no clock's skew.
        stamps = [t for t in state.stamps if now - MINUTE - self.guard < t < now + MINUTE]
        wait = self._wait(stamps, now)
        if wait > 0:  # (never for a malformed document: an empty state always has a slot)
            return wait, None
        bisect.insort(stamps, now)  # another instance's clock may run a little ahead: keep them ordered
        day = self.today().isoformat()
        count = (state.count if state.day == day else 0) + 1
        txn.set(self.path, BudgetState(tuple(stamps[-self.per_minute :]), day, count).doc())
        return 0.0, malformed

    def _wait(self, stamps: list[float], now: float) -> float:
        """Seconds until a slot is free in both windows (0 if one is now); stamps ascending."""
        wait = 0.0
        for count, length in ((self.per_second, SECOND), (self.per_minute, MINUTE)):
            window = length + self.guard
            inside = [t for t in stamps if now - t < window]
            if len(inside) >= count:
                # The window has room once the count-th most recent stamp has left it.
                wait = max(wait, inside[len(inside) - count] + window - now + _SLACK_S)
        return wait
