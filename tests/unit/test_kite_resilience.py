"""The Kite adapters' client-side protections on a fake clock: token buckets, the circuit breaker, the error
classification, retries with backoff, following an order to its end (partial fills), adopting an order
that reached Kite before a failure, and token expiry. The client here is a small fake of the official
client's methods; tests/integration drives the real client against the Kite simulator."""

from __future__ import annotations

import random
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
import requests
from kiteconnect import exceptions as kex

from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.kite import (
    CircuitBreaker,
    CircuitOpen,
    Kind,
    KiteBroker,
    KiteSession,
    RateLimiter,
    TokenBucket,
    TokenExpired,
    classify,
)
from tron.adapters.kite.market import KiteMarketData, batches
from tron.domain.models import Asset, OrderIntent, Purpose, Side
from tron.domain.order_rules import check_market_protection
from tron.domain.timeutil import ist
from tron.ports import BrokerUnavailable, LoginError, OrderRejected
from tron.services.kite_login import answer, check_request_token, login_url, valid_until

DAY = date(2026, 11, 23)


def naive(*hms: int) -> datetime:
    """A timestamp as the client hands it over: IST wall time without a zone."""
    return ist(DAY, time(*hms)).replace(tzinfo=None)


class FakeTime:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


# ---------------------------------------------------------------------------------------------- buckets
def test_a_bucket_paces_calls_at_its_rate() -> None:
    ft = FakeTime()
    b = TokenBucket(1.0, 1.0, ft.monotonic, ft.sleep)
    waits = [b.take() for _ in range(4)]
    assert waits == [0.0, 1.0, 1.0, 1.0]
    assert ft.t == pytest.approx(103.0)


def test_the_limiter_uses_kites_rates_per_kind_and_the_orders_minute_cap() -> None:
    ft = FakeTime()
    lim = RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep)
    for _ in range(3):
        lim.acquire("historical")  # 3/s: a burst of 3 is free
    assert ft.t == 100.0
    lim.acquire("historical")
    assert ft.t == pytest.approx(100 + 1 / 3)
    start = ft.t
    for _ in range(30):
        lim.acquire("orders")  # 10/s
    assert ft.t - start == pytest.approx(2.0)
    start = ft.t
    for _ in range(2):
        lim.acquire("quote")  # 1/s
    assert ft.t - start == pytest.approx(1.0)
    lim.acquire("margins")  # unknown kinds share "other" (10/s)
    # 200 orders a minute: after the minute's burst the pace is 200/60 per second.
    ft2 = FakeTime()
    lim2 = RateLimiter(monotonic=ft2.monotonic, sleep=ft2.sleep)
    for _ in range(260):
        lim2.acquire("orders")
    assert ft2.t - 100 >= (260 - 200) / (200 / 60) - 1e-6


def test_a_disabled_limiter_never_waits() -> None:
    ft = FakeTime()
    lim = RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep, enabled=False)
    for _ in range(100):
        lim.acquire("quote")
    assert ft.slept == []


def test_bad_bucket_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(0, 1)
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(0, 1)


# ---------------------------------------------------------------------------------------------- breaker
def test_the_breaker_opens_after_consecutive_failures_then_lets_one_trial_through() -> None:
    ft = FakeTime()
    br = CircuitBreaker(threshold=3, cooloff=10, monotonic=ft.monotonic)
    for _ in range(2):
        br.before_call()
        br.failure()
    br.before_call()
    br.success()  # a success resets the count
    for _ in range(3):
        br.before_call()
        br.failure()
    assert br.state == "open" and br.opened == 1
    with pytest.raises(CircuitOpen, match=r"retry in 10\.0 s"):
        br.before_call()
    ft.sleep(10)
    assert br.state == "half-open"
    br.before_call()  # the trial
    with pytest.raises(CircuitOpen, match="trial"):
        br.before_call()
    br.failure()  # the trial failed: open again for a full cool-off
    assert br.state == "open" and br.opened == 2
    ft.sleep(10)
    br.before_call()
    br.success()
    assert br.state == "closed"
    br.before_call()


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (kex.NetworkException("Too many requests", code=429), Kind.RATE_LIMITED),
        (kex.InputException("rate", code=429), Kind.RATE_LIMITED),
        (kex.NetworkException("OMS down", code=503), Kind.TRANSIENT),
        (kex.DataException("bad gateway", code=502), Kind.TRANSIENT),
        (kex.GeneralException("boom", code=500), Kind.TRANSIENT),
        (kex.GeneralException("teapot", code=418), Kind.REJECTED),
        (kex.InputException("bad tag", code=400), Kind.REJECTED),
        (kex.OrderException("margin", code=400), Kind.REJECTED),
        (kex.PermissionException("nope", code=403), Kind.REJECTED),
        (kex.TokenException("expired", code=403), Kind.TOKEN),
        (requests.ConnectionError("refused"), Kind.TRANSIENT),
        (requests.Timeout("slow"), Kind.TRANSIENT),
        (KeyError("content-type"), None),
    ],
)
def test_every_failure_is_classified(exc: BaseException, kind: Kind | None) -> None:
    assert classify(exc) is kind


# ---------------------------------------------------------------------------------------------- session
class FakeClient:
    """The slice of kiteconnect.KiteConnect the adapters call, scripted per method."""

    def __init__(self, script: dict[str, list[Any]] | None = None) -> None:
        self.script = script or {}
        self.calls: list[tuple[str, Any]] = []
        self.token: str | None = None
        self.orders_book: list[dict[str, Any]] = []
        self.histories: dict[str, list[list[dict[str, Any]]]] = {}

    def _next(self, name: str, default: Any) -> Any:
        seq = self.script.get(name)
        out = seq.pop(0) if seq else default
        if isinstance(out, BaseException):
            raise out
        return out

    def set_access_token(self, t: str) -> None:
        self.token = t

    def profile(self) -> dict[str, Any]:
        self.calls.append(("profile", None))
        return self._next("profile", {"user_id": "AB1234"})

    def place_order(self, **kw: Any) -> str:
        self.calls.append(("place_order", kw))
        return self._next("place_order", "O1")

    def orders(self) -> list[dict[str, Any]]:
        self.calls.append(("orders", None))
        return self._next("orders", self.orders_book)

    def order_history(self, order_id: str) -> list[dict[str, Any]]:
        self.calls.append(("order_history", order_id))
        seq = self.histories.get(order_id, [])
        return seq.pop(0) if len(seq) > 1 else seq[0]

    def cancel_order(self, variety: str, order_id: str) -> str:
        self.calls.append(("cancel_order", order_id))
        return self._next("cancel_order", order_id)

    def instruments(self, exchange: str) -> list[dict[str, Any]]:
        self.calls.append(("instruments", exchange))
        row = {"instrument_token": 1, "lot_size": 1, "tick_size": 0.05, "expiry": "", "strike": 0.0}
        if exchange == "NSE":
            return [
                {
                    **row,
                    "tradingsymbol": "AXISBANK",
                    "exchange": "NSE",
                    "instrument_type": "EQ",
                    "segment": "NSE",
                }
            ]
        return [{**row, "tradingsymbol": "NIFTY26DECFUT", "exchange": "NFO", "instrument_type": "FUT", "name": "NIFTY",
                 "segment": "NFO-FUT", "lot_size": 65, "expiry": DAY}]  # fmt: skip

    def quote(self, keys: list[str]) -> dict[str, Any]:
        self.calls.append(("quote", list(keys)))
        return {k: QUOTE for k in keys}


QUOTE = {
    "timestamp": naive(10, 0, 0),
    "last_price": 1500.5,
    "volume": 12345,
    "ohlc": {"open": 1490.0, "high": 1510.0, "low": 1485.0, "close": 1488.0},
    "depth": {
        "buy": [{"price": 1500.45, "quantity": 10, "orders": 1}, {"price": 0, "quantity": 0, "orders": 0}],
        "sell": [{"price": 1500.6, "quantity": 10, "orders": 1}],
    },
}


def session(client: FakeClient, ft: FakeTime, token: str | None = "tok", **kw: Any) -> KiteSession:
    secrets = EnvSecrets({})
    if token:
        secrets.put("kite_access_token", token)
    return KiteSession(
        "sim",
        secrets,
        "http://127.0.0.1:1",
        limiter=RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep, enabled=False),
        breaker=kw.pop("breaker", None) or CircuitBreaker(5, 30, ft.monotonic),
        sleep=ft.sleep,
        client_factory=lambda *a, **k: client,
        **kw,
    )


def test_429_is_retried_with_backoff_of_at_least_kites_window_with_jitter() -> None:
    """Kite counts per second and per api key, which the three tick functions share: a 429 waits out the
    window, and a jitter keeps callers refused together from coming back together."""
    waits = []
    for seed in (1, 2):
        ft = FakeTime()
        c = FakeClient({"profile": [kex.NetworkException("Too many requests", code=429)] * 3})
        s = session(c, ft, backoff=0.5, rng=random.Random(seed))
        assert s.call("other", "profile", lambda k: k.profile())["user_id"] == "AB1234"
        assert s.retried == 3 and len(ft.slept) == 3
        assert all(1.0 <= w <= 1.5 for w in ft.slept[:2]) and 2.0 <= ft.slept[2] <= 2.5
        waits.append(ft.slept)
    assert waits[0] != waits[1]


def test_network_errors_are_retried_then_broker_unavailable() -> None:
    ft = FakeTime()
    c = FakeClient({"profile": [requests.ConnectionError("refused")] * 10})
    s = session(c, ft, retries=3, backoff=0.1)
    with pytest.raises(BrokerUnavailable, match="ConnectionError"):
        s.call("other", "profile", lambda k: k.profile())
    assert len([x for x in c.calls if x[0] == "profile"]) == 4
    assert ft.slept == pytest.approx([0.1, 0.2, 0.4])


def test_input_errors_are_rejections_and_not_retried() -> None:
    ft = FakeTime()
    c = FakeClient({"place_order": [kex.InputException("Invalid `tag`", code=400)]})
    s = session(c, ft)
    with pytest.raises(OrderRejected, match=r"InputException \(HTTP 400\): Invalid `tag`"):
        s.call("orders", "place_order", lambda k: k.place_order(tag="x"))
    assert ft.slept == []


def test_a_token_error_or_no_token_is_token_expired() -> None:
    ft = FakeTime()
    c = FakeClient({"profile": [kex.TokenException("Incorrect `api_key` or `access_token`.", code=403)]})
    with pytest.raises(TokenExpired, match=r"TokenException.*daily login"):
        session(c, ft).call("other", "profile", lambda k: k.profile())
    with pytest.raises(TokenExpired, match="no Kite access token"):
        session(FakeClient(), ft, token=None).call("other", "profile", lambda k: k.profile())


def test_an_open_breaker_stops_calling_the_broker() -> None:
    ft = FakeTime()
    c = FakeClient({"profile": [requests.ConnectionError("down")] * 100})
    s = session(c, ft, retries=0, breaker=CircuitBreaker(2, 30, ft.monotonic))
    for _ in range(2):
        with pytest.raises(BrokerUnavailable):
            s.call("other", "profile", lambda k: k.profile())
    n = len(c.calls)
    with pytest.raises(BrokerUnavailable, match="circuit open"):
        s.call("other", "profile", lambda k: k.profile())
    assert len(c.calls) == n  # not called
    ft.sleep(30)
    c.script["profile"] = []
    assert s.call("other", "profile", lambda k: k.profile())["user_id"] == "AB1234"  # the half-open trial
    assert s.breaker.state == "closed"


def test_a_new_token_is_picked_up_without_a_restart() -> None:
    ft = FakeTime()
    c = FakeClient()
    s = session(c, ft)
    s.call("other", "profile", lambda k: k.profile())
    s.secrets.put("kite_access_token", "fresh")
    s.call("other", "profile", lambda k: k.profile())
    assert c.token == "fresh"


# ---------------------------------------------------------------------------------------------- broker
def intent(purpose: Purpose = Purpose.ENTRY, qty: int = 10) -> OrderIntent:
    return OrderIntent(
        intent_id=f"20261123-stocks-orb-INFY-{purpose}-1000",
        day=DAY,
        asset=Asset.STOCKS,
        symbol="INFY",
        exchange="NSE",
        side=Side.BUY,
        qty=qty,
        purpose=purpose,
        strategy="orb",
        reason="test",
        decided_at=ist(DAY, time(10, 0)),
    )


def hist(status: str, filled: int, qty: int = 10, price: float = 1500.55, oid: str = "O1") -> dict[str, Any]:
    return {
        "order_id": oid,
        "status": status,
        "quantity": qty,
        "filled_quantity": filled,
        "average_price": price if filled else 0,
        "order_timestamp": naive(10, 1),
        "exchange_timestamp": naive(10, 1, 2),
        "status_message": "",
        "tag": intent().tag,
    }


def broker(c: FakeClient, ft: FakeTime, **kw: Any) -> KiteBroker:
    return KiteBroker(session(c, ft), Clock(ist(DAY, time(10, 1))), sleep=ft.sleep, **kw)


def test_place_sends_a_protected_market_order_with_the_tag_and_follows_it() -> None:
    ft = FakeTime()
    c = FakeClient()
    c.histories["O1"] = [[hist("OPEN", 0)], [hist("COMPLETE", 10)]]
    o = broker(c, ft).place(intent())
    kw = c.calls[0][1]
    assert kw["market_protection"] == -1 and kw["order_type"] == "MARKET" and kw["product"] == "MIS"
    assert kw["tag"] == intent().tag and len(kw["tag"]) <= 20 and kw["variety"] == "regular"
    assert (o.status, o.filled_qty, o.avg_price) == ("COMPLETE", 10, Decimal("1500.55"))
    assert o.ts == ist(DAY, time(10, 1, 2))


def test_market_protection_zero_is_never_configurable() -> None:
    for bad in (0, -2, 101):
        with pytest.raises(ValueError, match="market_protection"):
            check_market_protection(bad)
    assert check_market_protection(5) == 5


def test_a_partial_fill_is_followed_then_the_rest_cancelled() -> None:
    ft = FakeTime()
    c = FakeClient()
    c.histories["O1"] = [[hist("OPEN", 4)]] * 3 + [[hist("CANCELLED", 4)]]
    o = broker(c, ft, follow_polls=3, poll_interval=0.5).place(intent())
    assert ("cancel_order", "O1") in c.calls
    assert (o.status, o.filled_qty) == ("CANCELLED", 4)
    assert ft.slept == [0.5, 0.5]


def test_an_order_cancelled_with_nothing_filled_is_a_rejection() -> None:
    ft = FakeTime()
    c = FakeClient()
    c.histories["O1"] = [[hist("OPEN", 0)], [hist("CANCELLED", 0)]]
    o = broker(c, ft, follow_polls=1).place(intent())
    assert o.status == "REJECTED" and o.filled_qty == 0 and "nothing filled" in o.message


def test_a_place_that_reached_kite_before_a_network_error_is_adopted_not_sent_again() -> None:
    ft = FakeTime()
    c = FakeClient({"place_order": [kex.NetworkException("gateway timeout", code=504)]})
    c.orders_book = [{**hist("COMPLETE", 10, oid="O9"), "tag": intent().tag}]
    c.histories["O9"] = [[hist("COMPLETE", 10, oid="O9")]]
    o = broker(c, ft).place(intent())
    assert o.order_id == "O9"
    assert [x[0] for x in c.calls].count("place_order") == 1


def test_a_429_on_place_is_sent_again_without_a_lookup() -> None:
    ft = FakeTime()
    c = FakeClient({"place_order": [kex.NetworkException("Too many requests", code=429), "O1"]})
    c.histories["O1"] = [[hist("COMPLETE", 10)]]
    assert broker(c, ft).place(intent()).status == "COMPLETE"
    names = [x[0] for x in c.calls]
    assert names.count("place_order") == 2 and "orders" not in names


def test_an_expired_token_refuses_entries_halts_the_day_and_keeps_exits_retrying() -> None:
    ft = FakeTime()
    expired = kex.TokenException("Token is invalid or has expired.", code=403)
    halts: list[str] = []
    c = FakeClient({"place_order": [expired, expired]})
    b = broker(c, ft, on_token_expired=halts.append)
    with pytest.raises(OrderRejected, match="session expired"):
        b.place(intent(Purpose.ENTRY))
    with pytest.raises(BrokerUnavailable):  # TokenExpired: the exit is delivered again
        b.place(intent(Purpose.EXIT))
    assert len(halts) == 2 and "TokenException" in halts[0]


def test_find_by_tag_adopts_only_todays_order_with_that_tag() -> None:
    ft = FakeTime()
    c = FakeClient()
    c.orders_book = [{**hist("COMPLETE", 10, oid="O2"), "tag": "other"}, hist("COMPLETE", 10, oid="O3")]
    c.histories["O3"] = [[hist("COMPLETE", 10, oid="O3")]]
    b = broker(c, ft)
    assert b.find_by_tag(DAY, intent().tag).order_id == "O3"
    assert b.find_by_tag(DAY, "Tnope") is None
    assert b.find_by_tag(date(2026, 11, 20), intent().tag) is None


def test_preflight_says_why_the_session_is_unusable() -> None:
    ft = FakeTime()
    assert broker(FakeClient(), ft).preflight() is None
    c = FakeClient({"profile": [kex.TokenException("Token is invalid or has expired.", code=403)]})
    assert "TokenException" in broker(c, ft).preflight()
    nob = KiteBroker(session(FakeClient(), ft, token=None), Clock(ist(DAY, time(9))))
    assert "TokenException: no Kite access token" in nob.preflight()


# ---------------------------------------------------------------------------------------------- market data
def test_quotes_are_batched_at_500_and_parsed_in_ist() -> None:
    assert [len(b) for b in batches([str(i) for i in range(1201)], 500)] == [500, 500, 201]
    ft = FakeTime()
    c = FakeClient()
    md = KiteMarketData(session(c, ft), Clock(ist(DAY, time(10))))
    md._exchange = {f"S{i}": "NSE" for i in range(1001)}
    snap = md.snapshot([f"S{i}" for i in range(1001)])
    assert [len(x[1]) for x in c.calls if x[0] == "quote"] == [500, 500, 1]
    q = snap.quotes["S7"]
    assert q.ts == ist(DAY, time(10, 0)) and snap.ts == q.ts
    assert (q.bid, q.ask, q.volume, q.prev_close, q.high) == (1500.45, 1500.6, 12345, 1488.0, 1510.0)
    with pytest.raises(ValueError, match="500"):
        KiteMarketData(session(c, ft), Clock(ist(DAY, time(10))), quote_batch=501)


def test_a_fresh_process_learns_each_symbols_exchange_from_the_dumps_once() -> None:
    ft = FakeTime()
    c = FakeClient()
    md = KiteMarketData(session(c, ft), Clock(ist(DAY, time(10))))
    snap = md.snapshot(["NIFTY26DECFUT"])  # a tick_futures process: no dump read yet
    assert [x for x in c.calls if x[0] != "quote"] == [("instruments", "NSE"), ("instruments", "NFO")]
    assert [x[1] for x in c.calls if x[0] == "quote"] == [
        ["NFO:NIFTY26DECFUT"]
    ] and "NIFTY26DECFUT" in snap.quotes
    md.snapshot(["NIFTY26DECFUT", "AXISBANK", "NIFTY 50"])
    assert [x[1] for x in c.calls if x[0] == "quote"][-1] == [
        "NFO:NIFTY26DECFUT",
        "NSE:AXISBANK",
        "NSE:NIFTY 50",
    ]
    assert sum(1 for x in c.calls if x[0] == "instruments") == 2


# ---------------------------------------------------------------------------------------------- login
class Exchange:
    def __init__(self, result: Any) -> None:
        self.result = result

    def exchange(self, request_token: str) -> dict[str, Any]:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def test_the_login_stores_a_new_token_and_never_returns_it() -> None:
    secrets = EnvSecrets({})
    clock = Clock(ist(DAY, time(8, 30)))
    status, body = answer(
        secrets, Exchange({"access_token": "SECRET123", "user_id": "AB1234"}), "req42", clock
    )
    assert status == 200 and secrets.get("kite_access_token") == "SECRET123"
    assert "SECRET123" not in str(body) and body["valid_until"] == "2026-11-24T06:00:00+05:30"
    assert valid_until(ist(DAY, time(5))).day == 23


@pytest.mark.parametrize("bad", [None, "", "  ", "has space", "x" * 129, 42, "tok;drop"])
def test_a_missing_or_malformed_request_token_is_a_clear_400(bad: Any) -> None:
    secrets = EnvSecrets({})
    status, body = answer(secrets, Exchange({"access_token": "T"}), bad, Clock(ist(DAY, time(8))))
    assert status == 400 and "request_token" in body["error"]
    assert secrets.get("kite_access_token") is None
    with pytest.raises(LoginError):
        check_request_token(bad)


def test_a_refused_or_unreachable_login_stores_nothing() -> None:
    secrets = EnvSecrets({})
    clock = Clock(ist(DAY, time(8)))
    assert answer(secrets, Exchange(LoginError("Kite refused the request token")), "abc", clock)[0] == 400
    assert answer(secrets, Exchange(BrokerUnavailable("down")), "abc", clock)[0] == 503
    assert secrets.get("kite_access_token") is None


def test_the_login_url_is_kites() -> None:
    assert login_url("sim") == "https://kite.zerodha.com/connect/login?v=3&api_key=sim"
    with pytest.raises(ValueError):
        login_url("a&b=c")
