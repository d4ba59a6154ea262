"""The Kite simulator driven by the real `kiteconnect` client over loopback HTTP: every route, every error
type it produces, rate limits, token expiry, the order lifecycle and the matching engine's partial fills."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tests.integration.kite_sim import KiteSimHandle
from tron.domain.timeutil import IST


def wall(*args: int) -> datetime:
    """An IST wall-clock time as the client parses Kite's zone-less timestamps (naive)."""
    return datetime(*args, tzinfo=IST).replace(tzinfo=None)  # type: ignore[misc]


def place(kite: KiteConnect, symbol: str = "INFY", qty: int = 10, side: str = "BUY", **kw: object) -> str:
    args: dict[str, object] = {
        "variety": "regular",
        "exchange": "NSE",
        "tradingsymbol": symbol,
        "transaction_type": side,
        "quantity": qty,
        "product": "MIS",
        "order_type": "MARKET",
        "market_protection": -1,
    }
    args.update(kw)
    return kite.place_order(**args)  # type: ignore[arg-type]


def last(kite: KiteConnect, order_id: str) -> dict:
    return kite.order_history(order_id)[-1]


# ---------------------------------------------------------------------------------------------- session
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


# ---------------------------------------------------------------------------------------------- user
def test_margins_whole_and_by_segment(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    m = kite.margins()
    assert m["equity"]["net"] == 1_000_000 and m["equity"]["available"]["opening_balance"] == 1_000_000
    assert kite.margins("equity")["net"] == 1_000_000
    assert kite.margins("commodity")["enabled"] is False
    with pytest.raises(kex.InputException):
        kite.margins("crypto")


# ---------------------------------------------------------------------------------------------- instruments
def test_instruments_csv_has_equities_the_index_and_nifty_derivatives(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    rows = kite.instruments()
    by = {(r["exchange"], r["tradingsymbol"]): r for r in rows}
    infy = by[("NSE", "INFY")]
    assert infy["instrument_type"] == "EQ" and infy["lot_size"] == 1 and infy["tick_size"] == 0.05
    index = by[("NSE", "NIFTY 50")]
    assert index["segment"] == "INDICES" and index["instrument_token"] == 256265
    futs = [r for r in rows if r["segment"] == "NFO-FUT"]
    opts = [r for r in rows if r["segment"] == "NFO-OPT"]
    assert futs and opts
    for r in futs + opts:
        assert r["name"] == "NIFTY" and r["lot_size"] == 65 and r["tick_size"] == 0.05
        assert isinstance(r["expiry"], date) and r["expiry"] >= date(2026, 11, 23)
        assert r["expiry"].weekday() in (0, 1)  # Tuesday, or Monday when Tuesday is a holiday
    assert {r["instrument_type"] for r in opts} == {"CE", "PE"}
    assert all(r["strike"] > 0 and r["strike"] % 50 == 0 for r in opts)
    nfo = kite.instruments("NFO")
    assert {r["exchange"] for r in nfo} == {"NFO"} and len(nfo) == len(futs) + len(opts)
    with pytest.raises(kex.InputException):
        kite.instruments("XYZ")


def test_instruments_are_served_as_csv(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    r = requests.get(
        kite_sim.url + "/instruments/NSE",
        headers={"X-Kite-Version": "3", "Authorization": f"token sim:{kite.access_token}"},
        timeout=5,
    )
    assert "csv" in r.headers["content-type"]
    assert r.text.splitlines()[0] == (
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,"
        "instrument_type,segment,exchange"
    )


# ---------------------------------------------------------------------------------------------- quotes
def test_quote_has_depth_ohlc_vwap_circuits_and_timestamps(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    q = kite.quote(["NSE:INFY", "NSE:NIFTY 50", "NSE:NOPE"])
    assert set(q) == {"NSE:INFY", "NSE:NIFTY 50"}  # unknown instruments are left out, as on Kite
    infy = q["NSE:INFY"]
    assert infy["timestamp"] == wall(2026, 11, 23, 10, 0)
    assert isinstance(infy["last_trade_time"], datetime)
    buy, sell = infy["depth"]["buy"], infy["depth"]["sell"]
    assert len(buy) == len(sell) == 5
    assert buy[0]["price"] < sell[0]["price"]
    assert [x["price"] for x in buy] == sorted((x["price"] for x in buy), reverse=True)
    assert all(x["quantity"] > 0 and x["orders"] > 0 for x in buy + sell)
    assert infy["ohlc"]["low"] <= infy["average_price"] <= infy["ohlc"]["high"]
    assert infy["lower_circuit_limit"] < infy["last_price"] < infy["upper_circuit_limit"]
    assert infy["volume"] > 0
    assert infy["net_change"] == pytest.approx(infy["last_price"] - infy["ohlc"]["close"], abs=0.01)
    assert "depth" not in q["NSE:NIFTY 50"] and q["NSE:NIFTY 50"]["last_price"] > 10000


def test_quote_by_instrument_token_and_derivatives(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    fut = next(r for r in kite.instruments("NFO") if r["instrument_type"] == "FUT")
    token = str(fut["instrument_token"])
    q = kite.quote([token, f"NFO:{fut['tradingsymbol']}"])
    assert q[token]["last_price"] == q[f"NFO:{fut['tradingsymbol']}"]["last_price"]
    assert q[token]["depth"]["buy"][0]["quantity"] % 65 == 0


def test_ltp_and_ohlc_agree_with_quote(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    q = kite.quote("NSE:TCS")["NSE:TCS"]
    assert kite.ltp("NSE:TCS")["NSE:TCS"]["last_price"] == q["last_price"]
    assert kite.ohlc("NSE:TCS")["NSE:TCS"]["ohlc"] == q["ohlc"]


def test_quote_instrument_count_limits(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    many = ["NSE:INFY"] * 501
    with pytest.raises(kex.InputException, match="500"):
        kite.quote(many)
    assert kite.ltp(["NSE:INFY"] * 1000)
    with pytest.raises(kex.InputException, match="1000"):
        kite.ltp(["NSE:INFY"] * 1001)
    with pytest.raises(kex.InputException, match="1000"):
        kite.ohlc(["NSE:INFY"] * 1001)


def test_quotes_move_with_the_clock(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    a = kite.quote("NSE:RELIANCE")["NSE:RELIANCE"]
    kite_sim.advance(minutes=30)
    b = kite.quote("NSE:RELIANCE")["NSE:RELIANCE"]
    assert b["volume"] > a["volume"] and b["timestamp"] == wall(2026, 11, 23, 10, 30)
