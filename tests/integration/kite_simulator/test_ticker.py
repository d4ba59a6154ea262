"""The WebSocket ticker: the real KiteTicker, a refused token, the protocol frame by frame."""

from __future__ import annotations

import subprocess
import sys

from tests.support.kite_client import place
from tests.support.kite_sim import KiteSimHandle, running_kite_sim

# The real KiteTicker (Twisted + Autobahn) runs in a child process: Twisted's reactor cannot be restarted in
# the test process. It prints what arrived as one JSON line.
TICKER_CLIENT = r"""
import json, os, sys, threading
from kiteconnect import KiteTicker
url, api_key, token, tokens, want_orders = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
tokens = [int(t) for t in tokens.split(",")]
kws = KiteTicker(api_key, token, root=url.replace("http://", "ws://"), reconnect=False)
out, done = [], threading.Event()
def check():
    if sum(o["kind"] == "tick" for o in out) >= 6 and sum(o["kind"] == "order" for o in out) >= want_orders:
        done.set()
def on_ticks(ws, ticks):
    for t in ticks:
        out.append({"kind": "tick", "mode": t["mode"], "token": t["instrument_token"], "last_price": t["last_price"],
                    "tradable": t["tradable"], "depth": t.get("depth"), "volume": t.get("volume_traded"),
                    "ohlc": t.get("ohlc")})
    check()
def on_connect(ws, response):
    ws.subscribe(tokens)
    ws.set_mode(ws.MODE_FULL, tokens[:1])
def on_order_update(ws, data):
    out.append({"kind": "order", "status": data["status"], "order_id": data["order_id"]})
    check()
def on_error(ws, code, reason):
    out.append({"kind": "error", "code": code, "reason": str(reason)})
    done.set()
kws.on_ticks, kws.on_connect, kws.on_order_update, kws.on_error = on_ticks, on_connect, on_order_update, on_error
kws.connect(threaded=True)
done.wait(20)
print(json.dumps(out), flush=True)
os._exit(0)
"""


def _ticker(url: str, token: str, tokens: list[int], want_orders: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            TICKER_CLIENT,
            url,
            "sim",
            token,
            ",".join(map(str, tokens)),
            str(want_orders),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_real_kite_ticker_gets_ticks_and_order_updates() -> None:
    import json
    import time

    with running_kite_sim(ticker_interval=0.2) as ks:
        kite = ks.client()
        infy, index = (ks.sim.catalog().by_key[k].instrument_token for k in ("NSE:INFY", "NSE:NIFTY 50"))
        proc = _ticker(ks.url, kite.access_token, [infy, index], want_orders=1)
        for _ in range(200):
            if ks.sim.ticker_queues:
                break
            time.sleep(0.05)
        oid = place(kite, qty=1)
        out, err = proc.communicate(timeout=60)
        got = json.loads(out)
        quote = kite.quote("NSE:INFY")["NSE:INFY"]
    ticks = [g for g in got if g["kind"] == "tick"]
    full = [t for t in ticks if t["token"] == infy and t["mode"] == "full"]
    assert full, err
    assert full[-1]["last_price"] == quote["last_price"] and full[-1]["volume"] == quote["volume"]
    assert [lv["price"] for lv in full[-1]["depth"]["sell"]] == [lv["price"] for lv in quote["depth"]["sell"]]
    assert full[-1]["ohlc"] == {k: quote["ohlc"][k] for k in ("open", "high", "low", "close")}
    idx = [t for t in ticks if t["token"] == index]
    assert idx and idx[-1]["tradable"] is False and idx[-1]["mode"] == "quote"
    assert {"kind": "order", "status": "COMPLETE", "order_id": oid} in got


def test_the_ticker_refuses_a_bad_token(kite_sim: KiteSimHandle) -> None:
    import json

    proc = _ticker(kite_sim.url, "not-a-token", [256265])
    out, _ = proc.communicate(timeout=60)
    got = json.loads(out)
    assert got[0]["kind"] == "error" and "403" in got[0]["reason"]


def test_ticker_protocol_frames_modes_heartbeats_and_expiry() -> None:
    """The ticker session over a socket pair: what the server sends for each client message."""
    import json
    import queue
    import socket
    import struct
    import threading

    from tron.sim.kite.ticker import TickerConnection

    tick = {
        "instrument_token": 1057075713,
        "index": False,
        "last_price": 2151.95,
        "open": 2140.0,
        "high": 2160.5,
        "low": 2135.25,
        "close": 2145.0,
        "last_quantity": 7,
        "average_price": 2150.1,
        "volume": 258383,
        "buy_quantity": 4000,
        "sell_quantity": 3900,
        "timestamp": None,
        "last_trade_time": None,
        "depth": {
            "buy": [{"price": 2151.9, "quantity": 100, "orders": 3}] * 5,
            "sell": [{"price": 2152.0, "quantity": 90, "orders": 2}] * 5,
        },
    }
    server, client = socket.socketpair()
    client.settimeout(5)
    updates: queue.Queue = queue.Queue()
    authorised, stopping = [True], [False]
    conn = TickerConnection(
        server,
        lambda toks: {t: tick for t in toks},
        lambda: authorised[0],
        updates,
        0.05,
        lambda: stopping[0],
    )
    threading.Thread(target=conn.run, daemon=True).start()

    def send(payload: bytes, opcode: int = 0x1) -> None:
        mask = b"\x01\x02\x03\x04"
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        client.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def recv() -> tuple[int, bytes]:
        def exact(n: int) -> bytes:
            buf = b""
            while len(buf) < n:
                buf += client.recv(n - len(buf))
            return buf

        head = exact(2)
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", exact(2))[0]
        return head[0] & 0x0F, exact(n)

    def next_data() -> tuple[int, bytes]:
        while True:
            op, payload = recv()
            if payload != b"\x00":
                return op, payload

    try:
        assert recv() == (0x2, b"\x00")  # nothing subscribed: heartbeats
        send(json.dumps({"a": "subscribe", "v": [1057075713]}).encode())
        op, payload = next_data()
        assert op == 0x2 and struct.unpack(">HH", payload[:4]) == (1, 44)  # one quote-mode packet
        assert struct.unpack(">II", payload[4:12]) == (1057075713, 215195)  # price in paise

        def packet_length_soon(
            expected: int,
        ) -> bool:  # periodic ticks sent just before may still be in flight
            return any(struct.unpack(">HH", next_data()[1][:4]) == (1, expected) for _ in range(10))

        send(json.dumps({"a": "mode", "v": ["full", [1057075713]]}).encode())
        assert packet_length_soon(184)
        send(json.dumps({"a": "mode", "v": ["ltp", [1057075713]]}).encode())
        assert packet_length_soon(8)
        updates.put({"order_id": "1", "status": "COMPLETE"})
        while True:
            op, payload = next_data()
            if op == 0x1:
                assert json.loads(payload) == {
                    "type": "order",
                    "data": {"order_id": "1", "status": "COMPLETE"},
                }
                break
        send(b"not json")
        while (msg := next_data())[0] != 0x1:
            pass
        assert json.loads(msg[1])["type"] == "error"
        send(json.dumps({"a": "unsubscribe", "v": [1057075713]}).encode())
        send(b"hi", 0x9)  # ping
        while (msg := recv())[0] != 0xA:
            pass
        assert msg[1] == b"hi"
        authorised[0] = False  # the token expired: an error message, then a close frame
        while (msg := recv())[0] != 0x8:
            last_text = msg
        assert json.loads(last_text[1]) == {"type": "error", "data": "Session expired"}
    finally:
        stopping[0] = True
        client.close()
