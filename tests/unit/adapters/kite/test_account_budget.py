"""The account's shared order budget on a real store (SQLite on a temporary file; the window tests also on the
Firestore emulator), paced by a fake wall clock that moves only when something sleeps."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.support.fakes.kite import FakeTime
from tests.support.logs import tron_records
from tron.adapters.kite import RateLimiter
from tron.adapters.kite.account_budget import ORDER_BUDGET_PATH, AccountOrderBudget, parse_budget
from tron.adapters.sqlite_store import SqliteStore
from tron.domain.timeutil import IST
from tron.ports import BrokerUnavailable, StateStore

DAY = date(2026, 11, 23)
Stores = Callable[[], StateStore]


@pytest.fixture
def sqlite_stores(tmp_path: Path) -> Iterator[Stores]:
    """Store objects on one SQLite file, a new connection per call (as separate instances have)."""
    opened: list[SqliteStore] = []

    def new() -> StateStore:
        opened.append(SqliteStore(tmp_path / "state.sqlite"))
        return opened[-1]

    yield new
    for s in opened:
        s.close()


@pytest.fixture(params=["sqlite", "firestore"])
def stores(request: pytest.FixtureRequest, sqlite_stores: Stores) -> Stores:
    """Store objects on one database: SQLite, or the (freshly wiped) Firestore emulator."""
    if request.param == "sqlite":
        return sqlite_stores
    from tron.adapters.firestore_store import FirestoreStore

    client = request.getfixturevalue("firestore_client")
    return lambda: FirestoreStore(client)


def budget(store: StateStore, ft: FakeTime, **kw: object) -> AccountOrderBudget:
    """A budget on the fake time, its windows exactly a second and a minute unless a guard is given."""
    local = RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep)
    kw.setdefault("guard", 0.0)
    return AccountOrderBudget(
        store,
        local,
        now=ft.monotonic,
        sleep=ft.sleep,
        today=lambda: DAY,
        **kw,  # type: ignore[arg-type]
    )


def most_in_any_window(stamps: list[float], window: float) -> int:
    """The most stamps in any half-open window [t, t + window) (as the simulator counts, now - t < window)."""
    return max(sum(1 for u in stamps if t <= u < t + window - 1e-9) for t in stamps)


# ---------------------------------------------------------------------------------------------- windows
def test_orders_never_exceed_8_in_any_second_or_180_in_any_minute(stores: Stores) -> None:
    ft = FakeTime()
    # The defaults: 8 in 1 s and 180 in 60 s, each window 0.2 s longer (the guard).
    b = AccountOrderBudget(
        stores(), now=ft.monotonic, sleep=ft.sleep, today=lambda: DAY, max_wait=120.0
    )  # (the minute's wait is ~34 s)
    stamps = []
    for _ in range(200):
        b.acquire("orders")
        stamps.append(ft.t)
    assert most_in_any_window(stamps, 1.2) == 8  # so never more than 8 in any second either
    assert most_in_any_window(stamps, 60.2) == 180
    # As fast as allowed: 8 every 1.2 s for the first 180 (22 bursts and 4), then the minute's wait.
    assert stamps[179] - stamps[0] == pytest.approx(22 * 1.2, abs=1e-3)
    assert stamps[180] - stamps[0] == pytest.approx(60.2, abs=1e-3)
    assert b.taken == 200 and b.waited == pytest.approx(ft.t - 100.0)
    doc = stores().get(ORDER_BUDGET_PATH)
    assert doc is not None
    assert len(doc["stamps"]) <= 180  # only the stamps a window still needs
    assert doc["stamps"] == [t for t in stamps if stamps[-1] - t < 60.2]
    assert doc["day"] == "2026-11-23" and doc["count"] == 200


def test_a_full_second_waits_exactly_until_its_oldest_stamp_leaves(sqlite_stores: Stores) -> None:
    ft = FakeTime()
    b = budget(sqlite_stores(), ft)
    assert [b.acquire("orders") for _ in range(8)] == [0.0] * 8  # a burst of 8 is free
    assert b.acquire("orders") == pytest.approx(1.0)  # the 9th: when the first (at 100.0) is a second old
    ft.t += 0.25
    assert [b.acquire("orders") for _ in range(7)] == [0.0] * 7  # 8 in the second since 101.0
    assert b.acquire("orders") == pytest.approx(0.75, abs=1e-5)  # until the one at 101.0 is a second old
    assert ft.slept == [pytest.approx(1.0, abs=1e-5), pytest.approx(0.75, abs=1e-5)]


def test_the_guard_keeps_each_stamp_in_its_window_that_much_longer(sqlite_stores: Stores) -> None:
    ft = FakeTime()
    b = budget(sqlite_stores(), ft, guard=0.2)
    for _ in range(8):
        b.acquire("orders")
    assert b.acquire("orders") == pytest.approx(1.2, abs=1e-5)


def test_two_budgets_on_one_file_share_the_windows(stores: Stores) -> None:
    ft = FakeTime()
    a, b = budget(stores(), ft), budget(stores(), ft)
    for _ in range(5):
        assert a.acquire("orders") == 0.0
    for _ in range(3):
        assert b.acquire("orders") == 0.0
    assert a.acquire("orders") == pytest.approx(1.0)  # the account's 8 of the second are used
    assert b.acquire("orders") == pytest.approx(0.0)
    assert b.acquire("orders") == pytest.approx(0.0)
    assert b.acquire("orders") == pytest.approx(0.0)
    doc = stores().get(ORDER_BUDGET_PATH)
    assert doc is not None and doc["count"] == 12


def test_a_slot_taken_by_another_instance_while_sleeping_means_waiting_again(
    sqlite_stores: Stores,
) -> None:
    ft = FakeTime()
    other = budget(sqlite_stores(), ft, per_second=1)

    def sleep_then_lose_the_slot(s: float) -> None:
        ft.sleep(s)
        if other.taken == 0:
            other.acquire("orders")  # the other instance is quicker, once

    b = AccountOrderBudget(
        sqlite_stores(),
        now=ft.monotonic,
        sleep=sleep_then_lose_the_slot,
        today=lambda: DAY,
        per_second=1,
        guard=0.0,
    )
    assert b.acquire("orders") == 0.0
    assert b.acquire("orders") == pytest.approx(2.0)  # lost the first freed slot, took the second
    assert other.taken == 1 and b.taken == 2


def test_the_day_count_starts_again_on_a_new_trading_day(sqlite_stores: Stores) -> None:
    ft = FakeTime()
    store = sqlite_stores()
    days = iter([DAY, DAY, date(2026, 11, 24)])
    b = AccountOrderBudget(store, now=ft.monotonic, sleep=ft.sleep, today=lambda: next(days))
    for _ in range(3):
        b.acquire("orders")
    assert store.get(ORDER_BUDGET_PATH) == {
        "stamps": [100.0, 100.0, 100.0],
        "day": "2026-11-24",
        "count": 1,
    }


def test_by_default_the_day_is_the_ist_date_of_the_wall_time(sqlite_stores: Stores) -> None:
    store = sqlite_stores()
    # 2026-11-23 19:00 UTC is 2026-11-24 00:30 IST.
    b = AccountOrderBudget(store, now=lambda: 1795460400.0, sleep=lambda s: None)
    b.acquire("orders")
    doc = store.get(ORDER_BUDGET_PATH)
    assert doc is not None and doc["day"] == "2026-11-24"


def test_another_instance_a_little_ahead_still_counts_and_an_absurd_stamp_does_not(
    sqlite_stores: Stores,
) -> None:
    ft = FakeTime()
    store = sqlite_stores()
    store.set(ORDER_BUDGET_PATH, {"stamps": [100.05] * 8 + [1e12], "day": "2026-11-23", "count": 9})
    b = budget(store, ft)
    assert b.acquire("orders") == pytest.approx(1.05)  # 8 stamped 50 ms ahead of this clock: their second
    doc = store.get(ORDER_BUDGET_PATH)
    assert doc is not None and 1e12 not in doc["stamps"] and doc["count"] == 10


# ---------------------------------------------------------------------------------------------- bounds
def test_giving_up_after_the_bounded_wait_raises_broker_unavailable(sqlite_stores: Stores) -> None:
    ft = FakeTime()
    b = budget(sqlite_stores(), ft, per_second=8, per_minute=10, max_wait=5.0)
    for _ in range(10):
        b.acquire("orders")
    slept = list(ft.slept)
    with pytest.raises(BrokerUnavailable, match="no free slot within 5 s"):
        b.acquire("orders")  # the minute's 10 are used: ~59 s away, more than the bound
    assert ft.slept == slept  # it did not sleep in vain


def test_the_bound_holds_when_other_instances_keep_taking_the_freed_slots(sqlite_stores: Stores) -> None:
    ft = FakeTime()
    other = budget(sqlite_stores(), ft, per_second=1)

    def sleep_then_lose_the_slot(s: float) -> None:
        ft.sleep(s)
        other.acquire("orders")

    b = AccountOrderBudget(
        sqlite_stores(),
        now=ft.monotonic,
        sleep=sleep_then_lose_the_slot,
        today=lambda: DAY,
        per_second=1,
        max_wait=3.5,
        guard=0.0,
    )
    b.acquire("orders")
    with pytest.raises(BrokerUnavailable):
        b.acquire("orders")
    assert 3.0 <= ft.t - 100.0 <= 3.5 + 1e-3


# ---------------------------------------------------------------------------------------------- garbage
@pytest.mark.parametrize(
    "garbage",
    [
        {"stamps": "garbage"},
        {"stamps": [100.0, "x"]},
        {"stamps": [True]},
        {"stamps": [], "count": "many"},
        {"stamps": [], "count": -3},
        {"stamps": [], "day": 20261123},
        {"tokens": 3.5, "rate": 10},  # a foreign document (stamps absent): read as empty, still replaced
    ],
)
def test_a_malformed_document_does_not_stop_orders(sqlite_stores: Stores, garbage: dict[str, object]) -> None:
    ft = FakeTime()
    store = sqlite_stores()
    store.set(ORDER_BUDGET_PATH, garbage)
    b = budget(store, ft)
    with tron_records() as logs:
        assert b.acquire("orders") == 0.0
    doc = store.get(ORDER_BUDGET_PATH)
    assert doc == {"stamps": [100.0], "day": "2026-11-23", "count": 1}
    if parse_budget(garbage) is None:
        assert logs.at("WARNING", "malformed")


@pytest.mark.parametrize("raw", ["[1, 2, 3]", '"garbage"', "null", "42"])
def test_a_document_that_is_not_a_mapping_is_overwritten(sqlite_stores: Stores, raw: str) -> None:
    ft = FakeTime()
    store = sqlite_stores()
    store.set(ORDER_BUDGET_PATH, {})
    assert isinstance(store, SqliteStore)
    store.conn.execute("UPDATE docs SET data=? WHERE path=?", (raw, ORDER_BUDGET_PATH))
    b = budget(store, ft)
    with tron_records() as logs:
        for _ in range(9):
            b.acquire("orders")
    assert ft.t == pytest.approx(101.0)  # the garbage counted for nothing; the 9th waited for the 1st
    doc = store.get(ORDER_BUDGET_PATH)
    assert doc is not None and doc["count"] == 9
    warned = logs.at("WARNING", "malformed")
    assert len(warned) == (0 if json.loads(raw) is None else 1)  # JSON null reads as no document


# ---------------------------------------------------------------------------------------------- other kinds
def test_other_kinds_go_to_the_local_limiter_and_orders_do_not(sqlite_stores: Stores) -> None:
    ft = FakeTime()
    store = sqlite_stores()
    local = RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep)
    b = AccountOrderBudget(store, local, now=ft.monotonic, sleep=ft.sleep, today=lambda: DAY)
    assert b.acquire("quote") == 0.0
    assert b.acquire("quote") == pytest.approx(1.0)  # the local 1/s quote bucket
    assert b.acquire("margins") == 0.0  # unknown kinds: the local "other" bucket
    assert store.get(ORDER_BUDGET_PATH) is None  # none of them touched the shared budget
    tokens = local.buckets["orders"].tokens
    for _ in range(8):
        b.acquire("orders")
    assert local.buckets["orders"].tokens == tokens  # not paced twice
    assert b.waited == pytest.approx(1.0)


def test_a_disabled_budget_is_free_and_touches_no_store(sqlite_stores: Stores) -> None:
    ft = FakeTime()
    store = sqlite_stores()
    b = AccountOrderBudget(store, now=ft.monotonic, sleep=ft.sleep, enabled=False)
    for _ in range(50):
        assert b.acquire("orders") == 0.0
        assert b.acquire("quote") == 0.0
    assert store.get(ORDER_BUDGET_PATH) is None and ft.slept == []


def test_bad_limits_are_a_clear_error(sqlite_stores: Stores) -> None:
    with pytest.raises(ValueError, match="per_second"):
        AccountOrderBudget(sqlite_stores(), per_second=0)
    with pytest.raises(ValueError, match="per_second"):
        AccountOrderBudget(sqlite_stores(), per_second=20, per_minute=10)
    with pytest.raises(ValueError, match="guard"):
        AccountOrderBudget(sqlite_stores(), guard=-1)


def test_every_kite_session_a_deployment_builds_shares_the_accounts_budget(tmp_path: Path) -> None:
    from tron.adapters.clock import VirtualClock
    from tron.bootstrap import embedded
    from tron.config.settings import load_settings

    s = load_settings(
        data_dir=tmp_path, market_data="kite", broker="kite", kite={"root": "http://127.0.0.1:9"}
    )
    deps, _ = embedded(
        s, VirtualClock(datetime(2026, 11, 23, 10, 0, tzinfo=IST)), tmp_path, log_to_archive=False
    )
    limiter = deps.market.session.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, AccountOrderBudget) and limiter.store is deps.store
    assert limiter.today() == date(2026, 11, 23)  # the trading clock's day, not the machine's
