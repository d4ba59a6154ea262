"""Orders Kite refuses or rejects: margin, circuits and LPP, market hours and AMO, tags, lots and
freeze quantities, MIS after the square-off, bad input."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests
from kiteconnect import exceptions as kex

from tests.support.kite_client import last, place
from tests.support.kite_sim import KiteSimHandle
from tron.domain.timeutil import IST


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
