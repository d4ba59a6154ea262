"""The executor behind a real Pub/Sub push subscription (emulator) with a retry policy and a dead-letter
topic, served by functions-framework over HTTP, state in the Firestore emulator (tron.runday.emulators).

- Duplicate deliveries, concurrent ones included, place one order per intent.
- An executor that dies between placing the order and recording the fill (the connection drops, nothing is
  answered) is redelivered by Pub/Sub; the redelivery finds the intent `placing`, waits out the lease
  (HTTP 500, retried), then adopts the broker's order by its tag: still one order.
- A malformed message is recorded under malformed/ with an ERROR log and acknowledged: a recorded
  rejection, not a dead letter (retrying garbage cannot help). A well-formed message the executor cannot
  process (the broker stays unavailable) is retried and, after max delivery attempts, lands in the
  dead-letter topic with Pub/Sub's CloudPubSubDeadLetter* attributes; the executor keeps serving, and
  publishing the dead letter again fills it once."""

from __future__ import annotations

import json
import time as wall
import uuid
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import TRADING_DAY, settings
from tron.devtools.emulators import Emulators
from tron.domain.models import OrderIntent
from tron.domain.timeutil import ist
from tron.runday.emulators import EmulatedDay, start

pytestmark = pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated:DeprecationWarning")
DAY = TRADING_DAY.isoformat()


def _day(tmp_path: Path, servers: Emulators, serialize: bool) -> Iterator[EmulatedDay]:
    s = settings(tmp_path, symbols=10, seed=7, orders_topic=f"orders-{uuid.uuid4().hex[:10]}")
    run = start(s, TRADING_DAY, tmp_path / "run", emulators=servers, serialize=serialize)
    try:
        yield run
    finally:
        run.stop()


@pytest.fixture
def day(tmp_path: Path, servers: Emulators) -> Iterator[EmulatedDay]:
    yield from _day(tmp_path, servers, serialize=True)


@pytest.fixture
def concurrent_day(tmp_path: Path, servers: Emulators) -> Iterator[EmulatedDay]:
    yield from _day(tmp_path, servers, serialize=False)


def first_intents(run: EmulatedDay) -> tuple[int, list[OrderIntent]]:
    """Plan the day and tick stocks until intents are published; returns the minute and the intents, whose
    pushes the gate is holding."""
    run.clock.set(ist(TRADING_DAY, time(9, 0)))
    run.call("plan_day")
    for minute in range(15, 60):
        run.clock.set(ist(TRADING_DAY, time(9, minute)))
        run.deliver()
        if run.call("tick_stocks")["intents"]:
            docs = [d for _, d in run.deps.store.list(f"days/{DAY}/intents") if d["state"] == "claimed"]
            return minute, [OrderIntent.from_dict(d) for d in docs]
    raise AssertionError("no order intent in the first 45 minutes")


def paper_orders(run: EmulatedDay, intent: OrderIntent) -> list[dict[str, Any]]:
    return [d for _, d in run.deps.store.list(f"paper/{DAY}/orders") if d["tag"] == intent.tag]


def intent_doc(run: EmulatedDay, intent: OrderIntent) -> dict[str, Any]:
    doc = run.deps.store.get(f"days/{DAY}/intents/{intent.intent_id}")
    assert doc is not None
    return doc


def republish(run: EmulatedDay, intent: OrderIntent) -> str:
    """Publish the intent again, as a lost ack or a second tick would: a new message, the same data."""
    return run.bus.publish(
        run.settings.orders_topic, intent.to_dict(), {"intent_id": intent.intent_id, "asset": intent.asset}
    )


def wait_for(what: str, cond: Any, timeout_s: float = 30) -> None:
    deadline = wall.monotonic() + timeout_s
    while not cond():
        assert wall.monotonic() < deadline, f"timed out waiting for {what}"
        wall.sleep(0.05)


def logs(run: EmulatedDay) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(run.root / "functions.jsonl").read_text().splitlines()]


def test_duplicate_and_concurrent_deliveries_place_one_order(concurrent_day: EmulatedDay) -> None:
    run = concurrent_day
    minute, intents = first_intents(run)
    for intent in intents:  # two more messages per intent, all pushed at once when the gate opens
        republish(run, intent)
        republish(run, intent)
    run.clock.set(ist(TRADING_DAY, time(9, minute + 1)))
    run.deliver(timeout_s=60)

    protects = [d for _, d in run.deps.store.list(f"days/{DAY}/intents") if d["purpose"] == "protect"]
    assert len(protects) == len(intents)  # each filled entry published the stop that rests at the broker
    assert len(run.bus.published) == 3 * len(intents) + len(protects)
    assert all(m in run.host.gate.acked for m in run.bus.published)
    for intent in intents:
        assert len(paper_orders(run, intent)) == 1
        assert intent_doc(run, intent)["state"] == "filled"
    book = run.deps.store.get(f"days/{DAY}/books/stocks")
    assert book["duplicates_ignored"] == 2 * len(intents)


class SimulatedCrash(SystemExit):
    """The instance dies: raised past the framework, the connection drops without an answer."""


class CrashAfterPlacing:
    """The broker places the order, then the process dies before the executor records the fill (once)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.store = getattr(inner, "store", None)
        self.crashed: OrderIntent | None = None

    def place(self, intent: OrderIntent) -> Any:
        order = self.inner.place(intent)
        if self.crashed is None:
            self.crashed = intent
            raise SimulatedCrash
        return order

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the simulated crash
def test_a_crash_between_placing_and_recording_is_recovered_by_tag(day: EmulatedDay) -> None:
    run = day
    minute, intents = first_intents(run)
    broker = CrashAfterPlacing(run.deps.broker)
    run.deps.broker = broker
    run.clock.set(ist(TRADING_DAY, time(9, minute + 1)))
    run.host.gate.open()

    # Pub/Sub redelivers the dropped push; within the placing lease the executor answers 500 (Busy).
    wait_for("the crash", lambda: broker.crashed is not None)
    crashed = broker.crashed
    assert crashed is not None
    wait_for("a Busy answer", lambda: sum(run.host.gate.failed.values()) >= 1)
    assert intent_doc(run, crashed)["state"] == "placing"
    assert len(paper_orders(run, crashed)) == 1

    run.clock.set(ist(TRADING_DAY, time(9, minute + 2)))  # the lease has expired: recovery adopts by tag
    run.deliver(timeout_s=60)
    doc = intent_doc(run, crashed)
    assert doc["state"] == "filled" and doc["fill"]["adopted"] is True
    for intent in intents:
        assert len(paper_orders(run, intent)) == 1
        assert intent_doc(run, intent)["state"] == "filled"


def test_malformed_is_recorded_poison_is_dead_lettered_and_the_executor_keeps_serving(
    day: EmulatedDay,
) -> None:
    run = day
    minute, intents = first_intents(run)
    stuck = intents[0]

    # Garbage: recorded under malformed/ with an ERROR log, acknowledged (not retried).
    garbage = run.bus.publish_raw(run.settings.orders_topic, b"\x00not an order")
    # The intents of this minute cannot be filled while the clock stays in it (no later snapshot): the
    # broker is "unavailable" at every attempt, so Pub/Sub retries, then dead-letters them.
    run.deliver(timeout_s=90)

    assert garbage in run.host.gate.acked
    malformed = run.deps.store.list("malformed")
    assert len(malformed) == 1 and "not an order" in malformed[0][1]["data"]
    errors = [r for r in logs(run) if r["severity"] == "ERROR" and r["component"] == "execute_order"]
    assert any("malformed" in r["message"] for r in errors)

    dead = run.dead_letters  # what deliver() found in the dead-letter topic
    assert {m.attributes["intent_id"] for m in dead} == {i.intent_id for i in intents}
    assert all(
        m.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(run.wiring.max_delivery_attempts)
        for m in dead
    )
    assert intent_doc(run, stuck)["state"] == "placing" and paper_orders(run, stuck) == []

    # Still serving: a later minute, the dead letters published again (a redrive) are filled once.
    run.clock.set(ist(TRADING_DAY, time(9, minute + 1)))
    for m in dead:
        run.bus.publish_raw(run.settings.orders_topic, m.data, {"intent_id": m.attributes["intent_id"]})
    run.deliver(timeout_s=60)
    for intent in intents:
        assert intent_doc(run, intent)["state"] == "filled"
        assert len(paper_orders(run, intent)) == 1
