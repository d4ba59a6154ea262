"""tron.services.live: the operator's arming, the day's decision taken once, and the DayBroker that sends a
day's orders to Kite only when that day was armed (entries refused once it is disarmed, exits never)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import TRADING_DAY, at, embedded_deps
from tests.support.domain import stock_intent
from tests.support.logs import tron_records
from tron.domain.models import OrderIntent, Purpose, Side
from tron.ports import BrokerOrder, OrderRejected
from tron.services.live import LIVE_ARM, DayBroker, arm, decision_path, disarm, live_decision, live_status


@dataclass
class Recording:
    """A broker that fills everything and records the calls it got."""

    name: str
    calls: list[str] = field(default_factory=list)

    def place(self, intent: OrderIntent) -> BrokerOrder:
        self.calls.append(f"place {intent.purpose}")
        return BrokerOrder(f"{self.name}-1", intent.tag, "COMPLETE", intent.qty, Decimal("100"), at(10, 0))

    def net_positions(self, day: Any) -> dict[str, int]:
        self.calls.append("net_positions")
        return {}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{self.name}.{name} was not expected")


ENTRY = stock_intent(Side.BUY, 10, Purpose.ENTRY, "RELIANCE")
EXIT = stock_intent(Side.SELL, 10, Purpose.EXIT, "RELIANCE")


def routed(tmp_path: Path) -> tuple[Any, DayBroker, Recording, Recording]:
    deps = embedded_deps(tmp_path)
    kite, paper = Recording("kite"), Recording("paper")
    return deps, DayBroker(deps.store, kite, paper, deps.clock), kite, paper


def test_an_armed_day_sends_its_orders_to_kite(tmp_path: Path) -> None:
    deps, broker, kite, paper = routed(tmp_path)
    arm(deps.store, TRADING_DAY, "first live day", "asha", at(8, 30))
    broker.place(ENTRY)
    broker.net_positions(TRADING_DAY)
    assert kite.calls == ["place entry", "net_positions"] and paper.calls == []
    decision = deps.store.get(decision_path(TRADING_DAY.isoformat()))
    assert decision["live"] is True and "armed by asha: first live day" in decision["why"]


def test_without_an_arming_the_day_runs_on_paper_and_says_why(tmp_path: Path) -> None:
    _deps, broker, kite, paper = routed(tmp_path)
    with tron_records() as records:
        broker.place(ENTRY)
    assert paper.calls == ["place entry"] and kite.calls == []
    assert records.at("ERROR", "mode live, but the day runs on paper: not armed: no control/live_arm")


def test_another_days_arming_is_refused(tmp_path: Path) -> None:
    deps, broker, kite, _paper = routed(tmp_path)
    arm(deps.store, TRADING_DAY - timedelta(days=3), "last week", "asha", at(8, 30) - timedelta(days=3))
    broker.place(ENTRY)
    assert kite.calls == [] and "expired" in broker.store.get(decision_path(TRADING_DAY.isoformat()))["why"]


def test_the_decision_holds_for_the_day(tmp_path: Path) -> None:
    """Armed after the day first traded on paper: the day stays on paper (its positions are paper's); the
    decision is taken once however many instances ask."""
    deps, broker, kite, paper = routed(tmp_path)
    broker.place(ENTRY)
    arm(deps.store, TRADING_DAY, "too late", "asha", at(10, 0))
    other = DayBroker(deps.store, kite, paper, deps.clock)  # another instance
    other.place(ENTRY)
    assert kite.calls == [] and paper.calls == ["place entry", "place entry"]
    assert live_decision(deps.store, TRADING_DAY, at(11, 0))["live"] is False


def test_disarming_an_armed_day_refuses_entries_but_never_exits(tmp_path: Path) -> None:
    deps, broker, kite, paper = routed(tmp_path)
    arm(deps.store, TRADING_DAY, "first live day", "asha", at(8, 30))
    broker.place(ENTRY)
    disarm(deps.store, "the stops look wrong", "ravi", at(11, 0))
    with pytest.raises(OrderRejected, match="live entry refused: not armed: disarmed by ravi"):
        broker.place(replace(ENTRY, intent_id="second"))
    broker.place(EXIT)
    assert kite.calls == ["place entry", "place exit"] and paper.calls == []


def test_arming_needs_a_reason(tmp_path: Path) -> None:
    deps = embedded_deps(tmp_path)
    with pytest.raises(ValueError, match="needs a reason"):
        arm(deps.store, TRADING_DAY, " ", "asha", at(8, 30))
    assert deps.store.get(LIVE_ARM) is None
    assert disarm(deps.store, "", "asha", at(8, 30)) is None  # nothing armed


def test_status_shows_what_is_armed_by_whom(tmp_path: Path) -> None:
    deps = embedded_deps(tmp_path)
    arm(deps.store, TRADING_DAY, "first live day", "asha", at(8, 30))
    status = live_status(deps.store, TRADING_DAY)
    assert status["armed"] and status["arming"]["by"] == "asha" and status["decision"] is None
    later = live_status(deps.store, TRADING_DAY + timedelta(days=1))
    assert not later["armed"] and "expired" in later["why_not"]


def test_the_days_document_says_how_its_orders_fill(tmp_path: Path) -> None:
    from tron.services.plan_day import plan_day

    class Quiet(Recording):
        """An account with nothing on it."""

        def preflight(self) -> None:
            return None

        def working_orders(self) -> list[Any]:
            return []

    for armed in (False, True):
        deps = embedded_deps(tmp_path / str(armed))
        if armed:
            arm(deps.store, TRADING_DAY, "first live day", "asha", at(8, 30))
        deps.broker = DayBroker(deps.store, Quiet("kite"), Quiet("paper"), deps.clock)  # type: ignore[assignment]
        assert plan_day(deps)["mode"] == ("live" if armed else "paper")
