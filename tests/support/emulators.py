"""Session-scoped pytest fixtures for the local Google Cloud stand-ins: the Firestore emulator, the Pub/Sub
emulator (it cannot be wiped: use fresh topic names) and fake-gcs-server.

Starting, readiness and stopping live in `tron.devtools.emulators`, shared with `tron run-day --backend
emulators` and the benchmarks. Here a stand-in that cannot start fails the test loudly (never a skip: CI must
notice). Each server starts on first use and is stopped at the end of the session; function-scoped fixtures
wipe the servers before each test. Clients get the emulator hosts explicitly, so nothing leaks into other
tests' environment. `servers` hands the three to `tron.runday.emulators` (an emulated day).

tests/conftest.py brings them into every test directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from tron.devtools import emulators as dev
from tron.devtools.emulators import FIRESTORE_JAR, PUBSUB_JAR, EmulatorError, Emulators, Server

if TYPE_CHECKING:
    from google.cloud import firestore, storage

__all__ = [
    "FIRESTORE_JAR",
    "GCS_BUCKET",
    "PROJECT",
    "PUBSUB_JAR",
    "Server",
    "_firestore_session_client",
    "_gcs_session_client",
    "fake_gcs_server",
    "firestore_client",
    "firestore_emulator",
    "gcs_bucket",
    "gcs_client",
    "pubsub_emulator",
    "servers",
]

PROJECT = "tron-test"
GCS_BUCKET = "tron-test-archive"
T = TypeVar("T")


def _or_fail(fn: Callable[..., T], *args: object) -> T:
    try:
        return fn(*args)
    except EmulatorError as e:
        pytest.fail(str(e), pytrace=False)


def _serve(start: Callable[[Path], Server], log_dir: Path) -> Iterator[Server]:
    server = _or_fail(start, log_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(dev.start_firestore, tmp_path_factory.mktemp("firestore-emulator"))


@pytest.fixture(scope="session")
def fake_gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(dev.start_fake_gcs, tmp_path_factory.mktemp("fake-gcs"))


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(dev.start_pubsub, tmp_path_factory.mktemp("pubsub-emulator"))


@pytest.fixture(scope="session")
def _firestore_session_client(firestore_emulator: Server) -> firestore.Client:
    return dev.firestore_client(firestore_emulator, PROJECT)


@pytest.fixture
def firestore_client(
    firestore_emulator: Server, _firestore_session_client: firestore.Client
) -> firestore.Client:
    """A client on a freshly wiped emulator database."""
    _or_fail(dev.wipe_firestore, firestore_emulator, PROJECT)
    return _firestore_session_client


@pytest.fixture(scope="session")
def _gcs_session_client(fake_gcs_server: Server) -> storage.Client:
    return dev.storage_client(fake_gcs_server, PROJECT)


@pytest.fixture
def gcs_client(fake_gcs_server: Server, _gcs_session_client: storage.Client) -> storage.Client:
    """A client on a freshly wiped fake-gcs-server (no buckets)."""
    _or_fail(dev.wipe_gcs, fake_gcs_server)
    return _gcs_session_client


@pytest.fixture
def gcs_bucket(gcs_client: storage.Client) -> str:
    """The name of an empty bucket on a freshly wiped fake-gcs-server."""
    gcs_client.create_bucket(GCS_BUCKET)
    return GCS_BUCKET


@pytest.fixture
def servers(
    tmp_path: Path, firestore_emulator: Server, pubsub_emulator: Server, fake_gcs_server: Server
) -> Emulators:
    """The session's stand-ins (emulated_day wipes Firestore and GCS; the topic name is fresh per test)."""
    return Emulators(tmp_path, firestore_emulator, pubsub_emulator, fake_gcs_server)
