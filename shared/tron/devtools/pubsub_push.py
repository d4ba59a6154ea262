"""Wire an orders topic to the executor as production does: a push subscription with a dead-letter topic
after a number of delivery attempts (infra/terraform declares the same, with a retry policy), on the Pub/Sub
emulator (:func:`wire_push`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PushWiring:
    """The full resource names :func:`wire_push` created, and the delivery attempts before dead-lettering."""

    topic: str
    subscription: str
    dead_letter_topic: str
    dead_letter_subscription: str
    max_delivery_attempts: int


def wire_push(
    publisher: Any,
    subscriber: Any,
    project: str,
    topic: str,
    endpoint: str,
    max_delivery_attempts: int = 5,
    ack_deadline_s: int = 600,
) -> PushWiring:
    """Create the topic, its dead-letter topic (with a pull subscription to keep and inspect what lands
    there) and a push subscription to ``endpoint``; return their names.

    What the Pub/Sub emulator (0.8.20) really does with it, measured
    (tests/integration/test_push_delivery.py):

    - pushes each message to the endpoint about 0.1 s after publish; a 2xx acknowledges it;
    - a non-2xx or a dropped connection is redelivered about every second;
    - after `max_delivery_attempts` failed deliveries the message is published to the dead-letter topic
      with CloudPubSubDeadLetterSource* attributes (a subscription on that topic must exist to keep it);
    - with a retry policy (backoff 1–10 s, as terraform sets) it does not follow the backoff (+1 s, then
      every ~3 s) and mostly stops redelivering after 3 or 4 attempts and never dead-letters (two failing
      messages: 12 of 13 trials stalled for over 40 s; without the policy 5 of 5 were dead-lettered within
      6 s). So this wiring leaves the policy out;
    - a push held longer than the ack deadline (``ack_deadline_s``) is delivered again, so a long hold needs
      a long deadline;
    - no deliveryAttempt field and no OIDC token on the push.
    """
    topic_path = f"projects/{project}/topics/{topic}"
    dead_topic = f"projects/{project}/topics/{topic}-dead-letter"
    sub = f"projects/{project}/subscriptions/{topic}-execute-order"
    dead_sub = f"projects/{project}/subscriptions/{topic}-dead-letter-inspect"
    publisher.create_topic(name=topic_path)
    publisher.create_topic(name=dead_topic)
    subscriber.create_subscription(request={"name": dead_sub, "topic": dead_topic})
    subscriber.create_subscription(
        request={
            "name": sub,
            "topic": topic_path,
            "ack_deadline_seconds": ack_deadline_s,
            "push_config": {"push_endpoint": endpoint},
            "dead_letter_policy": {
                "dead_letter_topic": dead_topic,
                "max_delivery_attempts": max_delivery_attempts,
            },
        }
    )
    return PushWiring(topic_path, sub, dead_topic, dead_sub, max_delivery_attempts)


def pull_dead_letters(subscriber: Any, wiring: PushWiring, wait_s: float = 0.0) -> list[Any]:
    """Pull (and acknowledge) what reached the dead-letter topic; waits up to wait_s for the first one."""
    out: list[Any] = []
    deadline = time.monotonic() + wait_s
    while True:
        resp = subscriber.pull(
            request={
                "subscription": wiring.dead_letter_subscription,
                "max_messages": 100,
                "return_immediately": True,
            },
            timeout=10,
        )
        got = list(resp.received_messages)
        if got:
            subscriber.acknowledge(
                request={"subscription": wiring.dead_letter_subscription, "ack_ids": [m.ack_id for m in got]}
            )
            out.extend(m.message for m in got)
            continue
        if out or time.monotonic() >= deadline:
            return out
        time.sleep(0.2)
