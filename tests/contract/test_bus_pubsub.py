"""The Bus contract on the real Pub/Sub emulator: PubSubBus publishes, a pull subscription receives.

The emulator has no reset, so every test works on fresh topic and subscription names. Clients are built
against the emulator explicitly: PUBSUB_EMULATOR_HOST is set only while they are constructed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.support.emulators import PROJECT, Server
from tron.adapters.pubsub_bus import PublishFailed, PubSubBus

if TYPE_CHECKING:
    from google.cloud import pubsub_v1
    from google.pubsub_v1.types import ReceivedMessage

DEAD_LETTER_BUDGET_S = 20.0

# Pulling with return_immediately is deprecated for production but is what keeps these tests fast.
pytestmark = pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated:DeprecationWarning")


@dataclass
class Clients:
    publisher: pubsub_v1.PublisherClient
    subscriber: pubsub_v1.SubscriberClient

    def topic(self, prefix: str = "t") -> str:
        """A fresh topic; returns its short name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.publisher.create_topic(name=f"projects/{PROJECT}/topics/{name}")
        return name

    def subscription(self, topic: str, **extra: object) -> str:
        path = f"projects/{PROJECT}/subscriptions/s-{uuid.uuid4().hex[:12]}"
        self.subscriber.create_subscription(
            request={
                "name": path,
                "topic": f"projects/{PROJECT}/topics/{topic}",
                "ack_deadline_seconds": 10,
                **extra,
            }
        )
        return path

    def pull(self, sub: str, max_messages: int = 100, timeout_s: float = 5.0) -> list[ReceivedMessage]:
        """Pull until something arrives or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            resp = self.subscriber.pull(
                request={"subscription": sub, "max_messages": max_messages, "return_immediately": True},
                timeout=5.0,
            )
            if resp.received_messages or time.monotonic() > deadline:
                return list(resp.received_messages)
            time.sleep(0.05)

    def ack(self, sub: str, msgs: list[ReceivedMessage]) -> None:
        if msgs:
            self.subscriber.acknowledge(request={"subscription": sub, "ack_ids": [m.ack_id for m in msgs]})

    def nack(self, sub: str, msgs: list[ReceivedMessage]) -> None:
        if msgs:
            self.subscriber.modify_ack_deadline(
                request={"subscription": sub, "ack_ids": [m.ack_id for m in msgs], "ack_deadline_seconds": 0}
            )


@pytest.fixture(scope="module")
def clients(pubsub_emulator: Server) -> Iterator[Clients]:
    from google.cloud import pubsub_v1

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
        c = Clients(pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient())
    yield c
    c.subscriber.close()


@pytest.fixture
def bus(clients: Clients) -> PubSubBus:
    return PubSubBus(clients.publisher, PROJECT, timeout_s=10.0)


def test_data_and_attributes_roundtrip(clients: Clients, bus: PubSubBus) -> None:
    topic = clients.topic()
    sub = clients.subscription(topic)
    data = {"symbol": "RELIANCE", "qty": 3, "side": "BUY", "nested": {"b": 1, "a": [1, 2]}}
    mid = bus.publish(topic, data, {"day": "2026-11-23", "kind": "intent"})
    msgs = clients.pull(sub)
    clients.ack(sub, msgs)
    assert len(msgs) == 1
    m = msgs[0].message
    assert m.message_id == mid
    assert json.loads(m.data) == data
    assert m.data == json.dumps(data, sort_keys=True).encode()
    assert dict(m.attributes) == {"day": "2026-11-23", "kind": "intent"}


def test_fifty_messages_all_arrive(clients: Clients, bus: PubSubBus) -> None:
    topic = clients.topic()
    sub = clients.subscription(topic)
    ids = {bus.publish(topic, {"i": i}, {"i": str(i)}) for i in range(50)}
    assert len(ids) == 50
    got: dict[str, int] = {}  # message id → i; at least once, so duplicates collapse here
    deadline = time.monotonic() + 10.0
    while len(got) < 50 and time.monotonic() < deadline:
        msgs = clients.pull(sub, timeout_s=1.0)
        for rm in msgs:
            got[rm.message.message_id] = json.loads(rm.message.data)["i"]
            assert rm.message.attributes["i"] == str(got[rm.message.message_id])
        clients.ack(sub, msgs)
    assert set(got) == ids
    assert sorted(got.values()) == list(range(50))


def test_a_nacked_message_is_redelivered(clients: Clients, bus: PubSubBus) -> None:
    topic = clients.topic()
    sub = clients.subscription(topic)
    mid = bus.publish(topic, {"x": 1}, {})
    first = clients.pull(sub)
    assert [m.message.message_id for m in first] == [mid]
    clients.nack(sub, first)
    again = clients.pull(sub)
    assert [m.message.message_id for m in again] == [mid]
    clients.ack(sub, again)
    assert clients.pull(sub, timeout_s=0.5) == []


def test_a_message_never_acked_goes_to_the_dead_letter_topic(clients: Clients, bus: PubSubBus) -> None:
    topic = clients.topic()
    dead = clients.topic("dead")
    dead_sub = clients.subscription(dead)
    sub = clients.subscription(
        topic,
        dead_letter_policy={
            "dead_letter_topic": f"projects/{PROJECT}/topics/{dead}",
            "max_delivery_attempts": 5,
        },
    )
    bus.publish(topic, {"order": "poison"}, {"kind": "intent"})
    start = time.monotonic()
    attempts = 0
    dead_msgs: list[ReceivedMessage] = []
    while time.monotonic() - start < DEAD_LETTER_BUDGET_S:
        msgs = clients.pull(sub, timeout_s=0.5)
        attempts += len(msgs)
        clients.nack(sub, msgs)  # the handler failed every time
        dead_msgs = clients.pull(dead_sub, timeout_s=0.0)
        if dead_msgs:
            break
    elapsed = time.monotonic() - start
    if not dead_msgs:
        pytest.skip(f"the emulator did not dead-letter within {elapsed:.1f} s ({attempts} deliveries seen)")
    clients.ack(dead_sub, dead_msgs)
    assert len(dead_msgs) == 1
    m = dead_msgs[0].message
    assert json.loads(m.data) == {"order": "poison"}
    assert m.attributes["kind"] == "intent"
    assert m.attributes["CloudPubSubDeadLetterSourceSubscription"] == sub.rsplit("/", 1)[1]
    assert m.attributes["CloudPubSubDeadLetterSourceSubscriptionProject"] == PROJECT
    assert m.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert attempts >= 5
    # Nothing comes back on the original subscription once the message is dead-lettered.
    assert clients.pull(sub, timeout_s=0.3) == []


def test_publishing_to_a_missing_topic_fails_clearly(clients: Clients, bus: PubSubBus) -> None:
    with pytest.raises(PublishFailed, match="no-such-topic"):
        bus.publish(f"no-such-topic-{uuid.uuid4().hex[:8]}", {"x": 1}, {})
