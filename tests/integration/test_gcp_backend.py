"""The GCP composition on the real emulators: plan_day, ticks and the executor through Firestore, Pub/Sub
and Cloud Storage (fake-gcs-server), with Pub/Sub's at-least-once delivery (every message delivered twice)."""

from __future__ import annotations

import json
import time as clock_time
import uuid
from datetime import time
from pathlib import Path

import pytest

from tests.support.days import TRADING_DAY, settings
from tests.support.emulators import PROJECT, Server
from tron.adapters.clock import VirtualClock
from tron.bootstrap import GcpClients, gcp
from tron.config.settings import ConfigError, load_settings
from tron.domain.models import Asset
from tron.domain.timeutil import ist
from tron.services.execute_order import execute_order
from tron.services.plan_day import plan_day
from tron.services.tick import tick

pytestmark = pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated:DeprecationWarning")


def test_gcp_backend_needs_project_and_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with pytest.raises(ConfigError, match="backend 'gcp' needs project"):
        load_settings(backend="gcp")


def test_a_morning_on_firestore_pubsub_and_gcs(
    tmp_path: Path, firestore_client, gcs_client, gcs_bucket: str, pubsub_emulator: Server
) -> None:
    from google.cloud import pubsub_v1

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = f"orders-{uuid.uuid4().hex[:10]}"
    publisher.create_topic(name=f"projects/{PROJECT}/topics/{topic}")
    sub = f"projects/{PROJECT}/subscriptions/{topic}-exec"
    subscriber.create_subscription(
        request={"name": sub, "topic": f"projects/{PROJECT}/topics/{topic}", "ack_deadline_seconds": 10}
    )

    s = settings(tmp_path, backend="gcp", project=PROJECT, archive_bucket=gcs_bucket, orders_topic=topic)
    clock = VirtualClock(ist(TRADING_DAY, time(9, 0)))
    deps = gcp(s, clock, GcpClients(firestore_client, publisher, gcs_client))
    assert plan_day(deps)["status"] == "armed"

    def deliver_all() -> int:
        n = 0
        deadline = clock_time.monotonic() + 2
        while clock_time.monotonic() < deadline:
            resp = subscriber.pull(
                request={"subscription": sub, "max_messages": 100, "return_immediately": True}, timeout=5
            )
            if not resp.received_messages:
                if n:
                    break
                clock_time.sleep(0.05)
                continue
            for m in resp.received_messages:
                for _ in range(2):  # at least once: every message twice
                    execute_order(deps, m.message.data, dict(m.message.attributes))
                n += 1
            subscriber.acknowledge(
                request={"subscription": sub, "ack_ids": [m.ack_id for m in resp.received_messages]}
            )
        return n

    published = 0
    for minute in range(15, 60):
        clock.set(ist(TRADING_DAY, time(9, minute)))
        published += deliver_all() if published else 0
        result = tick(deps, Asset.STOCKS)
        published += len(result.intents)
        if published and minute > 45:
            break
    clock.set(clock.now().replace(minute=clock.now().minute + 1))
    deliver_all()

    intents = [d for _, d in deps.store.list(f"days/{TRADING_DAY}/intents")]
    assert intents, "no order intent in the first 45 minutes"
    assert (
        "filled" in {d["state"] for d in intents} <= {"filled", "resting", "cancelled"}
    )  # stops rest or end
    orders = [d for _, d in deps.store.list(f"paper/{TRADING_DAY}/orders")]
    assert len(orders) == len({o["tag"] for o in orders})  # one order per tag, however often delivered
    # every order is an intent's (an exit that turned its resting stop into itself shares that order)
    assert {o["order_id"] for o in orders} == {d["order_id"] for d in intents if d.get("order_id")}
    book = deps.store.get(f"days/{TRADING_DAY}/books/stocks")
    assert book["duplicates_ignored"] == len(intents)
    replay = deps.archive.read(f"replay/{TRADING_DAY}/stocks.jsonl")
    assert replay and len(replay.decode().splitlines()) >= 30
    assert json.loads(replay.decode().splitlines()[0])["now"].endswith("+05:30")
