"""The margin and charges calculators."""

from __future__ import annotations

import pytest
from kiteconnect import KiteConnect
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


def nifty_chain(kite: KiteConnect) -> tuple[float, float, dict[tuple[str, float], str]]:
    """(NIFTY spot, the listed strike nearest it, {(CE|PE, strike): tradingsymbol} of the nearest expiry)."""
    spot = kite.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"]
    rows = [r for r in kite.instruments("NFO") if r["instrument_type"] in ("CE", "PE")]
    expiry = min(r["expiry"] for r in rows)
    chain = {(r["instrument_type"], r["strike"]): r["tradingsymbol"] for r in rows if r["expiry"] == expiry}
    atm = min((k for _, k in chain), key=lambda k: abs(k - spot))
    return spot, atm, chain


def nfo_leg(symbol: str, side: str, qty: int = 65) -> dict[str, object]:
    return {
        "exchange": "NFO",
        "tradingsymbol": symbol,
        "transaction_type": side,
        "variety": "regular",
        "product": "NRML",
        "order_type": "MARKET",
        "quantity": qty,
        "price": 0,
        "trigger_price": 0,
    }


def test_basket_margin_gives_an_iron_condor_the_hedge_benefit(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    spot, atm, chain = nifty_chain(kite)
    straddle = kite.basket_order_margins(
        [nfo_leg(chain["CE", atm], "SELL"), nfo_leg(chain["PE", atm], "SELL")]
    )
    condor_legs = [
        nfo_leg(chain["CE", atm + 100], "SELL"),
        nfo_leg(chain["PE", atm - 100], "SELL"),
        nfo_leg(chain["CE", atm + 300], "BUY"),
        nfo_leg(chain["PE", atm - 300], "BUY"),
    ]
    condor = kite.basket_order_margins(condor_legs)
    naked = straddle["initial"]["total"]
    assert 0.10 * spot * 65 <= naked <= 0.16 * spot * 65  # SPAN + exposure of a short straddle
    assert condor["initial"]["total"] < 0.45 * naked
    # without the hedge benefit the condor's legs would need far more than the straddle
    assert sum(o["total"] for o in condor["orders"]) > naked > 2 * condor["initial"]["total"]
    for basket in (straddle, condor):
        for part in ("initial", "final"):
            m = basket[part]
            assert m["total"] == pytest.approx(m["span"] + m["exposure"] + m["option_premium"], abs=0.011)
        assert len(basket["orders"]) in (2, 4) and basket["charges"]["total"] > 0
    assert condor["initial"]["span"] < 0.1 * straddle["initial"]["span"]  # 200-point wings cap the loss
    assert straddle["initial"]["exposure"] == pytest.approx(2 * 0.02 * spot * 65, abs=0.01)


def test_the_order_of_the_legs_does_not_change_the_basket_margin(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    _, atm, chain = nifty_chain(kite)
    legs = [
        nfo_leg(chain["CE", atm + 100], "SELL"),
        nfo_leg(chain["PE", atm - 100], "SELL"),
        nfo_leg(chain["CE", atm + 300], "BUY"),
        nfo_leg(chain["PE", atm - 300], "BUY"),
    ]
    totals = {
        kite.basket_order_margins(order)["initial"]["total"]
        for order in (legs, legs[::-1], legs[2:] + legs[:2], [legs[2], legs[0], legs[3], legs[1]])
    }
    assert len(totals) == 1
    # a bought call spread needs its net debit and the short leg's exposure, not a naked short's margin
    spread = kite.basket_order_margins(
        [nfo_leg(chain["CE", atm], "BUY"), nfo_leg(chain["CE", atm + 200], "SELL")]
    )
    assert spread["initial"]["span"] == 0 and 0 < spread["initial"]["option_premium"]
    assert spread["initial"]["total"] < spread["orders"][1]["total"] / 2
    with pytest.raises(kex.InputException, match="price must be a number >= 0"):
        kite.basket_order_margins([{**legs[0], "price": -5}])
