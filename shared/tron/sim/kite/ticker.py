"""Kite's WebSocket ticker on the simulator's own port: what `kiteconnect.KiteTicker` connects to.

The client connects to `ws://host:port/?api_key=…&access_token=…` (a bad token is refused with HTTP 403 at
the handshake); :class:`TickerConnection` then serves it. WebSocket framing is RFC 6455 on the standard
library: masked client frames in, unmasked frames out."""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import socket
import struct
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MODES = ("ltp", "quote", "full")


def accept_key(key: str) -> str:
    """The handshake's Sec-WebSocket-Accept value for the client's Sec-WebSocket-Key (RFC 6455)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(payload: bytes, opcode: int) -> bytes:
    """One final, unmasked server frame carrying ``payload``."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


def _u32(x: float) -> int:
    return max(0, min(round(x), 0xFFFFFFFF))


def _epoch(ts: datetime | None) -> int:
    return int(ts.timestamp()) if ts is not None else 0


def pack_tick(t: dict[str, Any], mode: str) -> bytes:
    """One instrument's packet in Kite's binary layout: big-endian int32 fields, prices × 100.

    Sizes: ltp 8 bytes, index quote 28 / full 32, quote 44, full 184 with five depth levels each side.
    """
    p = [t["instrument_token"], _u32(t["last_price"] * 100)]
    if mode == "ltp":
        return struct.pack(">II", *p)
    if t["index"]:
        body = [
            *p,
            _u32(t["high"] * 100),
            _u32(t["low"] * 100),
            _u32(t["open"] * 100),
            _u32(t["close"] * 100),
        ]
        change = _u32(abs(t["last_price"] - t["close"]) * 100)
        packed = struct.pack(">IIIIIII", *body, change)
        return packed + struct.pack(">I", _epoch(t["timestamp"])) if mode == "full" else packed
    quote = [
        *p,
        t["last_quantity"],
        _u32(t["average_price"] * 100),
        t["volume"],
        t["buy_quantity"],
        t["sell_quantity"],
        _u32(t["open"] * 100),
        _u32(t["high"] * 100),
        _u32(t["low"] * 100),
        _u32(t["close"] * 100),
    ]
    packed = struct.pack(">" + "I" * 11, *quote)
    if mode == "quote":
        return packed
    packed += struct.pack(">IIIII", _epoch(t["last_trade_time"]), 0, 0, 0, _epoch(t["timestamp"]))
    for side in ("buy", "sell"):
        levels = (t["depth"][side] + [{"quantity": 0, "price": 0, "orders": 0}] * 5)[:5]
        for lv in levels:
            packed += struct.pack(
                ">IIHxx", lv["quantity"], _u32(lv["price"] * 100), min(lv["orders"], 0xFFFF)
            )
    return packed


def pack_ticks(packets: list[bytes]) -> bytes:
    """One binary message: a 2-byte packet count, then each packet as a 2-byte length and its bytes."""
    out = struct.pack(">H", len(packets))
    for pk in packets:
        out += struct.pack(">H", len(pk)) + pk
    return out


class TickerConnection:
    """One client's session: its subscriptions and modes, reading commands and writing ticks.

    The client sends JSON text messages `{"a": "subscribe", "v": [tokens]}`, `{"a": "unsubscribe", …}` and
    `{"a": "mode", "v": ["ltp"|"quote"|"full", [tokens]]}`; anything else gets a JSON error. New
    subscriptions get a tick at once (default mode quote); after that ticks go out every ``interval``
    seconds of real time, priced at the simulator's current minute (``ticks``), with a 1-byte heartbeat
    when nothing is subscribed. Order updates are sent as JSON text `{"type": "order", "data": {...}}`. A
    session that is no longer ``authorised`` gets "Session expired" and a close.
    """

    def __init__(
        self,
        sock: socket.socket,
        ticks: Callable[[list[int]], dict[int, dict[str, Any]]],
        authorised: Callable[[], bool],
        order_updates: queue.Queue[dict[str, Any]],
        interval: float,
        stopping: Callable[[], bool],
    ) -> None:
        self.sock = sock
        self.ticks = ticks
        self.authorised = authorised
        self.order_updates = order_updates
        self.interval = interval
        self.stopping = stopping
        self.modes: dict[int, str] = {}
        self._buf = b""

    # ------------------------------------------------------------------ frames
    def _read_exact(self, n: int) -> bytes | None:
        while len(self._buf) < n:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError("client closed")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _read_frame(self) -> tuple[int, bytes] | None:
        """The next frame (opcode, payload), or None when nothing arrived within the socket timeout."""
        head = self._read_exact(2)
        if head is None:
            return None
        self.sock.settimeout(None)  # a frame has started: read the rest of it
        try:
            opcode, n = head[0] & 0x0F, head[1] & 0x7F
            masked = head[1] & 0x80
            if n == 126:
                n = struct.unpack(">H", self._read_exact(2) or b"\0\0")[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read_exact(8) or b"\0" * 8)[0]
            mask = (self._read_exact(4) or b"\0" * 4) if masked else b"\0" * 4
            data = self._read_exact(n) or b""
        finally:
            self.sock.settimeout(0.05)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        return opcode, payload

    def send(self, payload: bytes, opcode: int) -> None:
        """Send one frame."""
        self.sock.sendall(frame(payload, opcode))

    # ------------------------------------------------------------------ protocol
    def _command(self, text: bytes) -> None:
        try:
            msg = json.loads(text)
            action, value = msg["a"], msg["v"]
        except (ValueError, KeyError, TypeError):
            self.send(json.dumps({"type": "error", "data": "Invalid message"}).encode(), 0x1)
            return
        fresh: list[int] = []
        if action == "subscribe":
            for tok in value:
                if int(tok) not in self.modes:
                    self.modes[int(tok)] = "quote"
                    fresh.append(int(tok))
        elif action == "unsubscribe":
            for tok in value:
                self.modes.pop(int(tok), None)
        elif action == "mode" and isinstance(value, list) and len(value) == 2 and value[0] in MODES:
            for tok in value[1]:
                self.modes[int(tok)] = value[0]
                fresh.append(int(tok))
        else:
            self.send(json.dumps({"type": "error", "data": f"Unknown message {action!r}"}).encode(), 0x1)
        if fresh:
            self._send_ticks(fresh)

    def _send_ticks(self, tokens: list[int]) -> None:
        data = self.ticks(tokens)
        packets = [pack_tick(data[t], self.modes.get(t, "quote")) for t in tokens if t in data]
        if packets:
            self.send(pack_ticks(packets), 0x2)

    def run(self) -> None:
        """Serve the client until it closes, the session expires, the server stops or the socket fails."""
        self.sock.settimeout(0.05)
        next_tick = time.monotonic() + self.interval
        try:
            while not self.stopping():
                got = self._read_frame()
                if got is not None:
                    opcode, payload = got
                    if opcode == 0x8:  # close
                        self.send(payload[:2], 0x8)
                        return
                    if opcode == 0x9:  # ping
                        self.send(payload, 0xA)
                    elif opcode in (0x1, 0x2):
                        self._command(payload)
                while not self.order_updates.empty():
                    self.send(json.dumps({"type": "order", "data": self.order_updates.get()}).encode(), 0x1)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.interval
                    if not self.authorised():
                        self.send(json.dumps({"type": "error", "data": "Session expired"}).encode(), 0x1)
                        self.send(struct.pack(">H", 1000), 0x8)
                        return
                    if self.modes:
                        self._send_ticks(sorted(self.modes))
                    else:
                        self.send(b"\x00", 0x2)  # heartbeat
        except (ConnectionError, OSError):
            return
