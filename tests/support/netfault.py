"""A TCP proxy on loopback that can hold a request in the network: the client times out and gives up, and
the request reaches the server later anyway (as a request stuck in a retransmission queue does).

    with DelayingProxy(upstream_url) as proxy:          # clients talk to proxy.url
        proxy.hold_next(b"POST /orders/regular", 3.0)    # the next chunk with this prefix waits 3 s
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from urllib.parse import urlsplit


class DelayingProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._hold: tuple[bytes, float] | None = None
        self._lock = threading.Lock()
        self.held = 0
        self.delivered_late = threading.Event()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def hold_next(self, prefix: bytes, seconds: float) -> None:
        with self._lock:
            self._hold = (prefix, seconds)

    def _take_hold(self, chunk: bytes) -> float:
        with self._lock:
            if self._hold is not None and chunk.startswith(self._hold[0]):
                seconds = self._hold[1]
                self._hold = None
                self.held += 1
                return seconds
        return 0.0

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump_up, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(server, client), daemon=True).start()

    def _pump_up(self, client: socket.socket, server: socket.socket) -> None:
        try:
            while chunk := client.recv(65536):
                if delay := self._take_hold(chunk):
                    time.sleep(delay)  # the client times out meanwhile; the request still goes through
                    server.sendall(chunk)
                    self.delivered_late.set()
                    continue
                server.sendall(chunk)
        except OSError:
            pass
        finally:
            _quietly(server.shutdown, socket.SHUT_WR)

    def _pump_down(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while chunk := server.recv(65536):
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            _quietly(client.close)
            _quietly(server.close)

    def close(self) -> None:
        self._closed = True
        _quietly(self._listener.close)

    def __enter__(self) -> DelayingProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _quietly(fn: object, *args: object) -> None:
    try:
        fn(*args)  # type: ignore[operator]
    except OSError:
        pass
