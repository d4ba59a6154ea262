"""The executor's last word on an entry: the guardrails (tron.domain.live) and an engaged kill switch
refuse it before any broker call, with the reason recorded on the intent; every order sent counts towards
the day's orders, and exits are never refused."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import TRADING_DAY, at, embedded_deps
from tests.support.domain import stock_intent
from tron.domain.book import Book
from tron.domain.live import Guardrails
from tron.domain.models import Asset, OrderIntent, Position, Purpose, Side, intent_id
from tron.ports import BrokerOrder
from tron.services.claims import intent_doc
from tron.services.deps import Deps
from tron.services.execute_order import execute_order
from tron.services.kill_switch import set_kill_switch
from tron.services.messages import order_message
from tron.services.paths import book_path, day_path, intent_path, orders_count_path

DAY = TRADING_DAY.isoformat()


class Filling:
    """A broker that fills every order at ₹100 and counts its calls."""

    def __init__(self) -> None:
        self.placed: list[str] = []

    def place(self, intent: OrderIntent) -> BrokerOrder:
        self.placed.append(intent.intent_id)
        return BrokerOrder("B1", intent.tag, "COMPLETE", intent.qty, Decimal("100"), at(10, 0))


@pytest.fixture
def deps(tmp_path: Path) -> Deps:
    d = embedded_deps(tmp_path)
    d.clock.set(at(10, 0))  # type: ignore[attr-defined]
    d.broker = Filling()  # type: ignore[assignment]
    d.config.resting_stops = False
    d.store.set(day_path(DAY), {"day": DAY, "trading_day": True, "status": "armed", "squaring": []})
    return d


def send(deps: Deps, intent: OrderIntent) -> str:
    deps.store.set(intent_path(DAY, intent.intent_id), intent_doc(intent, at(10, 0)))
    return execute_order(deps, json.dumps(order_message(intent)).encode(), {"intent_id": intent.intent_id})


def order(side: Side, qty: int, purpose: Purpose, symbol: str) -> OrderIntent:
    """A stocks intent decided at 10:00, under the id the tick would give it."""
    iid = intent_id(TRADING_DAY, Asset.STOCKS, "orb", symbol, purpose, at(10, 0))
    return replace(stock_intent(side, qty, purpose, symbol), intent_id=iid, decided_at=at(10, 0), price=100.0)


def why(deps: Deps, intent: OrderIntent) -> str:
    """The reason the intent was rejected (its last step's)."""
    doc = deps.store.get(intent_path(DAY, intent.intent_id))
    assert doc is not None and doc["state"] == "rejected"
    return str(doc["history"][-1]["reason"])


ENTRY = order(Side.BUY, 10, Purpose.ENTRY, "RELIANCE")


def test_an_entry_off_the_allowlist_is_refused_before_the_broker(deps: Deps) -> None:
    deps.config.guardrails = Guardrails(allowlist={"stocks": frozenset({"INFY"})})
    assert send(deps, ENTRY) == "rejected"
    assert "not on the stocks allowlist" in why(deps, ENTRY)
    assert deps.broker.placed == []  # type: ignore[attr-defined]


def test_the_days_order_cap_refuses_entries_but_not_exits(deps: Deps) -> None:
    deps.config.guardrails = Guardrails(max_orders_per_day=1)
    assert send(deps, ENTRY) == "filled"
    assert deps.store.get(orders_count_path(DAY)) == {"count": 1}
    second = order(Side.BUY, 10, Purpose.ENTRY, "INFY")
    assert send(deps, second) == "rejected"
    assert "the day's 1 orders are used" in why(deps, second)
    exit_ = order(Side.SELL, 10, Purpose.EXIT, "RELIANCE")
    assert send(deps, exit_) == "filled"
    assert deps.store.get(orders_count_path(DAY)) == {"count": 2}


def test_an_entry_in_flight_when_the_kill_switch_is_engaged_is_never_placed(deps: Deps) -> None:
    set_kill_switch(deps.store, True, "news", True, at(9, 59), "asha")
    assert send(deps, ENTRY) == "rejected"
    assert "kill switch engaged: news" in why(deps, ENTRY)
    assert deps.broker.placed == []  # type: ignore[attr-defined]


def test_a_malformed_count_is_read_as_none_sent(deps: Deps) -> None:
    deps.store.set(orders_count_path(DAY), {"count": "lots"})
    assert send(deps, ENTRY) == "filled"
    assert deps.store.get(orders_count_path(DAY)) == {"count": 1}


def book(deps: Deps) -> Any:
    return Book.from_doc(deps.store.get(book_path(DAY, Asset.STOCKS)))


def test_an_exit_passes_guardrails_that_would_refuse_it_as_an_entry(deps: Deps) -> None:
    deps.config.guardrails = Guardrails(max_order_qty={"equity_intraday": 1}, max_orders_per_day=1)
    held = Position("WIPRO", 500, Decimal("100"), "orb", at(9, 30).isoformat())
    deps.store.set(book_path(DAY, Asset.STOCKS), Book(positions={"WIPRO": held}).to_doc())
    exit_ = order(Side.SELL, 500, Purpose.EXIT, "WIPRO")
    assert send(deps, exit_) == "filled"
    assert "WIPRO" not in book(deps).positions
