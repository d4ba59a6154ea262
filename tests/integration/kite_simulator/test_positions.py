"""Positions and holdings: P&L, marks, CNC holdings, NRML carry, the next day's opening balance,
product conversion."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from kiteconnect import exceptions as kex

from tests.support.kite_client import last, place
from tests.support.kite_sim import KiteSimHandle
from tron.domain.timeutil import IST


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
