"""The order lifecycle: fills against the simulated books, market protection, limits, stops, IOC
and TTL, modify and cancel."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from kiteconnect import exceptions as kex

from tests.support.kite_client import last, place, settled, wall
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


def test_a_market_order_without_market_protection_is_a_400_and_no_order(kite_sim: KiteSimHandle) -> None:
    """Kite answers HTTP 400 InputException and books nothing (pykiteconnect#242); place and modify."""
    kite = kite_sim.client()
    ltp = kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"]
    stop = round(round(ltp * 0.9 / 0.05) * 0.05, 2)
    missing = {"market_protection": None}  # the client leaves None out of the request
    for kw in (missing, {"market_protection": 0}, {**missing, "order_type": "SL-M", "trigger_price": stop}):
        with pytest.raises(kex.InputException, match="Market orders without market protection") as e:
            place(kite, qty=1, side="SELL", **kw)
        assert e.value.code == 400
    assert kite.orders() == []  # nothing was booked
    oid = place(kite, qty=1, side="SELL", order_type="SL-M", trigger_price=stop)
    assert last(kite, oid)["status"] == "TRIGGER PENDING"
    limit = place(kite, qty=1, order_type="LIMIT", price=round(round(ltp * 0.95 / 0.05) * 0.05, 2))
    with pytest.raises(kex.InputException, match="Market orders without market protection"):
        kite.modify_order("regular", limit, order_type="MARKET")  # a modify to MARKET must bring it too
    assert last(kite, limit)["order_type"] == "LIMIT"
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
    settled(kite, oid)  # Kite modifies asynchronously
    mod = kite.order_history(oid)
    assert [h["status"] for h in mod][-4:] == [
        "MODIFY VALIDATION PENDING",
        "MODIFY PENDING",
        "MODIFIED",
        "OPEN",
    ]
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


def test_a_protected_market_order_shows_as_the_limit_kite_makes_it() -> None:
    with running_kite_sim(liquidity=Liquidity(equity=Decimal("100000")), capital=Decimal("50000000")) as ks:
        kite = ks.client()
        ltp = kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"]
        oid = place(kite, qty=5000, market_protection=1)
        o = last(kite, oid)
        assert o["status"] == "OPEN" and o["order_type"] == "LIMIT"  # converted at its protection price
        assert o["price"] == pytest.approx(ltp * 1.01, abs=0.05) and o["price"] <= ltp * 1.01


def test_an_order_can_be_modified_at_most_25_times(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ltp = kite.ltp("NSE:TCS")["NSE:TCS"]["last_price"]
    low = round(round(ltp * 0.9 / 0.05) * 0.05, 2)
    oid = place(kite, "TCS", qty=1, order_type="LIMIT", price=low)
    for i in range(25):
        kite.modify_order("regular", oid, price=round(low - 0.05 * (i + 1), 2))
        settled(kite, oid)  # one modification at a time: Kite refuses one while another is pending
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


def test_a_stop_triggers_on_the_wick_inside_the_minute_and_fills_as_the_model_says(
    kite_sim: KiteSimHandle,
) -> None:
    """A sell stop just above a minute's wick low: a bar that dips through it and closes back above (a
    once-a-minute last price never sees it) triggers it, and it fills where tron.domain.stop_fill says."""
    from tron.domain.stop_fill import StopOrder, StopSlippage, stop_outcome

    kite = kite_sim.client()
    sim = kite_sim.sim
    d, j = sim.now_minute()
    inst = sim.catalog().by_key["NSE:HDFCBANK"]
    books = [sim.view.book(inst, d, m) for m in range(j + 1, j + 120)]
    lows = [b.bar_low for b in books]
    # the first minute whose wick makes a new low while its open and close stay 4 ticks above it
    m = next(
        i
        for i, b in enumerate(books)
        if b.bar_low < min(lows[:i] or [b.bar_low + 1])
        and min(b.bar_open, b.last) - b.bar_low >= Decimal("0.20")
    )
    wick = books[m]
    trigger = wick.bar_low + Decimal("0.05")
    assert trigger < min(wick.bar_open, wick.last)  # the minute's last price stays above the stop
    place(kite, "HDFCBANK", qty=3)
    slm = place(kite, "HDFCBANK", qty=3, side="SELL", order_type="SL-M", trigger_price=float(trigger))
    kite_sim.advance(minutes=m + 1)  # through the wick's minute
    done = last(kite, slm)
    expected = stop_outcome(
        StopOrder("SELL", "SL-M", trigger, protection_pct=Decimal(-1)),
        wick.bar,
        inst.tick_size,
        wick.half_spread,
        StopSlippage(),
    )
    assert done["status"] == "COMPLETE" and expected.filled
    assert Decimal(str(done["average_price"])) == expected.price  # the same model, to the paisa
    (fill,) = [t for t in kite.trades() if t["order_id"] == slm]
    assert f"{fill['fill_timestamp']:%H:%M}" == f"{sim.venue.minute_ts(d, j + 1 + m):%H:%M}"  # in that minute
