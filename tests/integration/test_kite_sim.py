"""The Kite simulator driven by the real `kiteconnect` client over loopback HTTP: every route, every error
type it produces, rate limits, token expiry, the order lifecycle and the matching engine's partial fills."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tests.integration.kite_sim import KiteSimHandle, running_kite_sim
from tron.domain.timeutil import IST
from tron.sim.kite.engine import Liquidity


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
    assert infy["instrument_token"] & 0xFF == 1 and infy["instrument_token"] >> 8 == int(
        infy["exchange_token"]
    )
    index = by[("NSE", "NIFTY 50")]
    assert index["segment"] == "INDICES" and index["instrument_token"] == 256265
    futs = [r for r in rows if r["segment"] == "NFO-FUT"]
    opts = [r for r in rows if r["segment"] == "NFO-OPT"]
    assert futs and opts
    for r in futs + opts:
        assert r["instrument_token"] & 0xFF == 2  # Kite's segment code for NFO in the token's low byte
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


# ---------------------------------------------------------------------------------------------- orders
def test_market_order_fills_at_the_ask_and_shows_the_kite_lifecycle(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ask = kite.quote("NSE:INFY")["NSE:INFY"]["depth"]["sell"][0]["price"]
    oid = place(kite, qty=10, tag="T1abc")
    assert isinstance(oid, str) and oid.isdigit()
    history = kite.order_history(oid)
    assert [h["status"] for h in history] == [
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN PENDING",
        "OPEN",
        "COMPLETE",
    ]
    done = history[-1]
    assert done["filled_quantity"] == 10 and done["pending_quantity"] == 0
    assert done["average_price"] == ask and done["tag"] == "T1abc"
    assert done["order_timestamp"] == wall(2026, 11, 23, 10, 0)
    assert isinstance(done["exchange_timestamp"], datetime) and done["exchange_order_id"]
    trades = kite.order_trades(oid)
    assert sum(t["quantity"] for t in trades) == 10 and trades[0]["average_price"] == ask
    assert isinstance(trades[0]["fill_timestamp"], datetime)
    assert kite.trades() == trades
    assert [o["order_id"] for o in kite.orders()] == [oid]


def test_market_order_without_market_protection_is_rejected(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    for kw in ({}, {"market_protection": 0}):
        args = {
            "variety": "regular",
            "exchange": "NSE",
            "tradingsymbol": "INFY",
            "transaction_type": "BUY",
            "quantity": 1,
            "product": "MIS",
            "order_type": "MARKET",
            **kw,
        }
        oid = kite.place_order(**args)  # type: ignore[arg-type]
        done = last(kite, oid)
        assert done["status"] == "REJECTED" and done["filled_quantity"] == 0
        assert "market protection" in done["status_message"]
    ltp = kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"]
    oid = place(kite, qty=1, side="SELL", order_type="SL-M", trigger_price=round(ltp * 0.9 / 0.05) * 0.05)
    oid_mp0 = place(
        kite,
        qty=1,
        side="SELL",
        order_type="SL-M",
        trigger_price=round(ltp * 0.9 / 0.05) * 0.05,
        market_protection=0,
    )
    assert last(kite, oid)["status"] == "TRIGGER PENDING"
    assert last(kite, oid_mp0)["status"] == "REJECTED"
    with pytest.raises(kex.InputException, match="market_protection"):
        place(kite, market_protection="yes")


def test_market_protection_bounds_the_fill_and_the_rest_waits(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    q = kite.quote("NSE:INFY")["NSE:INFY"]
    ltp, asks = q["last_price"], q["depth"]["sell"]
    # 0.01% above LTP reaches only the levels priced at or under the protection price
    oid = place(kite, qty=sum(a["quantity"] for a in asks), market_protection=0.01)
    done = last(kite, oid)
    bound = ltp * 1.0001
    reachable = sum(a["quantity"] for a in asks if a["price"] <= bound + 1e-9)
    assert done["status"] == "OPEN" and done["filled_quantity"] == reachable
    assert all(t["average_price"] <= bound for t in kite.order_trades(oid))


def test_big_orders_fill_partially_then_complete_as_the_minutes_pass() -> None:
    with running_kite_sim(liquidity=Liquidity(equity=Decimal("100000")), capital=Decimal("50000000")) as ks:
        kite = ks.client()
        book = sum(a["quantity"] for a in kite.quote("NSE:INFY")["NSE:INFY"]["depth"]["sell"])
        qty = book * 3
        oid = place(kite, qty=qty)
        first = last(kite, oid)
        assert first["status"] == "OPEN" and first["filled_quantity"] == book
        assert first["pending_quantity"] == qty - book
        # the book this minute is used up for everyone
        assert all(a["quantity"] == 0 for a in kite.quote("NSE:INFY")["NSE:INFY"]["depth"]["sell"])
        for _ in range(10):
            ks.advance(minutes=1)
            if last(kite, oid)["status"] == "COMPLETE":
                break
        done = last(kite, oid)
        assert done["status"] == "COMPLETE" and done["filled_quantity"] == qty
        trades = kite.order_trades(oid)
        assert sum(t["quantity"] for t in trades) == qty
        assert len({t["fill_timestamp"] for t in trades}) > 1  # fills in several minutes
        vwap = sum(t["quantity"] * t["average_price"] for t in trades) / qty
        assert done["average_price"] == pytest.approx(vwap, abs=0.01)
        assert kite.positions()["net"][0]["quantity"] == qty


def test_limit_order_rests_can_be_modified_and_cancelled(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    q = kite.quote("NSE:TCS")["NSE:TCS"]
    low = round(q["last_price"] * 0.9 / 0.05) * 0.05
    oid = place(kite, "TCS", qty=5, order_type="LIMIT", price=round(low, 2))
    assert last(kite, oid)["status"] == "OPEN"
    kite.modify_order("regular", oid, price=round(low + 0.05, 2), quantity=6)
    mod = kite.order_history(oid)
    assert [h["status"] for h in mod][-3:] == ["MODIFY VALIDATION PENDING", "MODIFY PENDING", "OPEN"]
    assert mod[-1]["quantity"] == 6 and mod[-1]["modified"] is True
    assert kite.cancel_order("regular", oid) == oid
    done = last(kite, oid)
    assert done["status"] == "CANCELLED" and done["cancelled_quantity"] == 6 and done["pending_quantity"] == 0
    with pytest.raises(kex.OrderException):
        kite.cancel_order("regular", oid)
    with pytest.raises(kex.OrderException):
        kite.modify_order("regular", oid, price=1.0)


def test_marketable_limit_fills_at_book_prices_not_worse_than_the_limit(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ask = kite.quote("NSE:TCS")["NSE:TCS"]["depth"]["sell"][0]["price"]
    oid = place(kite, "TCS", qty=3, order_type="LIMIT", price=round(ask + 1, 2))
    done = last(kite, oid)
    assert done["status"] == "COMPLETE" and done["average_price"] == ask


def test_resting_limit_fills_when_the_market_comes_to_it(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    d = kite_sim.market.gen.day(date(2026, 11, 23))
    k = d.symbols.index("HDFCBANK")
    later_low = float(d.lo[k, 46:].min())
    ltp = kite.ltp("NSE:HDFCBANK")["NSE:HDFCBANK"]["last_price"]
    assert later_low < ltp - 0.5
    price = round((ltp + later_low) / 2 / 0.05) * 0.05
    oid = place(kite, "HDFCBANK", qty=2, order_type="LIMIT", price=round(price, 2))
    assert last(kite, oid)["status"] == "OPEN"
    kite_sim.set(datetime(2026, 11, 23, 15, 29, tzinfo=IST))
    done = last(kite, oid)
    assert done["status"] == "COMPLETE" and done["average_price"] <= price


def test_stop_loss_orders_trigger_when_the_price_crosses(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    d = kite_sim.market.gen.day(date(2026, 11, 23))
    k = d.symbols.index("HDFCBANK")
    ltp = kite.ltp("NSE:HDFCBANK")["NSE:HDFCBANK"]["last_price"]
    later_low = float(d.c[k, 46:].min())
    trigger = round(round((ltp + later_low) / 2 / 0.05) * 0.05, 2)
    slm = place(kite, "HDFCBANK", qty=2, side="SELL", order_type="SL-M", trigger_price=trigger)
    sl = place(
        kite,
        "HDFCBANK",
        qty=2,
        side="SELL",
        order_type="SL",
        trigger_price=trigger,
        price=round(trigger - 5, 2),
    )
    assert last(kite, slm)["status"] == last(kite, sl)["status"] == "TRIGGER PENDING"
    kite_sim.set(datetime(2026, 11, 23, 15, 10, tzinfo=IST))
    for oid in (slm, sl):
        statuses = [h["status"] for h in kite.order_history(oid)]
        assert statuses[-2:] == ["OPEN", "COMPLETE"] or statuses[-1] == "COMPLETE"
        assert last(kite, oid)["average_price"] <= trigger
    with pytest.raises(kex.InputException, match=r"[Tt]rigger"):
        place(kite, "HDFCBANK", qty=1, side="SELL", order_type="SL-M", trigger_price=round(ltp * 1.05, 1))


def test_ioc_cancels_what_it_cannot_fill_at_once() -> None:
    with running_kite_sim(liquidity=Liquidity(equity=Decimal("100000")), capital=Decimal("50000000")) as ks:
        kite = ks.client()
        book = sum(a["quantity"] for a in kite.quote("NSE:INFY")["NSE:INFY"]["depth"]["sell"])
        oid = place(kite, qty=book + 100, validity="IOC")
        done = last(kite, oid)
        assert done["status"] == "CANCELLED" and done["filled_quantity"] == book
        assert done["cancelled_quantity"] == 100


def test_round_trip_positions_show_realised_pnl(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    buy = place(kite, "SBIN", qty=100)
    kite_sim.advance(minutes=20)
    sell = place(kite, "SBIN", qty=100, side="SELL")
    b, s = last(kite, buy), last(kite, sell)
    pos = kite.positions()
    net = next(p for p in pos["net"] if p["tradingsymbol"] == "SBIN")
    assert net["quantity"] == 0 and net["buy_quantity"] == net["sell_quantity"] == 100
    expected = round((s["average_price"] - b["average_price"]) * 100, 2)
    assert net["pnl"] == pytest.approx(expected, abs=0.01)
    assert net["realised"] == pytest.approx(expected, abs=0.01) and net["unrealised"] == pytest.approx(
        0, abs=0.01
    )
    assert pos["day"][0]["tradingsymbol"] == "SBIN"
    assert kite.margins("equity")["utilised"]["m2m_realised"] == pytest.approx(-expected, abs=0.01)


def test_open_position_is_marked_to_market(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    oid = place(kite, "RELIANCE", qty=50)
    avg = last(kite, oid)["average_price"]
    kite_sim.advance(minutes=45)
    ltp = kite.ltp("NSE:RELIANCE")["NSE:RELIANCE"]["last_price"]
    p = kite.positions()["net"][0]
    assert p["last_price"] == ltp and p["average_price"] == avg
    assert p["m2m"] == pytest.approx((ltp - avg) * 50, abs=0.01)
    m = kite.margins("equity")
    assert m["utilised"]["span"] == pytest.approx(ltp * 50 / 5, abs=0.01)  # MIS at 5x


def test_holdings_come_from_cnc_buys_after_the_day(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    assert kite.holdings() == []
    oid = place(kite, "ITC", qty=10, product="CNC")
    avg = last(kite, oid)["average_price"]
    kite_sim.set(datetime(2026, 11, 25, 9, 0, tzinfo=IST))  # the next trading day (24th: a holiday)
    kite = kite_sim.client()  # yesterday's token died at 06:00
    h = kite.holdings()
    assert h[0]["tradingsymbol"] == "ITC" and h[0]["quantity"] == 10 and h[0]["average_price"] == avg
    assert kite.orders() == [] and kite.trades() == []  # the order book is per day


# ---------------------------------------------------------------------------------------------- rejections
def test_insufficient_margin_is_a_rejected_order(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    oid = place(kite, "INFY", qty=5000)  # ≈ ₹1.3 crore of INFY on ₹10 lakh at 5x
    done = last(kite, oid)
    assert done["status"] == "REJECTED" and done["status_message"].startswith("Insufficient funds.")
    assert "Required margin is" in done["status_message"]
    assert kite.trades() == []


def test_limit_price_outside_the_circuit_is_rejected(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    q = kite.quote("NSE:INFY")["NSE:INFY"]
    oid = place(kite, qty=1, order_type="LIMIT", price=round(q["upper_circuit_limit"] + 10, 1))
    done = last(kite, oid)
    assert done["status"] == "REJECTED" and "circuit limits" in done["status_message"]


def test_orders_outside_market_hours_raise_and_amo_waits_for_the_open(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    kite_sim.set(datetime(2026, 11, 23, 15, 45, tzinfo=IST))
    with pytest.raises(kex.InputException, match="Markets are closed"):
        place(kite)
    ltp = kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"]
    amo = place(kite, variety="amo", product="CNC", order_type="LIMIT", price=round(ltp * 1.02 / 0.05) * 0.05)
    assert last(kite, amo)["status"] == "AMO REQ RECEIVED"
    kite_sim.set(datetime(2026, 11, 25, 8, 30, tzinfo=IST))  # the next trading day, before the open
    kite = kite_sim.client()
    assert last(kite, amo)["status"] == "AMO REQ RECEIVED"
    kite_sim.set(datetime(2026, 11, 25, 9, 20, tzinfo=IST))
    kite = kite_sim.client()
    assert last(kite, amo)["status"] in ("OPEN", "COMPLETE")
    with pytest.raises(kex.InputException, match="AMO"):
        place(kite, variety="amo")


def test_weekend_and_holiday_orders_are_refused(kite_sim: KiteSimHandle) -> None:
    kite_sim.set(datetime(2026, 11, 24, 5, 0, tzinfo=IST))
    kite = kite_sim.client()
    kite_sim.set(datetime(2026, 11, 24, 11, 0, tzinfo=IST))  # NSE holiday
    kite = kite_sim.client()
    with pytest.raises(kex.InputException, match="Markets are closed"):
        place(kite)
    assert kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"] > 0  # the last close shows


def test_tag_must_be_alphanumeric_and_at_most_20_characters(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    assert place(kite, qty=1, tag="A" * 20)
    for bad in ("A" * 21, "has-dash", "with space"):
        with pytest.raises(kex.InputException, match="tag"):
            place(kite, qty=1, tag=bad)


def test_futures_and_options_lots_freeze_quantity_and_autoslice(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    rows = kite.instruments("NFO")
    fut = next(r for r in rows if r["instrument_type"] == "FUT")
    ltp = kite.ltp(f"NFO:{fut['tradingsymbol']}")[f"NFO:{fut['tradingsymbol']}"]["last_price"]
    assert ltp > 0
    oid = place(kite, fut["tradingsymbol"], exchange="NFO", qty=65, product="NRML")
    done = last(kite, oid)
    assert done["status"] == "COMPLETE" and done["filled_quantity"] == 65
    with pytest.raises(kex.InputException, match="lot size"):
        place(kite, fut["tradingsymbol"], exchange="NFO", qty=10, product="NRML")
    with pytest.raises(kex.InputException, match="freeze"):
        place(kite, fut["tradingsymbol"], exchange="NFO", qty=65 * 28, product="NRML")
    with pytest.raises(kex.InputException, match="CNC"):
        place(kite, fut["tradingsymbol"], exchange="NFO", qty=65, product="CNC")
    # autoslice splits at the freeze quantity (1800 → whole lots of 65: 1755)
    quotes = kite.quote([f"NFO:{r['tradingsymbol']}" for r in rows if r["instrument_type"] == "CE"])
    cheap = min(quotes, key=lambda s: quotes[s]["last_price"] if quotes[s]["last_price"] > 1 else 1e9)
    res = kite.place_autoslice_order(
        variety="regular",
        exchange="NFO",
        tradingsymbol=cheap.split(":")[1],
        transaction_type="BUY",
        quantity=65 * 30,
        product="NRML",
        order_type="MARKET",
        market_protection=-1,
    )
    assert len(res["children"]) == 2 and res["order_id"] == res["children"][0]["order_id"]
    sizes = [kite.order_history(c["order_id"])[-1]["quantity"] for c in res["children"]]
    assert sizes == [1755, 195]  # whole lots under the 1800 freeze quantity


def test_option_buy_blocks_the_premium(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ce = next(r for r in kite.instruments("NFO") if r["instrument_type"] == "CE")
    key = f"NFO:{ce['tradingsymbol']}"
    oid = place(kite, ce["tradingsymbol"], exchange="NFO", qty=65, product="NRML")
    avg = last(kite, oid)["average_price"]
    assert kite.margins("equity")["utilised"]["option_premium"] == pytest.approx(avg * 65, abs=0.01)
    assert kite.positions()["net"][0]["tradingsymbol"] == ce["tradingsymbol"]
    assert kite.ltp(key)[key]["last_price"] > 0


def test_mis_is_squared_off_at_1520_and_blocked_after(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    place(kite, "TCS", qty=5)
    kite_sim.set(datetime(2026, 11, 23, 15, 21, tzinfo=IST))
    orders = kite.orders()
    assert orders[-1]["placed_by"] == "ADMINSQF" and orders[-1]["transaction_type"] == "SELL"
    assert orders[-1]["status"] == "COMPLETE"
    assert kite.positions()["net"][0]["quantity"] == 0
    late = place(kite, "TCS", qty=5)
    assert last(kite, late)["status"] == "REJECTED" and "MIS" in last(kite, late)["status_message"]


def test_bad_order_input_is_an_input_exception(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    for kw in (
        {"qty": 0},
        {"qty": -5},
        {"symbol": "NOSUCH"},
        {"side": "HOLD"},
        {"product": "XYZ"},
        {"order_type": "STOP"},
        {"order_type": "LIMIT"},  # no price
        {"order_type": "LIMIT", "price": 100.03},  # off the tick grid
        {"validity": "GTC"},
        {"variety": "nonsense"},
    ):
        args = dict(kw)
        symbol = str(args.pop("symbol", "INFY"))
        qty = int(args.pop("qty", 1))  # type: ignore[arg-type]
        side = str(args.pop("side", "BUY"))
        with pytest.raises(kex.InputException):
            place(kite, symbol, qty=qty, side=side, **args)
    with pytest.raises(kex.InputException, match=r"[Ii]ndices"):
        place(kite, "NIFTY 50")
    with pytest.raises(kex.InputException):
        kite.order_history("999999")
    r = requests.post(
        kite_sim.url + "/orders/regular",
        data={"exchange": "NSE", "tradingsymbol": "INFY", "quantity": "ten"},
        headers={"X-Kite-Version": "3", "Authorization": f"token sim:{kite.access_token}"},
        timeout=5,
    )
    assert r.status_code == 400 and r.json()["error_type"] == "InputException"


# ---------------------------------------------------------------------------------------------- historical
def _token(kite: KiteConnect, key: str) -> int:
    return kite.quote(key)[key]["instrument_token"]


@pytest.mark.parametrize(
    ("interval", "minutes"),
    [
        ("minute", 1),
        ("3minute", 3),
        ("5minute", 5),
        ("10minute", 10),
        ("15minute", 15),
        ("30minute", 30),
        ("60minute", 60),
    ],
)
def test_intraday_candles_for_every_interval(kite_sim: KiteSimHandle, interval: str, minutes: int) -> None:
    kite = kite_sim.client()
    token = _token(kite, "NSE:INFY")
    candles = kite.historical_data(token, "2026-11-20 09:15:00", "2026-11-23 15:30:00", interval)
    ones = kite.historical_data(token, "2026-11-20 09:15:00", "2026-11-23 15:30:00", "minute")
    days = sorted({c["date"].date() for c in candles})
    assert days == [date(2026, 11, 20), date(2026, 11, 23)]
    friday = [c for c in candles if c["date"].date() == date(2026, 11, 20)]
    assert len(friday) == -(-375 // minutes)  # full session of a past day
    assert friday[0]["date"] == datetime(2026, 11, 20, 9, 15, tzinfo=IST)
    assert all(c["date"].utcoffset().total_seconds() == 19800 for c in candles)  # +0530
    # nothing after the clock (10:00 on the 23rd): no future leaks
    today = [c for c in candles if c["date"].date() == date(2026, 11, 23)]
    assert len(today) == -(-45 // minutes) and today[-1]["date"] < datetime(2026, 11, 23, 10, 0, tzinfo=IST)
    # each candle aggregates the minute candles it covers
    first = friday[1] if len(friday) > 1 else friday[0]
    covered = [
        c
        for c in ones
        if first["date"] <= c["date"] < first["date"] + (ones[1]["date"] - ones[0]["date"]) * minutes
    ]
    assert first["open"] == covered[0]["open"] and first["close"] == covered[-1]["close"]
    assert first["high"] == max(c["high"] for c in covered) and first["low"] == min(c["low"] for c in covered)
    assert first["volume"] == sum(c["volume"] for c in covered)


def test_day_candles_and_open_interest(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    token = _token(kite, "NSE:INFY")
    days = kite.historical_data(token, date(2026, 10, 1), date(2026, 12, 31), "day", oi=True)
    assert days[0]["date"] == datetime(2026, 10, 1, 0, 0, tzinfo=IST)
    assert days[-1]["date"] == datetime(2026, 11, 23, 0, 0, tzinfo=IST)  # today so far, nothing later
    assert all("oi" in c for c in days)
    q = kite.quote("NSE:INFY")["NSE:INFY"]
    assert days[-1]["open"] == q["ohlc"]["open"] and days[-1]["close"] == q["last_price"]
    assert days[-2]["close"] == pytest.approx(q["ohlc"]["close"], abs=0.01)
    assert date(2026, 10, 2) not in {c["date"].date() for c in days}  # Gandhi Jayanti
    whole = kite.historical_data(token, "2026-11-20 09:15:00", "2026-11-20 15:30:00", "minute")
    friday = next(c for c in days if c["date"].date() == date(2026, 11, 20))
    assert friday["open"] == whole[0]["open"] and friday["close"] == whole[-1]["close"]
    assert friday["high"] == max(c["high"] for c in whole) and friday["low"] == min(c["low"] for c in whole)
    assert friday["volume"] == sum(c["volume"] for c in whole)
    index = kite.historical_data(256265, "2026-11-23", "2026-11-23", "minute")
    assert len(index) == 45 and index[0]["volume"] == 0


def test_historical_limits_and_bad_input(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    token = _token(kite, "NSE:INFY")
    for interval, days in (
        ("minute", 60),
        ("3minute", 100),
        ("5minute", 100),
        ("10minute", 100),
        ("15minute", 200),
        ("30minute", 200),
        ("60minute", 400),
        ("day", 2000),
    ):
        end = datetime(
            2024, 1, 3, tzinfo=IST
        )  # the generator starts 2024-01-01: the limit, not the data, is tested
        kite.historical_data(token, end - timedelta(days=days), end, interval)
        with pytest.raises(kex.InputException, match=f"{days} days"):
            kite.historical_data(token, end - timedelta(days=days + 1), end, interval)
    with pytest.raises(kex.InputException, match="interval"):
        kite.historical_data(token, "2026-11-20", "2026-11-23", "2minute")
    with pytest.raises(kex.InputException, match="token"):
        kite.historical_data(1, "2026-11-20", "2026-11-23", "minute")
    with pytest.raises(kex.InputException):
        kite.historical_data(token, "2026-11-23", "2026-11-20", "minute")
    with pytest.raises(kex.InputException, match="from"):
        kite.historical_data(token, "20/11/2026", "2026-11-23", "minute")


# ---------------------------------------------------------------------------------------------- rate limits
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
            place(kite, qty=1)
        with pytest.raises(kex.NetworkException):
            place(kite, qty=1)
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


def test_no_rate_limits_for_replays(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    for _ in range(5):
        kite.quote("NSE:INFY")


# ---------------------------------------------------------------------------------------------- faults
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
    assert kite.orders() == []
    kite_sim.sim.drop_connection_next("/orders/regular", method="POST", after=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        place(kite, qty=1, tag="PLACED1")
    assert [o["tag"] for o in kite.orders()] == ["PLACED1"]  # placed: a retry must adopt it by tag
    kite_sim.sim.fail_next("/orders/regular", "NetworkException", 503, method="POST", after=True)
    with pytest.raises(kex.NetworkException):
        place(kite, qty=1, tag="PLACED2")
    assert [o["tag"] for o in kite.orders()] == ["PLACED1", "PLACED2"]


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


# ---------------------------------------------------------------------------------------------- the command
def test_tron_kite_sim_prints_the_listening_line_and_serves() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tron.cli",
            "kite-sim",
            "--port",
            "0",
            "--date",
            "2026-11-23",
            "--time",
            "10:00",
            "--speed",
            "60",
            "--api-key",
            "k1",
            "--api-secret",
            "s1",
            "--symbols",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        kite = KiteConnect("k1", root=url)
        s = kite.generate_session("rt", "s1")
        assert s["login_time"].date() == date(2026, 11, 23)
        assert kite.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
        assert len(kite.instruments("NSE")) == 6  # 5 stocks and the index
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_tron_kite_sim_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "tron.cli", "kite-sim", "--speed", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "--speed: must be a positive number" in p.stderr
    from tron import cli_kite_sim

    for args in (["--time", "25:99"], ["--date", "2026-13-01"], ["--port", "70000"], ["--api-key", ""]):
        with pytest.raises(SystemExit) as e:
            cli_kite_sim.main(args)
        assert e.value.code == 2 and args[0] in capsys.readouterr().err


def test_cnc_sells_need_holdings_and_reduce_them(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    short = place(kite, "ITC", qty=5, side="SELL", product="CNC")
    assert last(kite, short)["status"] == "REJECTED" and "holdings" in last(kite, short)["status_message"]
    place(kite, "ITC", qty=10, product="CNC")
    kite_sim.set(datetime(2026, 11, 25, 9, 30, tzinfo=IST))
    kite = kite_sim.client()
    sold = place(kite, "ITC", qty=4, side="SELL", product="CNC")
    assert last(kite, sold)["status"] == "COMPLETE"
    assert last(kite, place(kite, "ITC", qty=7, side="SELL", product="CNC"))["status"] == "REJECTED"
    kite_sim.set(datetime(2026, 11, 26, 9, 30, tzinfo=IST))
    kite = kite_sim.client()
    assert kite.holdings()[0]["quantity"] == 6


def test_nrml_futures_carry_overnight(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    fut = next(
        r
        for r in kite.instruments("NFO")
        if r["instrument_type"] == "FUT" and r["expiry"] > date(2026, 12, 1)
    )
    place(kite, fut["tradingsymbol"], exchange="NFO", qty=65, product="NRML")
    kite_sim.set(datetime(2026, 11, 25, 9, 30, tzinfo=IST))
    kite = kite_sim.client()
    pos = kite.positions()
    assert pos["net"][0]["overnight_quantity"] == 65 and pos["net"][0]["quantity"] == 65
    assert pos["day"] == []


def test_resting_protected_market_order_shows_its_protection_price() -> None:
    with running_kite_sim(liquidity=Liquidity(equity=Decimal("100000")), capital=Decimal("50000000")) as ks:
        kite = ks.client()
        ltp = kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"]
        oid = place(kite, qty=5000, market_protection=1)
        o = last(kite, oid)
        assert o["status"] == "OPEN" and o["order_type"] == "MARKET"
        assert o["price"] == pytest.approx(ltp * 1.01, abs=0.05) and o["price"] <= ltp * 1.01


# ---------------------------------------------------------------------------------------------- the engine
def test_engine_fills_levels_in_price_order_and_shares_a_minute_of_liquidity() -> None:
    from tron.sim.kite import engine as E

    book = E.build_book(
        key="NSE:X",
        minute=5,
        bid=Decimal("99.95"),
        ask=Decimal("100.05"),
        last=Decimal("100"),
        tick=Decimal("0.05"),
        lot=1,
        notional=Decimal("10000"),
    )
    assert [lv.price for lv in book.asks] == [Decimal("100.05") + Decimal("0.05") * k for k in range(5)]
    consumed: dict = {}
    fills = E.take("BUY", 10_000, Decimal("100.15"), book, consumed, resting=False)
    assert [f.price for f in fills] == [Decimal("100.05"), Decimal("100.10"), Decimal("100.15")]
    assert [f.quantity for f in fills] == [lv.quantity for lv in book.asks[:3]]
    assert E.take("BUY", 10, Decimal("100.15"), book, consumed, resting=False) == []  # used up this minute
    # a resting buy limit also fills at its own price when the minute traded through it
    through = E.Book(
        6, book.bids, book.asks, Decimal("100"), bar_low=Decimal("99.50"), bar_high=Decimal("100.2")
    )
    fills = E.take("BUY", 5, Decimal("99.80"), through, {}, resting=True)
    assert fills == [E.Fill(Decimal("99.80"), 5)]
    assert E.take("BUY", 5, Decimal("99.80"), through, {}, resting=False) == []


def test_engine_protection_prices_and_auto_bands() -> None:
    from tron.sim.kite import engine as E

    assert E.protection_price("BUY", Decimal("100"), Decimal("2"), Decimal("0.05")) == Decimal("102.00")
    assert E.protection_price("SELL", Decimal("100.03"), Decimal("1"), Decimal("0.05")) == Decimal("99.05")
    assert E.auto_protection_pct(Decimal("50"), False) == 2
    assert E.auto_protection_pct(Decimal("500"), False) == 1
    assert E.auto_protection_pct(Decimal("2500"), False) == Decimal("0.5")
    assert E.auto_protection_pct(Decimal("5"), True) == 5 and E.auto_protection_pct(Decimal("80"), True) == 3
    assert E.triggered("BUY", Decimal("10"), Decimal("10")) and not E.triggered(
        "SELL", Decimal("10"), Decimal("10.05")
    )


# ---------------------------------------------------------------------------------------------- postbacks
def test_postbacks_carry_kites_checksum() -> None:
    import hashlib
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/postback"
        with running_kite_sim(
            postback_url=url, liquidity=Liquidity(equity=Decimal("100000")), capital=Decimal("50000000")
        ) as ks:
            kite = ks.client()
            book = sum(a["quantity"] for a in kite.quote("NSE:INFY")["NSE:INFY"]["depth"]["sell"])
            partial = place(kite, qty=book + 50)
            rejected = place(kite, qty=1, market_protection=0)
            assert ks.sim.postbacks is not None and ks.sim.postbacks.drain()
            ks.advance(minutes=1)
            kite.orders()
            assert ks.sim.postbacks.drain()
    finally:
        server.shutdown()
        server.server_close()
    by = [(p["order_id"], p["status"]) for p in got]
    assert by == [(partial, "UPDATE"), (rejected, "REJECTED"), (partial, "COMPLETE")]
    for p in got:
        expected = hashlib.sha256((p["order_id"] + p["order_timestamp"] + "sim-secret").encode()).hexdigest()
        assert p["checksum"] == expected and p["app_id"] == "sim" and p["user_id"] == "SIM001"
    assert got[0]["unfilled_quantity"] == 50 and got[-1]["filled_quantity"] == book + 50


def test_an_order_can_be_modified_at_most_25_times(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ltp = kite.ltp("NSE:TCS")["NSE:TCS"]["last_price"]
    low = round(round(ltp * 0.9 / 0.05) * 0.05, 2)
    oid = place(kite, "TCS", qty=1, order_type="LIMIT", price=low)
    for i in range(25):
        kite.modify_order("regular", oid, price=round(low - 0.05 * (i + 1), 2))
    with pytest.raises(kex.OrderException, match="modifications"):
        kite.modify_order("regular", oid, price=round(low - 5, 2))


# ---------------------------------------------------------------------------------------------- calculators
def test_order_margins_basket_and_virtual_contract_note(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ltp = kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"]
    order = {
        "exchange": "NSE",
        "tradingsymbol": "INFY",
        "transaction_type": "BUY",
        "variety": "regular",
        "product": "MIS",
        "order_type": "MARKET",
        "quantity": 100,
        "price": 0,
        "trigger_price": 0,
    }
    m = kite.order_margins([order])[0]
    assert m["total"] == pytest.approx(ltp * 100 / 5, abs=0.01) and m["leverage"] == 5
    assert m["charges"]["total"] > 0 and m["charges"]["transaction_tax_type"] == "stt"
    basket = kite.basket_order_margins([order, {**order, "tradingsymbol": "TCS"}])
    assert basket["initial"]["total"] == pytest.approx(sum(o["total"] for o in basket["orders"]), abs=0.01)
    note = kite.get_virtual_contract_note([{**order, "transaction_type": "SELL", "average_price": 1500}])
    c = note[0]["charges"]
    # intraday sell of ₹1,50,000: brokerage min(0.03%, ₹20) = ₹20, STT 0.025% = ₹37.5 → ₹38 (rupee-rounded)
    assert c["brokerage"] == 20 and c["transaction_tax"] == 38
    with pytest.raises(kex.InputException):
        kite.order_margins([{"exchange": "NSE"}])


def test_the_next_day_opens_with_yesterdays_realised_pnl_and_settled_expiries(
    kite_sim: KiteSimHandle,
) -> None:
    kite = kite_sim.client()
    buy = place(kite, "SBIN", qty=100)
    kite_sim.advance(minutes=30)
    sell = place(kite, "SBIN", qty=100, side="SELL")
    realised = (last(kite, sell)["average_price"] - last(kite, buy)["average_price"]) * 100
    expiring = next(
        r
        for r in kite.instruments("NFO")
        if r["instrument_type"] == "FUT" and r["expiry"] == date(2026, 11, 23)
    )
    fut = place(kite, expiring["tradingsymbol"], exchange="NFO", qty=65, product="NRML")
    fut_avg = last(kite, fut)["average_price"]
    kite_sim.set(datetime(2026, 11, 23, 15, 29, tzinfo=IST))
    final = kite_sim.market.gen.full_day(date(2026, 11, 23))
    settle = round(float(final.c[final.symbols.index(expiring["tradingsymbol"]), -1]), 2)
    kite_sim.set(datetime(2026, 11, 25, 9, 15, tzinfo=IST))
    kite = kite_sim.client()
    assert kite.positions()["net"] == []  # the expired future was settled, not carried
    opening = kite.margins("equity")["available"]["opening_balance"]
    assert opening == pytest.approx(1_000_000 + realised + (settle - fut_avg) * 65, abs=0.02)


def test_ttl_orders_are_cancelled_when_their_minutes_run_out(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ltp = kite.ltp("NSE:TCS")["NSE:TCS"]["last_price"]
    low = round(round(ltp * 0.9 / 0.05) * 0.05, 2)
    oid = place(kite, "TCS", qty=1, order_type="LIMIT", price=low, validity="TTL", validity_ttl=3)
    kite_sim.advance(minutes=2)
    assert last(kite, oid)["status"] == "OPEN" and last(kite, oid)["validity_ttl"] == 3
    kite_sim.advance(minutes=1)
    assert last(kite, oid)["status"] == "CANCELLED"
    with pytest.raises(kex.InputException, match="validity_ttl"):
        place(kite, "TCS", qty=1, order_type="LIMIT", price=low, validity="TTL")


# ---------------------------------------------------------------------------------------------- GTT
def test_gtt_single_and_two_leg_triggers(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    d = kite_sim.market.gen.day(date(2026, 11, 23))
    k = d.symbols.index("HDFCBANK")
    ltp = kite.ltp("NSE:HDFCBANK")["NSE:HDFCBANK"]["last_price"]
    later_low = float(d.c[k, 46:].min())
    stop = round(round((ltp + later_low) / 2 / 0.05) * 0.05, 2)
    leg = {"transaction_type": "SELL", "quantity": 2, "product": "CNC", "order_type": "LIMIT"}
    place(kite, "HDFCBANK", qty=2, product="CNC")
    single = kite.place_gtt("single", "HDFCBANK", "NSE", [stop], ltp, [{**leg, "price": round(stop - 5, 2)}])[
        "trigger_id"
    ]
    oco = kite.place_gtt(
        "two-leg",
        "HDFCBANK",
        "NSE",
        [round(stop - 0.05, 2), round(ltp * 1.5, 1)],
        ltp,
        [{**leg, "price": round(stop - 5, 2)}, {**leg, "price": round(ltp * 1.5, 1)}],
    )["trigger_id"]
    assert {g["id"] for g in kite.get_gtts()} == {single, oco}
    assert kite.get_gtt(single)["status"] == "active"
    far = kite.place_gtt("single", "HDFCBANK", "NSE", [round(ltp * 1.5, 1)], ltp, [{**leg, "price": 1.0}])
    kite.modify_gtt(
        far["trigger_id"], "single", "HDFCBANK", "NSE", [round(ltp * 1.6, 1)], ltp, [{**leg, "price": 2.0}]
    )
    assert kite.get_gtt(far["trigger_id"])["condition"]["trigger_values"] == [round(ltp * 1.6, 1)]
    kite.delete_gtt(far["trigger_id"])
    assert kite.get_gtt(far["trigger_id"])["status"] == "deleted"
    kite_sim.set(datetime(2026, 11, 23, 15, 25, tzinfo=IST))
    g = kite.get_gtt(single)
    assert g["status"] == "triggered"
    result = g["orders"][0]["result"]
    assert result["order_result"]["order_id"] and result["triggered_at"] <= stop
    placed = last(kite, result["order_result"]["order_id"])
    assert placed["order_type"] == "LIMIT" and placed["transaction_type"] == "SELL"
    o = kite.get_gtt(oco)
    assert o["status"] == "triggered" and o["orders"][0]["result"] and o["orders"][1]["result"] is None
    with pytest.raises(kex.InputException):
        kite.place_gtt("two-leg", "HDFCBANK", "NSE", [ltp * 1.1, ltp * 1.2], ltp, [leg, leg])
    with pytest.raises(kex.InputException):
        kite.delete_gtt(single)


def test_option_limits_outside_the_lpp_band_and_huge_equity_orders_are_refused(
    kite_sim: KiteSimHandle,
) -> None:
    kite = kite_sim.client()
    quotes = kite.quote(
        [f"NFO:{r['tradingsymbol']}" for r in kite.instruments("NFO") if r["instrument_type"] == "CE"]
    )
    key = max(quotes, key=lambda s: quotes[s]["last_price"])
    ltp = quotes[key]["last_price"]
    assert ltp > 50
    symbol = key.split(":")[1]
    far = place(
        kite,
        symbol,
        exchange="NFO",
        qty=65,
        product="NRML",
        side="SELL",
        order_type="LIMIT",
        price=round(round(ltp * 0.5 / 0.05) * 0.05, 2),
    )
    assert last(kite, far)["status"] == "REJECTED" and "circuit" in last(kite, far)["status_message"]
    near = place(
        kite,
        symbol,
        exchange="NFO",
        qty=65,
        product="NRML",
        side="BUY",
        order_type="LIMIT",
        price=round(round(ltp * 1.3 / 0.05) * 0.05, 2),
    )
    assert last(kite, near)["status"] == "COMPLETE"
    with pytest.raises(kex.InputException, match="100,000"):
        place(kite, "ITC", qty=100_001)


def test_convert_an_intraday_position_to_delivery(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    avg = last(kite, place(kite, "ITC", qty=10))["average_price"]
    assert kite.convert_position("NSE", "ITC", "BUY", "day", 6, "MIS", "CNC") is True
    pos = {p["product"]: p for p in kite.positions()["net"]}
    assert pos["MIS"]["quantity"] == 4 and pos["CNC"]["quantity"] == 6 and pos["CNC"]["average_price"] == avg
    with pytest.raises(kex.InputException):
        kite.convert_position("NSE", "ITC", "BUY", "day", 5, "MIS", "CNC")  # only 4 left
    with pytest.raises(kex.InputException):
        kite.convert_position("NSE", "ITC", "BUY", "day", 1, "MIS", "NRML")


# ---------------------------------------------------------------------------------------------- the ticker
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
