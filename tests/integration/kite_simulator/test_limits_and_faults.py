"""Rate limits (HTTP 429), injected faults and dropped connections, unknown routes, concurrency."""

from __future__ import annotations

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tests.support.kite_client import listed, place
from tests.support.kite_sim import KiteSimHandle, running_kite_sim


class FakeTimer:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_rate_limits_answer_429_network_exception() -> None:
    timer = FakeTimer()
    with running_kite_sim(rate_limits=True, timer=timer) as ks:
        kite, other = ks.client(), ks.client()
        timer.t += 1
        kite.quote("NSE:INFY")
        with pytest.raises(kex.NetworkException, match="Too many requests") as e:
            other.ltp("NSE:INFY")  # quote, ohlc and ltp share 1 request/s, per API key, whatever the token
        assert e.value.code == 429
        timer.t += 1
        kite.ltp("NSE:INFY")
        token = ks.sim.catalog().by_key["NSE:INFY"].instrument_token
        for _ in range(3):
            kite.historical_data(token, "2026-11-23", "2026-11-23", "minute")
        with pytest.raises(kex.NetworkException):
            kite.historical_data(token, "2026-11-23", "2026-11-23", "minute")
        for _ in range(10):
            kite.profile()
        with pytest.raises(kex.NetworkException):
            kite.margins()
        for _ in range(10):
            place(kite, qty=1, settle=False)
        with pytest.raises(kex.NetworkException):
            place(kite, qty=1, settle=False)
        timer.t += 1
        kite.margins()


def test_orders_are_also_capped_at_200_a_minute() -> None:
    timer = FakeTimer()
    with running_kite_sim(rate_limits=True, timer=timer, symbols=5) as ks:
        sim = ks.sim
        token = sim.login()
        symbol = sim.catalog().rows[0].tradingsymbol
        from tron.sim.kite import Request

        def order() -> int:
            form = {
                "exchange": ["NSE"],
                "tradingsymbol": [symbol],
                "transaction_type": ["BUY"],
                "quantity": ["1"],
                "product": ["MIS"],
                "order_type": ["MARKET"],
                "market_protection": ["-1"],
            }
            headers = {"authorization": f"token sim:{token}"}
            return sim.handle(Request("POST", "/orders/regular", {}, form, headers)).status

        for i in range(200):
            if i and i % 10 == 0:
                timer.t += 1
            assert order() == 200
        timer.t += 1
        assert order() == 429  # 200 in the last minute
        timer.t += 41
        assert order() == 200


def _orders(ks: KiteSimHandle) -> tuple[object, object]:
    """(order(): POST a one-share MARKET order straight to the simulator's handler, its HTTP status;
    modify(order_id): a PUT of its quantity, its status)."""
    from tron.sim.kite import Request

    sim = ks.sim
    headers = {"authorization": f"token sim:{sim.login()}"}
    symbol = sim.catalog().rows[0].tradingsymbol
    form = {
        "exchange": ["NSE"], "tradingsymbol": [symbol], "transaction_type": ["BUY"], "quantity": ["1"],
        "product": ["MIS"], "order_type": ["LIMIT"], "price": ["1.00"],
    }  # fmt: skip

    def order() -> int:
        return sim.handle(Request("POST", "/orders/regular", {}, form, headers)).status

    def modify(order_id: str) -> int:
        return sim.handle(
            Request("PUT", f"/orders/regular/{order_id}", {}, {"quantity": ["2"]}, headers)
        ).status

    return order, modify


def test_the_account_places_at_most_3000_orders_a_day_modifications_included() -> None:
    from tron.sim.kite.rate_windows import RateSettings

    timer = FakeTimer()
    rates = RateSettings(orders_per_minute=10_000, orders_per_day=30, block_after=None)
    with running_kite_sim(rate_limits=True, timer=timer, symbols=5, rates=rates) as ks:
        order, modify = _orders(ks)
        for _ in range(20):
            timer.t += 0.2  # 5 a second
            assert order() == 200
        oid = next(iter(ks.sim.orders))
        for _ in range(10):
            timer.t += 0.2
            assert modify(oid) in (200, 400)  # a modification counts (400: one still pending)
        timer.t += 0.2
        assert order() == 429  # the day's 30 are used
        ks.advance(minutes=24 * 60)  # a new trading day: a new count
        order, _ = _orders(ks)
        assert order() in (200, 400)  # (400 if the new day is not a trading day: the count still reset)


def test_repeated_429s_block_the_account_for_a_while() -> None:
    from tron.sim.kite.rate_windows import RateSettings

    timer = FakeTimer()
    rates = RateSettings(block_after=5, block_window_s=60, block_for_s=30)
    with running_kite_sim(rate_limits=True, timer=timer, symbols=5, rates=rates) as ks:
        kite = ks.client()
        kite.quote("NSE:INFY")
        for _ in range(5):
            with pytest.raises(kex.NetworkException, match="Too many requests"):
                kite.quote("NSE:INFY")  # one a second: each is refused
        timer.t += 2  # the quote window is long past
        with pytest.raises(kex.NetworkException, match="blocked"):
            kite.profile()  # every request now, not only quotes
        timer.t += 30
        assert kite.profile()["user_id"] == "SIM001"


def test_no_rate_limits_for_replays(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    for _ in range(5):
        kite.quote("NSE:INFY")


@pytest.mark.parametrize(
    ("error_type", "status", "exc"),
    [
        ("TokenException", 403, kex.TokenException),
        ("PermissionException", 403, kex.PermissionException),
        ("OrderException", 500, kex.OrderException),
        ("InputException", 400, kex.InputException),
        ("DataException", 502, kex.DataException),
        ("NetworkException", 503, kex.NetworkException),
        ("GeneralException", 500, kex.GeneralException),
        ("SomethingNew", 500, kex.GeneralException),
    ],
)
def test_injected_errors_reach_the_client_as_kite_exceptions(
    kite_sim: KiteSimHandle, error_type: str, status: int, exc: type
) -> None:
    kite = kite_sim.client()
    kite_sim.sim.fail_next("/user/profile", error_type, status, message="injected")
    with pytest.raises(exc, match="injected") as e:
        kite.profile()
    assert e.value.code == status
    assert kite.profile()["user_id"] == "SIM001"  # only the next one


def test_an_error_without_error_type_crashes_the_client_as_kite_would(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    kite_sim.sim.fail_next("/orders", None, 500)
    with pytest.raises(TypeError):
        kite.orders()


def test_dropped_connections_before_and_after_the_order_is_placed(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    kite_sim.sim.drop_connection_next("/orders/regular", method="POST")
    with pytest.raises(requests.exceptions.ConnectionError):
        place(kite, qty=1, tag="LOST1")
    assert listed(kite) == []
    kite_sim.sim.drop_connection_next("/orders/regular", method="POST", after=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        place(kite, qty=1, tag="PLACED1")
    assert [o["tag"] for o in listed(kite)] == ["PLACED1"]  # placed: a retry must adopt it by tag
    kite_sim.sim.fail_next("/orders/regular", "NetworkException", 503, method="POST", after=True)
    with pytest.raises(kex.NetworkException):
        place(kite, qty=1, tag="PLACED2")
    assert [o["tag"] for o in listed(kite)] == ["PLACED1", "PLACED2"]


def test_unknown_routes_and_methods(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    auth = {"X-Kite-Version": "3", "Authorization": f"token sim:{kite.access_token}"}
    r = requests.get(kite_sim.url + "/no/such/route", headers=auth, timeout=5)
    assert r.status_code == 404 and "json" in r.headers["content-type"]
    assert r.json() == {
        "status": "error",
        "message": "Route not found",
        "data": None,
        "error_type": "GeneralException",
    }
    r = requests.patch(kite_sim.url + "/orders", headers=auth, timeout=5)
    assert r.status_code == 405 and r.json()["error_type"] == "GeneralException"
    r = requests.post(
        kite_sim.url + "/orders/regular",
        headers={**auth, "Content-Type": "application/json"},
        data=b"{",
        timeout=5,
    )
    assert r.status_code == 400 and r.json()["error_type"] == "InputException"
    import socket

    with socket.create_connection(("127.0.0.1", kite_sim.running.port), timeout=5) as s:
        s.sendall(b"POST /orders/regular HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n")
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 400") and "InputException" in head


def test_a_root_path_prefix_is_dropped_by_the_client(kite_sim: KiteSimHandle) -> None:
    kite = KiteConnect("sim", root=kite_sim.url + "/some/prefix")
    kite.generate_session("rt-prefix", "sim-secret")
    assert kite.profile()["user_id"] == "SIM001"


def test_concurrent_clients_are_served_safely(kite_sim: KiteSimHandle) -> None:
    from concurrent.futures import ThreadPoolExecutor

    kite = kite_sim.client()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: place(kite, "ITC", qty=1, tag=f"C{i}"), range(40)))
    assert len(set(ids)) == 40 and len(kite.orders()) == 40
    assert kite.positions()["net"][0]["quantity"] == 40
