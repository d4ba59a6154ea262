"""Secrets on Google Secret Manager (:class:`SecretManagerSecrets`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from google.api_core import exceptions as gexc

from tron.ports import Clock

if TYPE_CHECKING:
    from google.cloud import secretmanager


class SecretManagerSecrets:
    """The Secrets port on Secret Manager, with values cached for ``ttl_seconds`` of the injected clock."""

    def __init__(
        self,
        client: secretmanager.SecretManagerServiceClient,
        project: str,
        ttl_seconds: float,
        clock: Clock,
    ) -> None:
        self.client = client
        self.project = project
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock = clock
        self._cache: dict[str, tuple[str | None, datetime]] = {}

    def secret_path(self, name: str) -> str:
        """`projects/P/secrets/<name>`."""
        return f"projects/{self.project}/secrets/{name}"

    def get(self, name: str) -> str | None:
        """The latest version (None if the secret does not exist), cached for the TTL."""
        now = self.clock.now()
        hit = self._cache.get(name)
        if hit is not None and now - hit[1] < self.ttl:
            return hit[0]
        try:
            resp = self.client.access_secret_version(name=self.secret_path(name) + "/versions/latest")
            value: str | None = resp.payload.data.decode("utf-8")
        except gexc.NotFound:
            value = None
        self._cache[name] = (value, now)
        return value

    def put(self, name: str, value: str) -> None:
        """Add a new version (the daily Kite access token; the secret is created on first use) and refresh
        the cache, so this process sees its own write at once; other processes see it after their TTL."""
        from google.cloud import secretmanager

        payload = secretmanager.SecretPayload(data=value.encode("utf-8"))
        try:
            self.client.add_secret_version(parent=self.secret_path(name), payload=payload)
        except gexc.NotFound:
            # The first put of a name creates the secret (terraform normally has, as for the Kite token).
            self.client.create_secret(
                parent=f"projects/{self.project}",
                secret_id=name,
                secret=secretmanager.Secret(
                    replication=secretmanager.Replication(automatic=secretmanager.Replication.Automatic())
                ),
            )
            self.client.add_secret_version(parent=self.secret_path(name), payload=payload)
        self._cache[name] = (value, self.clock.now())
