"""The Bus contract: at least once, redelivery on failure, duplicates, dead letters."""

from __future__ import annotations

import json

from tron.adapters.inproc_bus import InProcBus


def test_every_message_is_delivered_with_its_attributes() -> None:
    bus = InProcBus()
    for i in range(10):
        bus.publish("orders", {"i": i}, {"k": str(i)})
    got = []
    bus.drain("orders", lambda d, a: got.append((json.loads(d)["i"], a["k"])))
    assert sorted(got) == [(i, str(i)) for i in range(10)]


def test_a_share_of_messages_is_delivered_twice() -> None:
    bus = InProcBus(redeliver_fraction=0.3, seed=1)
    for i in range(1000):
        bus.publish("orders", {"i": i}, {})
    got: list[int] = []
    bus.drain("orders", lambda d, a: got.append(json.loads(d)["i"]))
    assert set(got) == set(range(1000))
    assert 250 < len(got) - 1000 < 350  # each message at most twice: ≈ 0.3 of them
    assert bus.stats.redelivered == len(got) - 1000
    assert max(got.count(i) for i in range(1000)) == 2


def test_redelivering_every_message_delivers_each_exactly_twice() -> None:
    """--redeliver 1.0 used to redeliver the redelivered copy too, forever."""
    bus = InProcBus(redeliver_fraction=1.0)
    for i in range(50):
        bus.publish("orders", {"i": i}, {})
    got: list[int] = []
    bus.drain("orders", lambda d, a: got.append(json.loads(d)["i"]))
    assert sorted(got) == sorted(list(range(50)) * 2)
    assert bus.stats.redelivered == 50


def test_a_failed_delivery_comes_back_at_the_next_drain_then_dead_letters() -> None:
    bus = InProcBus(max_attempts=3)
    bus.publish("orders", {"i": 1}, {})
    calls = []

    def boom(d: bytes, a: dict) -> None:
        calls.append(1)
        raise RuntimeError("down")

    for _ in range(5):
        bus.drain("orders", boom)
    assert len(calls) == 3
    assert len(bus.dead_letters) == 1 and bus.stats.dead_lettered == 1


def test_topics_are_separate() -> None:
    bus = InProcBus()
    bus.publish("a", {"x": 1}, {})
    bus.publish("b", {"x": 2}, {})
    got = []
    bus.drain("a", lambda d, a: got.append(d))
    assert len(got) == 1 and len(bus.queue) == 1
