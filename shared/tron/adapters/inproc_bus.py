"""An in-process bus with Pub/Sub's delivery contract: at least once, in any order across topics
(:class:`InProcBus`)."""

from __future__ import annotations

import json
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Handler = Callable[[bytes, dict[str, str]], None]
log = logging.getLogger("tron.bus")


@dataclass
class Message:
    """One queued message and how often it has been delivered."""

    message_id: str
    topic: str
    data: bytes
    attributes: dict[str, str]
    attempts: int = 0
    copy: bool = False  # a redelivered duplicate (never duplicated again)


@dataclass
class DeliveryStats:
    """Deliveries so far: handled, redelivered copies, handler failures, dead-lettered messages."""

    delivered: int = 0
    redelivered: int = 0
    failed: int = 0
    dead_lettered: int = 0


@dataclass
class InProcBus:
    """The Bus port in memory; messages wait in ``queue`` until :meth:`drain` delivers a topic's.

    It can be told to redeliver a share of messages (``redeliver_fraction``, as Pub/Sub does after a lost
    ack; chosen with a ``seed``ed generator): each chosen message is delivered once more, so 1.0 means every
    message twice. A handler that raises gets the message again at the next drain, and after
    ``max_attempts`` the message goes to ``dead_letters`` with an ERROR log (the alert Pub/Sub's
    dead-letter backlog raises in production).
    """

    redeliver_fraction: float = 0.0
    seed: int = 0
    max_attempts: int = 5
    queue: deque[Message] = field(default_factory=deque)
    dead_letters: list[Message] = field(default_factory=list)
    published: int = 0
    stats: DeliveryStats = field(default_factory=DeliveryStats)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def publish(self, topic: str, data: dict, attributes: dict[str, str]) -> str:
        """Queue ``data`` as sorted-key JSON; returns its message id (m0000001, m0000002, …)."""
        self.published += 1
        mid = f"m{self.published:07d}"
        self.queue.append(Message(mid, topic, json.dumps(data, sort_keys=True).encode(), dict(attributes)))
        return mid

    def publish_raw(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        """Publish bytes as they are (tests use it for malformed messages)."""
        self.published += 1
        mid = f"m{self.published:07d}"
        self.queue.append(Message(mid, topic, data, dict(attributes or {})))
        return mid

    def drain(self, topic: str, handler: Handler) -> None:
        """Deliver every queued message of the topic, those published while draining (as a push
        subscription delivers them at once: an entry's fill publishes its stop), and the duplicates the bus
        chooses to redeliver. A message whose handler raised waits for the next drain."""
        retry: deque[Message] = deque()
        while True:
            pending = deque(m for m in self.queue if m.topic == topic)
            if not pending:
                break
            self.queue = deque(m for m in self.queue if m.topic != topic)
            self._deliver(pending, handler, retry)
        self.queue.extend(retry)  # retried at the next drain, as Pub/Sub retries after a backoff

    def _deliver(self, pending: deque[Message], handler: Handler, retry: deque[Message]) -> None:
        while pending:
            msg = pending.popleft()
            msg.attempts += 1
            try:
                handler(msg.data, msg.attributes)
            except Exception:
                self.stats.failed += 1
                if msg.attempts >= self.max_attempts:
                    self.dead_letters.append(msg)
                    self.stats.dead_lettered += 1
                    log.error(
                        f"message dead-lettered after {msg.attempts} failed deliveries: {msg.attributes}",
                        extra={"component": "bus", "correlation_id": msg.attributes.get("intent_id", "")},
                    )
                else:
                    retry.append(msg)
                continue
            self.stats.delivered += 1
            if not msg.copy and self._rng.random() < self.redeliver_fraction:
                self.stats.redelivered += 1
                pending.append(
                    Message(msg.message_id, msg.topic, msg.data, msg.attributes, msg.attempts, copy=True)
                )
