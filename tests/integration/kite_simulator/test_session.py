"""Sessions and the user: login and logout, token errors and expiry, margins."""

from __future__ import annotations

from datetime import datetime

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tests.support.kite_client import wall
from tests.support.kite_sim import KiteSimHandle
from tron.domain.timeutil import IST


def test_login_profile_and_logout(kite_sim: KiteSimHandle) -> None:
    kite = KiteConnect("sim", root=kite_sim.url)
    s = kite.generate_session("any-request-token", "sim-secret")
    assert s["login_time"] == wall(2026, 11, 23, 10, 0)
    assert s["user_id"] == "SIM001" and s["access_token"] and kite.access_token == s["access_token"]
    assert kite.profile()["broker"] == "ZERODHA"
    kite.invalidate_access_token()
    with pytest.raises(kex.TokenException) as e:
        kite.profile()
    assert e.value.code == 403


def test_login_rejects_a_wrong_checksum_a_reused_request_token_and_a_wrong_api_key(
    kite_sim: KiteSimHandle,
) -> None:
    kite = KiteConnect("sim", root=kite_sim.url)
    with pytest.raises(kex.TokenException, match="checksum"):
        kite.generate_session("rt1", "wrong-secret")
    kite.generate_session("rt2", "sim-secret")
    with pytest.raises(kex.TokenException, match="invalid or has expired"):
        KiteConnect("sim", root=kite_sim.url).generate_session("rt2", "sim-secret")
    with pytest.raises(kex.TokenException):
        KiteConnect("other", root=kite_sim.url).generate_session("rt3", "sim-secret")
    with pytest.raises(kex.InputException):  # no request token at all
        KiteConnect("sim", root=kite_sim.url).generate_session("", "sim-secret")


def test_wrong_or_absent_token_is_a_403_token_exception_and_calls_the_expiry_hook(
    kite_sim: KiteSimHandle,
) -> None:
    called = []
    kite = KiteConnect("sim", root=kite_sim.url, access_token="not-a-token")
    kite.set_session_expiry_hook(lambda: called.append(True))
    with pytest.raises(kex.TokenException) as e:
        kite.margins()
    assert e.value.code == 403 and called == [True]
    with pytest.raises(kex.TokenException):
        KiteConnect("sim", root=kite_sim.url).orders()


def test_access_token_expires_at_six_the_next_morning(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    kite_sim.set(datetime(2026, 11, 24, 5, 59, tzinfo=IST))
    assert kite.profile()["user_id"] == "SIM001"
    kite_sim.set(datetime(2026, 11, 24, 6, 0, tzinfo=IST))
    with pytest.raises(kex.TokenException):
        kite.profile()


def test_expire_tokens_hook(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    kite_sim.sim.expire_tokens()
    with pytest.raises(kex.TokenException):
        kite.positions()


def test_margins_whole_and_by_segment(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    m = kite.margins()
    assert m["equity"]["net"] == 1_000_000 and m["equity"]["available"]["opening_balance"] == 1_000_000
    assert kite.margins("equity")["net"] == 1_000_000
    assert kite.margins("commodity")["enabled"] is False
    with pytest.raises(kex.InputException):
        kite.margins("crypto")
