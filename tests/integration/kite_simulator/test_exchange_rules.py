"""The segment rules of stops and protected orders, through the real client: SL-M refused for options, the SL
trigger-to-limit gap, LPP on SL limits and on the limit a protected MARKET order becomes, and what a
modification may not do (LIMIT → stop, a trigger already crossed, a gap too wide)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tests.support.kite_client import last, place
from tests.support.kite_sim import KiteSimHandle, running_kite_sim


def tick(x: float) -> float:
    return round(round(x / 0.05) * 0.05, 2)


def nfo(kite: KiteConnect, kind: str, near: float | None = None) -> tuple[str, float]:
    """A NIFTY contract (FUT, or the CE/PE nearest to `near`) and its last price."""
    rows = [r for r in kite.instruments("NFO") if r["instrument_type"] == kind]
    row = min(rows, key=lambda r: abs(r["strike"] - near)) if near else rows[0]
    symbol = row["tradingsymbol"]
    return symbol, kite.ltp(f"NFO:{symbol}")[f"NFO:{symbol}"]["last_price"]


def place_nfo(kite: KiteConnect, symbol: str, qty: int = 65, **kw: object) -> str:
    return place(kite, symbol, qty=qty, exchange="NFO", **kw)


def test_slm_is_refused_for_options_and_sl_is_the_option_stop(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    spot = kite.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"]
    ce, premium = nfo(kite, "CE", spot)
    with pytest.raises(kex.InputException, match="SL-M orders are not allowed for option contracts") as e:
        place_nfo(kite, ce, side="SELL", order_type="SL-M", trigger_price=tick(premium * 0.8))
    assert e.value.code == 400 and kite.orders() == []
    place_nfo(kite, ce)  # long a lot, then its stop as an SL with the limit 10% below the trigger
    sl = place_nfo(
        kite, ce, side="SELL", order_type="SL", trigger_price=tick(premium * 0.8), price=tick(premium * 0.72)
    )
    assert last(kite, sl)["status"] == "TRIGGER PENDING"


def test_an_sl_limit_beyond_the_exchanges_gap_is_rejected(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ltp = kite.ltp("NSE:INFY")["NSE:INFY"]["last_price"]
    trigger = tick(ltp * 0.95)
    wide = place(kite, qty=1, side="SELL", order_type="SL", trigger_price=trigger, price=tick(trigger * 0.96))
    done = last(kite, wide)  # 4% below the trigger: equity allows 3%
    assert done["status"] == "REJECTED" and "too far from the trigger" in done["status_message"]
    ok = place(kite, qty=1, side="SELL", order_type="SL", trigger_price=trigger, price=tick(trigger * 0.975))
    assert last(kite, ok)["status"] == "TRIGGER PENDING"
    spot = kite.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"]
    pe, premium = nfo(kite, "PE", spot)
    opt_trigger = tick(premium * 0.9)  # a limit 25% below it: inside LPP (±40%), outside the 20% gap
    far = place_nfo(
        kite, pe, side="SELL", order_type="SL", trigger_price=opt_trigger, price=tick(opt_trigger * 0.75)
    )
    assert "too far from the trigger" in last(kite, far)["status_message"]  # options allow 20%


def test_lpp_bounds_sl_limits_and_the_limit_a_protected_market_order_becomes() -> None:
    with running_kite_sim(capital=Decimal("100000000")) as ks:
        kite = ks.client()
        fut, ltp = nfo(kite, "FUT")
        # a buy stop on the future whose limit is 4% above the last price: outside the ±3% LPP band
        trigger = tick(ltp * 1.005)
        out = place_nfo(kite, fut, order_type="SL", trigger_price=trigger, price=tick(ltp * 1.04))
        assert last(kite, out)["status"] == "REJECTED"
        # a MARKET buy with 10% protection: Kite makes it a LIMIT inside the band, not 10% away
        market = place_nfo(kite, fut, market_protection=10)
        o = last(kite, market)
        assert o["order_type"] == "LIMIT" and o["price"] <= tick(ltp * 1.03) + 0.05


def test_modifications_keep_to_the_same_rules(kite_sim: KiteSimHandle) -> None:
    kite = kite_sim.client()
    ltp = kite.ltp("NSE:TCS")["NSE:TCS"]["last_price"]
    limit = place(kite, "TCS", qty=1, order_type="LIMIT", price=tick(ltp * 0.95))
    for order_type in ("SL", "SL-M"):
        with pytest.raises(kex.InputException, match="cannot be modified into a stop-loss"):
            kite.modify_order("regular", limit, order_type=order_type, trigger_price=tick(ltp * 0.96))
    place(kite, "TCS", qty=2)
    stop = place(
        kite,
        "TCS",
        qty=2,
        side="SELL",
        order_type="SL",
        trigger_price=tick(ltp * 0.97),
        price=tick(ltp * 0.96),
    )
    with pytest.raises(kex.InputException, match="should be lower than the last traded price"):
        kite.modify_order("regular", stop, trigger_price=tick(ltp * 1.02))  # already crossed: refused
    with pytest.raises(kex.InputException, match="too far from the trigger"):
        kite.modify_order("regular", stop, price=tick(ltp * 0.90))  # a 7% gap: refused
    kite.modify_order("regular", stop, trigger_price=tick(ltp * 0.98), price=tick(ltp * 0.97))  # trailing
    after = last(kite, stop)  # once the modification has passed (asynchronously)
    assert after["status"] == "TRIGGER PENDING" and after["trigger_price"] == tick(ltp * 0.98)
    assert [h["status"] for h in kite.order_history(stop)][-4:] == [
        "MODIFY VALIDATION PENDING",
        "MODIFY PENDING",
        "MODIFIED",
        "TRIGGER PENDING",
    ]
