"""KiteSession on a fake client: retries with backoff, broker unavailable, rejections, token expiry, the
open breaker, a new token picked up; the API key secret read on first use."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import requests
from kiteconnect import exceptions as kex

from tests.support.fakes.kite import FakeClient, FakeTime, session
from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.kite import CircuitBreaker, KiteSession, TokenExpired, app_api_key
from tron.config.settings import KITE_API, load_settings
from tron.ports import BrokerUnavailable, OrderRejected


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


def hung(ft: FakeTime, timeout: float = 7.0) -> Any:
    """A call that hangs for its whole timeout, then fails as a read timeout."""

    def call(k: Any) -> Any:
        ft.t += timeout
        raise requests.Timeout("read timed out")

    return call


def test_without_a_budget_a_hung_broker_holds_an_operation_through_every_retry() -> None:
    ft = FakeTime()
    s = session(FakeClient(), ft, retries=3, backoff=0.25, monotonic=ft.monotonic)
    with pytest.raises(BrokerUnavailable, match="Timeout"):
        s.call("orders", "place_order", hung(ft))
    assert ft.t - 100.0 == pytest.approx(4 * 7 + 0.25 + 0.5 + 1)  # 29.75 s: longer than a 20 s lease


@pytest.mark.parametrize("budget", [0.5, 5.0, 7.0, 12.0, 20.0])
def test_a_budget_bounds_an_operation_by_itself_plus_one_timeout(budget: float) -> None:
    """Within a budget no attempt, and no wait before a retry, starts that would end past it: however the
    broker hangs, the operation is over by the budget plus one call's timeout (what the executor's placing
    lease is sized from, `KiteSettings.placing_lease_s`)."""
    ft = FakeTime()
    s = session(FakeClient(), ft, retries=10, backoff=0.25, monotonic=ft.monotonic)
    with s.budget(budget), pytest.raises(BrokerUnavailable):
        s.call("orders", "place_order", hung(ft))
    assert ft.t - 100.0 <= budget + 7


def test_a_budget_inside_another_never_extends_it() -> None:
    ft = FakeTime()
    s = session(FakeClient(), ft, retries=10, backoff=0.25, monotonic=ft.monotonic)
    with s.budget(5), pytest.raises(BrokerUnavailable, match="5 s budget is spent"):
        ft.sleep(4)
        with s.budget(60):  # e.g. a look-up by tag inside a placement
            s.call("orders", "place_order", hung(ft))
    assert ft.t - 100.0 <= 5 + 7
    assert s.call("other", "profile", lambda k: k.profile())["user_id"] == "AB1234"  # budget gone after


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


def test_the_api_key_secret_wins_over_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings(data_dir=tmp_path, kite={"api_key": "fromconfig"})
    monkeypatch.delenv("TRON_SECRET_KITE_API_KEY", raising=False)
    assert app_api_key(EnvSecrets(), s.kite.api_key) == "fromconfig"
    monkeypatch.setenv("TRON_SECRET_KITE_API_KEY", "fromsecret")
    assert app_api_key(EnvSecrets(), s.kite.api_key) == "fromsecret"


def test_a_session_reads_the_api_key_secret_on_first_use_not_at_start() -> None:
    secrets = EnvSecrets({})
    made: list[str] = []
    session = KiteSession("fromconfig", secrets, KITE_API, client_factory=lambda key, **kw: made.append(key))
    secrets.put("kite_access_token", "tok")
    secrets.put("kite_api_key", "fromsecret")  # stored after the session was built, before its first call
    session.client()
    assert made == ["fromsecret"]
