"""The simulator on a socket: a threaded stdlib HTTP server in a daemon thread, routes at the top level.

The HTTP layer only parses (path, query string, form or JSON body, headers) and writes what
`KiteSim.handle` returns; every Kite rule lives in the simulator."""

from __future__ import annotations

import ipaddress
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tron.sim.kite.control import PREFIX as CONTROL_PREFIX
from tron.sim.kite.protocol import KiteError, Request, error_response
from tron.sim.kite.sim import KiteSim
from tron.sim.kite.ticker import TickerConnection, accept_key


@dataclass
class RunningSim:
    """A simulator being served: its URL and port, `stop()`, and `wait()` until stopped (a restart does not
    stop it: the server and its thread are replaced)."""

    sim: KiteSim
    server: _Server
    thread: threading.Thread
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = self.server.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    def wait(self) -> None:
        self.stopped.wait()

    def stop(self) -> None:
        self.stopped.set()
        self.sim.closing = True  # ticker connections notice within a poll
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def restart(self, down_s: float = 0.5) -> None:
        """Close every connection and listen again on the same port after `down_s`, the account kept (a
        broker that restarts). Returns at once; the restart happens in a thread."""

        def again() -> None:
            port = self.port
            time.sleep(0.1)  # the control request that asked for it gets its answer first
            self.sim.drop_for(3600)  # from now every request is dropped, as the process goes down
            for conn in list(self.server.open_connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)  # keep-alive connections die with the server
                except OSError:
                    pass
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            time.sleep(down_s)
            self.server = _server(self.sim, "127.0.0.1", port)
            self.thread = _start(self.server)
            self.sim.drop_for(0)

        threading.Thread(target=again, name="kite-sim-restart", daemon=True).start()


def _handler(sim: KiteSim) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "KiteSim/1"
        # one write per response and no Nagle delay: keep-alive requests otherwise wait ~40 ms on delayed ACKs
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            assert isinstance(self.server, _Server)
            self.server.open_connections.add(self.connection)

        def finish(self) -> None:
            assert isinstance(self.server, _Server)
            self.server.open_connections.discard(self.connection)
            super().finish()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            if parts.path.startswith(CONTROL_PREFIX):
                self._control(parts.path)
                return
            if self.command == "GET" and (self.headers.get("Upgrade") or "").lower() == "websocket":
                self._ticker(parse_qs(parts.query))
                return
            ctype = (self.headers.get("Content-Type") or "").lower()
            form: dict[str, list[str]] = {}
            body: Any = None
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length < 0:
                    raise ValueError("negative Content-Length")
                raw = self.rfile.read(length) if length else b""
                if raw and "json" in ctype:
                    body = json.loads(raw)
                elif raw:
                    form = parse_qs(raw.decode(), keep_blank_values=True)
                resp = sim.handle(
                    Request(
                        self.command,
                        parts.path,
                        parse_qs(parts.query, keep_blank_values=True),
                        form,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
            except (ValueError, UnicodeDecodeError):
                resp = error_response(KiteError(400, "InputException", "Malformed request body."))
            if resp.drop:
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            try:
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.content_type)
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away

        def _control(self, path: str) -> None:
            """The operator's control API (sim/kite/control.py), for loopback clients only."""
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                resp = error_response(
                    KiteError(403, "PermissionException", "the control API is loopback only")
                )
            else:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length > 0 else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = None
                resp = sim.control.handle(self.command, path, body)
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            self.wfile.write(resp.body)

        def _ticker(self, query: dict[str, list[str]]) -> None:
            """Upgrade to Kite's WebSocket ticker; a bad key or token is refused with HTTP 403."""
            self.close_connection = True
            key = self.headers.get("Sec-WebSocket-Key")
            api_key = (query.get("api_key") or [""])[0]
            token = (query.get("access_token") or [""])[0]
            if not key or not sim.ticker_authorised(api_key, token):
                body = json.dumps(
                    {
                        "status": "error",
                        "message": "Invalid `api_key` or `access_token`.",
                        "error_type": "TokenException",
                    }
                ).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                return
            self.send_response(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept_key(key))
            self.end_headers()
            self.wfile.flush()
            updates: queue.Queue[dict[str, Any]] = queue.Queue()
            with sim.lock:
                sim.ticker_queues.append(updates)
            try:
                TickerConnection(
                    self.connection,
                    sim.ticks,
                    lambda: sim.ticker_authorised(api_key, token),
                    updates,
                    sim.ticker_interval,
                    lambda: sim.closing,
                ).run()
            finally:
                with sim.lock:
                    sim.ticker_queues.remove(updates)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler


class _Server(ThreadingHTTPServer):
    """The HTTP server, keeping its open connections (a restart closes them)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.open_connections: set[socket.socket] = set()


def _server(sim: KiteSim, host: str, port: int) -> _Server:
    return _Server((host, port), _handler(sim))


def _start(server: _Server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="kite-sim", daemon=True)
    thread.start()
    return thread


def serve(sim: KiteSim, host: str = "127.0.0.1", port: int = 0) -> RunningSim:
    """Start serving the simulator; port 0 picks a free one (see `.port` / `.url`)."""
    server = _server(sim, host, port)
    running = RunningSim(sim, server, _start(server))
    sim.control.restart = running.restart
    return running
