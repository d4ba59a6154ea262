"""The StateStore contract. Every adapter (SQLite now; Firestore via the emulator later) must pass it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tron.adapters.sqlite_store import SqliteStore
from tron.ports import AlreadyExists, StateStore


@pytest.fixture(params=["sqlite", "firestore"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "state.sqlite")
        yield s
        s.close()
    elif request.param == "firestore":
        from tron.adapters.firestore_store import FirestoreStore

        yield FirestoreStore(request.getfixturevalue("firestore_client"))  # a freshly wiped emulator


def test_get_set_roundtrip(store: StateStore) -> None:
    assert store.get("days/2026-11-23") is None
    store.set("days/2026-11-23", {"status": "armed", "n": 1.25, "nested": {"a": [1, 2]}})
    assert store.get("days/2026-11-23") == {"status": "armed", "n": 1.25, "nested": {"a": [1, 2]}}


def test_create_if_absent_has_one_winner(store: StateStore) -> None:
    assert store.create("days/d/intents/x", {"v": 1}) is True
    assert store.create("days/d/intents/x", {"v": 2}) is False
    assert store.get("days/d/intents/x") == {"v": 1}


def test_list_is_direct_children_in_id_order(store: StateStore) -> None:
    store.set("days/d/intents/b", {"i": 2})
    store.set("days/d/intents/a", {"i": 1})
    store.set("days/d/intents/a/sub/z", {"i": 9})
    store.set("days/e/intents/c", {"i": 3})
    assert store.list("days/d/intents") == [("a", {"i": 1}), ("b", {"i": 2})]


def test_transaction_commits_all_or_nothing(store: StateStore) -> None:
    def ok(txn):
        txn.set("c/a", {"v": 1})
        txn.set("c/b", {"v": 2})
        return "done"

    assert store.transaction(ok) == "done"

    def fails(txn):
        txn.set("c/a", {"v": 100})
        txn.create("c/b", {"v": 200})  # exists → AlreadyExists

    with pytest.raises(AlreadyExists):
        store.transaction(fails)
    assert store.get("c/a") == {"v": 1}
    assert store.get("c/b") == {"v": 2}


def test_transaction_reads_its_own_view(store: StateStore) -> None:
    store.set("c/n", {"v": 1})

    def incr(txn):
        doc = txn.get("c/n")
        txn.set("c/n", {"v": doc["v"] + 1})

    for _ in range(5):
        store.transaction(incr)
    assert store.get("c/n") == {"v": 6}


def test_bad_path_is_a_clear_error(store: StateStore) -> None:
    with pytest.raises(ValueError, match="not a document path"):
        store.set("days", {"x": 1})
