"""Serve functions/main.py over HTTP in this process, as functions-framework serves it on Cloud Run
(:class:`FunctionsHost`), so the functions read the emulator day's virtual clock while everything else is
the real path: HTTP requests, Pub/Sub pushing."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tron.devtools.metering import MeteredStore

FUNCTIONS_MAIN = Path(__file__).resolve().parents[3] / "functions" / "main.py"
HTTP_FUNCTIONS = ("plan_day", "tick_stocks", "tick_futures", "tick_options", "square_off", "end_of_day")
PUSH_FUNCTION = "execute_order"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # one line per request would drown the CLI; the functions log JSON themselves


@dataclass
class PushGate:
    """Holds push deliveries to `execute_order` while closed; counts what each message id got back.

    The emulator day (tron.runday.emulators) closes it while a minute's jobs run and opens it at the next
    minute, so an order decided at 09:31 is executed at 09:32 of virtual time, as the seconds that pass in
    production between a tick and its fill would have it (and as the embedded day does). ``acked`` and
    ``failed`` count the 2xx and other answers per message id; ``acked_at`` is the first 2xx's
    ``time.monotonic()``.
    """

    is_open: bool = True
    acked: dict[str, int] = field(default_factory=dict)
    acked_at: dict[str, float] = field(default_factory=dict)  # first 2xx, time.monotonic()
    failed: dict[str, int] = field(default_factory=dict)
    received: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def open(self) -> None:
        """Let held and later pushes through."""
        with self._cond:
            self.is_open = True
            self._cond.notify_all()

    def close(self) -> None:
        """Hold pushes that arrive from now on until :meth:`open`."""
        with self._cond:
            self.is_open = False

    def wait_open(self) -> None:
        """Block until the gate is open."""
        with self._cond:
            self._cond.wait_for(lambda: self.is_open)

    def record(self, message_id: str, ok: bool) -> None:
        """Count one delivery's answer (``ok``: a 2xx) and wake the waiters."""
        with self._cond:
            self.received += 1
            if ok:
                self.acked_at.setdefault(message_id, time.monotonic())
            book = self.acked if ok else self.failed
            book[message_id] = book.get(message_id, 0) + 1
            self._cond.notify_all()

    def wait_settled(self, settled: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until `settled()` holds (re-checked after every delivery and every half second)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not settled():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True


def _message_id(body: bytes) -> str:
    try:
        return str(json.loads(body)["message"]["messageId"])
    except (ValueError, KeyError, TypeError):
        return "?"


class FunctionsHost:
    """functions/main.py served on one threaded werkzeug server on a free port of 127.0.0.1.

    Every entry point gets its own functions-framework app (all with the `http` signature; the executor
    reads the Pub/Sub push envelope itself, as in production), mounted at `/{function}/`. Each app's
    module-level `_deps` is set to ``deps`` (the emulator day's composition, with its VirtualClock), which
    is what `_get_deps()` would otherwise build from the environment with a real clock.

    In front of the apps, outside functions/main.py: a :class:`PushGate` (``gate``) before `execute_order`;
    invocations serialized (one at a time, like one instance with concurrency 1) unless
    ``serialize=False``; each metered by ``meter`` (store reads and writes per invocation,
    tron.devtools.metering) and timed in ``seconds``. The server starts at construction; :meth:`stop` (or
    leaving the ``with`` block) shuts it down.
    """

    def __init__(
        self,
        deps: Any,
        meter: MeteredStore | None = None,
        source: Path = FUNCTIONS_MAIN,
        serialize: bool = True,
    ) -> None:
        from functions_framework import create_app

        self.deps = deps
        self.meter = meter
        self.gate = PushGate()
        self.seconds: dict[str, list[float]] = {}  # wall time of each invocation, by function
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if serialize else contextlib.nullcontext()
        )
        saved = sys.modules.get("main")
        mounts: dict[str, WSGIApp] = {}
        try:
            for name in (*HTTP_FUNCTIONS, PUSH_FUNCTION):
                app = create_app(target=name, source=str(source), signature_type="http")
                vars(sys.modules["main"])["_deps"] = deps  # each app executes its own copy of main.py
                mounts[f"/{name}"] = self._wrap(name, app)
        finally:
            if saved is not None:
                sys.modules["main"] = saved
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, DispatcherMiddleware(_not_found, mounts), threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(target=self.server.serve_forever, name="functions-host", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.server.server_port)

    def url(self, function: str) -> str:
        """The URL a function is mounted at."""
        return f"http://127.0.0.1:{self.port}/{function}/"

    def _wrap(self, name: str, app: WSGIApp) -> WSGIApp:
        def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            message_id = None
            if name == PUSH_FUNCTION:
                body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                environ["wsgi.input"] = io.BytesIO(body)
                message_id = _message_id(body)
                self.gate.wait_open()
            status: list[str] = []

            def capture(st: str, headers: Any, exc_info: Any = None) -> Any:
                status.append(st)
                return start_response(st, headers, exc_info)

            with self._lock, self._metered(name):
                t0 = time.perf_counter()
                out = list(app(environ, capture))  # run it to completion inside the lock and the meter
                self.seconds.setdefault(name, []).append(time.perf_counter() - t0)
            if message_id is not None:
                self.gate.record(message_id, bool(status) and status[0].startswith("2"))
            return out

        return wsgi

    @contextlib.contextmanager
    def _metered(self, name: str) -> Iterator[None]:
        if self.meter is None:
            yield
        else:
            with self.meter.invocation(name):
                yield

    def call(
        self, function: str, body: dict[str, Any] | None = None, timeout_s: float = 300
    ) -> tuple[int, Any]:
        """POST to an HTTP function as Cloud Scheduler would; returns (status, decoded JSON or text)."""
        req = urllib.request.Request(
            self.url(function),
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def push(self, data: bytes, attributes: dict[str, str] | None = None, message_id: str = "1") -> int:
        """Deliver one message as a Pub/Sub push would, without Pub/Sub (tests of the endpoint itself)."""
        body = {
            "message": {
                "data": base64.b64encode(data).decode(),
                "attributes": attributes or {},
                "messageId": message_id,
                "publishTime": "2026-01-01T00:00:00Z",
            },
            "subscription": "projects/local/subscriptions/direct",
        }
        req = urllib.request.Request(
            self.url(PUSH_FUNCTION),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    def stop(self) -> None:
        """Open the gate (held pushes finish) and shut the server down."""
        self.gate.open()  # let held pushes finish so the server can shut down
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FunctionsHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such function\n"]
