"""The Bus on Cloud Pub/Sub: JSON data (sorted keys), string attributes, the server's message id back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tron.ports import Doc

if TYPE_CHECKING:
    import google.cloud.pubsub_v1 as pubsub_v1


class PublishFailed(Exception):
    """Pub/Sub did not accept the message (error or timeout): the caller may retry."""


class PubSubBus:
    """The Bus port on a Pub/Sub publisher of one project."""

    def __init__(self, publisher: pubsub_v1.PublisherClient, project: str, timeout_s: float = 30.0) -> None:
        self.publisher = publisher
        self.project = project
        self.timeout_s = timeout_s

    def topic_path(self, topic: str) -> str:
        """`projects/P/topics/<topic>`."""
        return f"projects/{self.project}/topics/{topic}"

    def publish(self, topic: str, data: Doc, attributes: dict[str, str]) -> str:
        """Publish and wait for the publish future (bounded by ``timeout_s``), so a caller that gets an id
        back knows Pub/Sub has the message; any failure is raised as PublishFailed naming the topic."""
        payload = json.dumps(data, sort_keys=True).encode()
        attrs = {str(k): str(v) for k, v in attributes.items()}
        path = self.topic_path(topic)
        try:
            future = self.publisher.publish(path, payload, **attrs)
            return str(future.result(timeout=self.timeout_s))
        except Exception as e:
            raise PublishFailed(f"publishing to {path} failed: {type(e).__name__}: {e}") from e
