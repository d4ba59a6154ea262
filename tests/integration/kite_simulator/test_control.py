"""The operator's control API (/__sim/...): manual orders, the broker's and RMS's square-offs, token loss,
a hung, dropping or restarting broker, and the account as it truly is; and who gets postbacks."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from kiteconnect import exceptions as kex

from tests.support.kite_client import listed, place, settled
from tests.support.kite_sim import KiteSimHandle, running_kite_sim


def control(ks: KiteSimHandle, what: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
    req = urllib.request.Request(
        f"{ks.url}/__sim/{what}",
        data=None if method == "GET" else json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["data"]


def test_a_manual_order_is_on_the_account_untagged(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    out = control(kite_sim, "orders", {"exchange": "NSE", "tradingsymbol": "ITC", "transaction_type": "BUY",
                                       "quantity": 3, "product": "MIS", "order_type": "MARKET"})  # fmt: skip
    (o,) = listed(kite)
    assert o["order_id"] == out["order_id"] and o["tag"] is None and o["status"] == "COMPLETE"
    assert [(p["tradingsymbol"], p["quantity"]) for p in kite.positions()["net"]] == [("ITC", 3)]
    state = control(kite_sim, "state", method="GET")
    assert [x["source"] for x in state["orders"]] == ["manual"]


def test_the_brokers_square_off_now_closes_mis_and_charges_for_it(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    place(kite, "ITC", qty=5)
    place(kite, "INFY", qty=2, side="SELL")
    out = control(kite_sim, "square-off", {"segment": "equity"})
    assert len(out["orders"]) == 2
    for oid in out["orders"]:
        assert settled(kite, oid)["placed_by"] == "ADMINSQF"
    assert all(p["quantity"] == 0 for p in kite.positions()["net"])
    assert control(kite_sim, "state", method="GET")["charges"] == 118.0  # ₹50 + GST, twice
    with pytest.raises(urllib.error.HTTPError):
        control(kite_sim, "square-off", {"segment": "crypto"})


def test_rms_squares_off_on_an_mtm_loss_beyond_its_share_of_margin(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    place(kite, "ITC", qty=5)
    kept = control(kite_sim, "rms-square-off", {"loss_pct": 50})
    assert kept["squared_off"] is False  # no such loss
    gone = control(kite_sim, "rms-square-off", {"loss_pct": -1000})  # any MTM "exceeds" this threshold
    assert gone["squared_off"] is True and len(gone["orders"]) == 1


def test_token_loss_and_a_new_login(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    control(kite_sim, "invalidate-token")
    with pytest.raises(kex.TokenException):
        kite.profile()
    kite.set_access_token(control(kite_sim, "login")["access_token"])
    assert kite.profile()["user_id"] == "SIM001"


def test_a_paused_broker_hangs_until_resumed(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    control(kite_sim, "pause")
    done: list[float] = []
    t = threading.Thread(target=lambda: (kite.profile(), done.append(time.monotonic())))
    start = time.monotonic()
    t.start()
    time.sleep(0.5)
    assert done == []  # still hanging
    assert control(kite_sim, "clock", method="GET")["now"]  # the control API itself is not paused
    control(kite_sim, "resume")
    t.join(timeout=5)
    assert done and done[0] - start >= 0.5


def test_dropped_connections_for_a_while_then_a_restart_that_keeps_the_account(
    kite_sim: KiteSimHandle,
) -> None:
    kite = kite_sim.client()
    oid = place(kite, "ITC", qty=1)
    control(kite_sim, "drop", {"seconds": 0.5})
    with pytest.raises(requests.exceptions.ConnectionError):
        kite.profile()
    time.sleep(0.6)
    assert kite.profile()["user_id"] == "SIM001"
    control(kite_sim, "restart")
    time.sleep(0.3)
    with pytest.raises(requests.exceptions.ConnectionError):
        kite.profile()  # the broker is down for a moment
    deadline = time.monotonic() + 5
    while True:  # back on the same port within a second or so, the account kept
        try:
            assert [o["order_id"] for o in kite.orders()] == [oid]
            break
        except requests.exceptions.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_scripted_failures_from_outside_until_cleared(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    assert control(kite_sim, "fail", {"path": "/orders", "method": "post", "times": 3})["pending"] == 1
    with pytest.raises(kex.NetworkException):
        place(kite, "ITC", qty=1)
    assert kite.orders() == []  # a GET is not failed, and nothing was placed
    assert control(kite_sim, "clear-faults")["dropped"] == 1
    assert settled(kite, place(kite, "ITC", qty=1))["status"] == "COMPLETE"
    for bad in ({"path": "orders"}, {"path": "/orders", "times": 0}, {}, {"path": "/orders", "status": 200}):
        with pytest.raises(urllib.error.HTTPError):
            control(kite_sim, "fail", bad)


def test_postbacks_are_for_the_apps_own_orders_only() -> None:
    got: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/postback"
        with running_kite_sim(postback_url=url, capital=Decimal("50000000")) as ks:
            kite = ks.client()
            mine = place(kite, "ITC", qty=5)
            control(ks, "orders", {"exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY",
                                   "quantity": 1, "product": "MIS", "order_type": "MARKET"})  # fmt: skip
            squared = control(ks, "square-off", {"segment": "equity"})["orders"]
            for oid in squared:
                settled(kite, oid)
            assert ks.sim.postbacks is not None and ks.sim.postbacks.drain()
    finally:
        server.shutdown()
        server.server_close()
    assert {p["order_id"] for p in got} == {mine}  # not the manual order, not the broker's square-off
