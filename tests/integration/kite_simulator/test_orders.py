"""The order lifecycle: fills against the simulated books, market protection, limits, stops, IOC
and TTL, modify and cancel."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from kiteconnect import exceptions as kex

from tests.support.kite_client import last, place, wall
from tests.support.kite_sim import KiteSimHandle, running_kite_sim
from tron.domain.timeutil import IST
from tron.sim.kite.engine import Liquidity


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


def test_resting_protected_market_order_shows_its_protection_price() -> None:
    with running_kite_sim(liquidity=Liquidity(equity=Decimal("100000")), capital=Decimal("50000000")) as ks:
        kite = ks.client()
        ltp = kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"]
        oid = place(kite, qty=5000, market_protection=1)
        o = last(kite, oid)
        assert o["status"] == "OPEN" and o["order_type"] == "MARKET"
        assert o["price"] == pytest.approx(ltp * 1.01, abs=0.05) and o["price"] <= ltp * 1.01


def test_an_order_can_be_modified_at_most_25_times(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ltp = kite.ltp("NSE:TCS")["NSE:TCS"]["last_price"]
    low = round(round(ltp * 0.9 / 0.05) * 0.05, 2)
    oid = place(kite, "TCS", qty=1, order_type="LIMIT", price=low)
    for i in range(25):
        kite.modify_order("regular", oid, price=round(low - 0.05 * (i + 1), 2))
    with pytest.raises(kex.OrderException, match="modifications"):
        kite.modify_order("regular", oid, price=round(low - 5, 2))


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
