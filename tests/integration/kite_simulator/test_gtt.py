"""GTT triggers: single and two-leg, modify, delete, firing."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from kiteconnect import exceptions as kex

from tests.support.kite_client import last, place
from tests.support.kite_sim import KiteSimHandle
from tron.domain.timeutil import IST


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
