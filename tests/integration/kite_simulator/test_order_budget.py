"""Several executors placing and modifying orders at once against the Kite simulator with its rate limits on,
through TRON's KiteSession and the real `kiteconnect` client on loopback: with per-process limiters alone the
account is answered 429; with the account's shared order budget (one SQLite file, a store object and a local
limiter per executor, as deployed instances have) it never is, and the simulator never sees more than 10
order operations in any second.

Assertions are on counts (requests the simulator refused, its accepted stamps per window), never on timings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.kite_sim import KiteSimHandle, running_kite_sim
from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.kite import ACCESS_TOKEN_SECRET, KiteSession, RateLimiter
from tron.adapters.kite.account_budget import ORDER_BUDGET_PATH, AccountOrderBudget
from tron.adapters.sqlite_store import SqliteStore
from tron.ports import BrokerUnavailable
from tron.sim.kite.lifecycle import LifecycleSettings

EXECUTORS = 4
ORDERS_EACH = 4  # placed by each executor …
MODIFIES_EACH = 3  # … and each of them modified this many times: 4 × 4 × (1 + 3) = 64 operations
OPERATIONS = EXECUTORS * ORDERS_EACH * (1 + MODIFIES_EACH)
KITE_PER_SECOND = 10
SYMBOLS = ["INFY", "TCS", "ITC", "SBIN"]


@dataclass
class Recorded:
    """What the simulator's rate windows decided: per order operation (its timer, refused or not), and the
    refusals of every other kind."""

    orders: list[tuple[float, bool]] = field(default_factory=list)
    refused_other: int = 0

    @property
    def accepted(self) -> list[float]:
        return sorted(t for t, refused in self.orders if not refused)

    @property
    def refused(self) -> int:
        return sum(1 for _, refused in self.orders if refused)


def most_in_any_second(stamps: list[float]) -> int:
    """The most stamps in any window the simulator checks (now - t < 1 s)."""
    return max((sum(1 for u in stamps if t <= u < t + 1.0) for t in stamps), default=0)


@pytest.fixture
def ks() -> Iterator[KiteSimHandle]:
    """The simulator with Kite's rate limits (and the RMS block after repeated 429s) on; orders pass its
    lifecycle inside the request, so a modification never meets one still pending."""
    with running_kite_sim(rate_limits=True, lifecycle=LifecycleSettings(synchronous=True)) as handle:
        yield handle


def record(ks: KiteSimHandle) -> Recorded:
    """Wrap the simulator's rate windows (called under its lock) to record every decision it takes."""
    windows = ks.sim.rate_windows
    decide = windows.refusal
    seen = Recorded()

    def recording(who: str, kind: str, day: Any) -> str | None:
        why = decide(who, kind, day)
        if kind == "orders":
            seen.orders.append((windows.timer(), why is not None))
        elif why is not None:
            seen.refused_other += 1
        return why

    windows.refusal = recording  # type: ignore[method-assign]
    return seen


def limit_prices(ks: KiteSimHandle) -> dict[str, Decimal]:
    """A buy price some 5 % under each symbol's last price (inside its circuit band: the order rests)."""
    last = ks.client().ltp([f"NSE:{s}" for s in SYMBOLS])
    tick = Decimal("0.05")
    return {
        s: (Decimal(str(last[f"NSE:{s}"]["last_price"])) * Decimal("0.95") / tick).quantize(
            Decimal(1), ROUND_FLOOR
        )
        * tick
        for s in SYMBOLS
    }


@dataclass
class Outcome:
    """One executor's operations: answered, or given up with BrokerUnavailable (a 429, or the breaker
    opened by consecutive 429s), and anything else that went wrong."""

    ok: int = 0
    unavailable: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def executor(
    ks: KiteSimHandle, limiter: Any, retries: int, prices: dict[str, Decimal], n: int
) -> Callable[[threading.Barrier, Outcome], None]:
    """One executor instance: its own session (login, client, local limiter) placing ORDERS_EACH resting
    buy orders and modifying each MODIFIES_EACH times, as fast as its limiter lets it."""
    secrets = EnvSecrets({})
    secrets.put(ACCESS_TOKEN_SECRET, ks.sim.login())
    session = KiteSession(ks.api_key, secrets, ks.url, limiter=limiter, retries=retries)
    symbol = SYMBOLS[n % len(SYMBOLS)]
    price = prices[symbol]

    def run(start: threading.Barrier, out: Outcome) -> None:
        def op(name: str, fn: Callable[[Any], Any]) -> Any:
            try:
                answer = session.call("orders", name, fn)
            except BrokerUnavailable as e:
                out.unavailable.append(str(e))
                return None
            out.ok += 1
            return answer

        def place(at: Decimal) -> str | None:
            return op("place", lambda c: c.place_order(
                variety="regular", exchange="NSE", tradingsymbol=symbol, transaction_type="BUY",
                quantity=1, product="MIS", order_type="LIMIT", price=float(at),
            ))  # fmt: skip

        def modify(order_id: str, at: Decimal) -> None:
            op("modify", lambda c: c.modify_order(variety="regular", order_id=order_id, price=float(at)))

        start.wait()
        try:
            ids = [place(price) for _ in range(ORDERS_EACH)]
            for m in range(1, MODIFIES_EACH + 1):
                for oid in ids:
                    lower = price - Decimal("0.05") * m
                    if oid is None:
                        place(lower)  # (refused: another operation in its stead)
                    else:
                        modify(oid, lower)
        except Exception as e:
            out.errors.append(f"{type(e).__name__}: {e}")  # reported by the test, not lost in a thread

    return run


def run_executors(executors: list[Callable[[threading.Barrier, Outcome], None]]) -> list[Outcome]:
    start = threading.Barrier(len(executors))
    outcomes = [Outcome() for _ in executors]
    threads = [
        threading.Thread(target=ex, args=(start, out), daemon=True)
        for ex, out in zip(executors, outcomes, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "an executor hung"
    return outcomes


# ---------------------------------------------------------------------------------------------- the tests
def test_per_process_limiters_alone_get_the_account_429s(ks: KiteSimHandle) -> None:
    prices = limit_prices(ks)
    seen = record(ks)
    outcomes = run_executors(
        [executor(ks, RateLimiter(), 0, prices, n) for n in range(EXECUTORS)]  # each paces only itself
    )
    assert all(not o.errors for o in outcomes), [o.errors for o in outcomes]
    assert sum(o.ok + len(o.unavailable) for o in outcomes) == OPERATIONS
    assert seen.refused > 0  # the account was answered 429 …
    unavailable = [why for o in outcomes for why in o.unavailable]
    assert sum("Too many requests" in why for why in unavailable) == seen.refused  # … each an order lost


def test_the_shared_budget_keeps_every_executor_inside_the_accounts_limit(
    ks: KiteSimHandle, tmp_path: Path
) -> None:
    prices = limit_prices(ks)
    seen = record(ks)
    db = tmp_path / "state.sqlite"
    stores = [SqliteStore(db) for _ in range(EXECUTORS)]  # one connection per instance, one database
    budgets = [AccountOrderBudget(store, RateLimiter()) for store in stores]
    try:
        # The sessions' default retries, as deployed (a 429 would be retried: the simulator still counts it).
        outcomes = run_executors([executor(ks, b, 3, prices, n) for n, b in enumerate(budgets)])
    finally:
        for s in stores:
            s.close()
    assert all(not o.errors for o in outcomes), [o.errors for o in outcomes]
    assert [o.ok for o in outcomes] == [OPERATIONS // EXECUTORS] * EXECUTORS
    assert all(not o.unavailable for o in outcomes)
    assert seen.refused == 0 and seen.refused_other == 0  # not one 429
    assert len(seen.accepted) == OPERATIONS
    assert most_in_any_second(seen.accepted) <= KITE_PER_SECOND
    assert sum(b.taken for b in budgets) == OPERATIONS
    doc = SqliteStore(db).get(ORDER_BUDGET_PATH)
    assert doc is not None and doc["count"] == OPERATIONS
