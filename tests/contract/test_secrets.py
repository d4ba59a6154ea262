"""The Secrets contract, run against EnvSecrets and against SecretManagerSecrets with the real Secret Manager
client (REST transport) talking to a local fake server (tests/support/fakes/secretmanager.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests.support.fakes.secretmanager import FakeSecretManager
from tron.adapters.clock import VirtualClock
from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.secretmanager import SecretManagerSecrets
from tron.domain.timeutil import IST
from tron.ports import Secrets

PROJECT = "tron-test"
TTL_S = 60.0


@pytest.fixture(scope="module")
def fake_sm() -> Iterator[FakeSecretManager]:
    with FakeSecretManager() as fake:
        yield fake


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 11, 23, 8, 0, tzinfo=IST))


def _sm_secrets(fake: FakeSecretManager, clock: VirtualClock) -> SecretManagerSecrets:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager

    fake.secrets.clear()
    client = secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": fake.url},
    )
    return SecretManagerSecrets(client, PROJECT, ttl_seconds=TTL_S, clock=clock)


@pytest.fixture(params=["env", "secretmanager"])
def secrets(request: pytest.FixtureRequest, clock: VirtualClock) -> Secrets:
    if request.param == "env":
        return EnvSecrets(environ={})
    return _sm_secrets(request.getfixturevalue("fake_sm"), clock)


def test_a_missing_secret_is_none(secrets: Secrets) -> None:
    assert secrets.get("kite-access-token") is None


def test_put_then_get_returns_the_value(secrets: Secrets) -> None:
    secrets.put("kite-access-token", "tok-1")
    assert secrets.get("kite-access-token") == "tok-1"


def test_a_later_put_wins(secrets: Secrets) -> None:
    secrets.put("kite-access-token", "tok-1")
    assert secrets.get("kite-access-token") == "tok-1"
    secrets.put("kite-access-token", "tok-2")
    assert secrets.get("kite-access-token") == "tok-2"


def test_secrets_are_separate(secrets: Secrets) -> None:
    secrets.put("a", "1")
    assert secrets.get("b") is None
    assert secrets.get("a") == "1"


def test_env_secrets_read_the_environment() -> None:
    assert EnvSecrets(environ={"TRON_SECRET_KITE_API_KEY": "k"}).get("kite-api-key") == "k"


def test_secret_manager_keeps_every_version(fake_sm: FakeSecretManager, clock: VirtualClock) -> None:
    s = _sm_secrets(fake_sm, clock)
    s.put("kite-access-token", "tok-1")
    s.put("kite-access-token", "tok-2")
    assert fake_sm.secrets[(PROJECT, "kite-access-token")] == [b"tok-1", b"tok-2"]


def test_secret_manager_serves_from_cache_until_the_ttl_passes(
    fake_sm: FakeSecretManager, clock: VirtualClock
) -> None:
    s = _sm_secrets(fake_sm, clock)
    fake_sm.secrets[(PROJECT, "kite-access-token")] = [b"tok-1"]
    before = len(fake_sm.requests)
    assert s.get("kite-access-token") == "tok-1"
    assert len(fake_sm.requests) == before + 1

    # Another process rotates the token: this one keeps the cached value until its TTL passes.
    fake_sm.secrets[(PROJECT, "kite-access-token")].append(b"tok-2")
    clock.advance(timedelta(seconds=TTL_S - 1))
    assert s.get("kite-access-token") == "tok-1"
    assert len(fake_sm.requests) == before + 1

    clock.advance(timedelta(seconds=1))
    assert s.get("kite-access-token") == "tok-2"
    assert len(fake_sm.requests) == before + 2


def test_secret_manager_put_refreshes_the_cache(fake_sm: FakeSecretManager, clock: VirtualClock) -> None:
    s = _sm_secrets(fake_sm, clock)
    assert s.get("kite-access-token") is None  # a miss is cached too
    s.put("kite-access-token", "tok-1")
    before = len(fake_sm.requests)
    assert s.get("kite-access-token") == "tok-1"
    assert len(fake_sm.requests) == before  # served by the cache the put refreshed
