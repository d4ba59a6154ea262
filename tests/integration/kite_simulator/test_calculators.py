"""The margin and charges calculators."""

from __future__ import annotations

import pytest
from kiteconnect import exceptions as kex

from tests.support.kite_sim import KiteSimHandle


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
