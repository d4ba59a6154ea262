"""Kite's asynchronous order lifecycle through the real client: an order passes its statuses after the
request was answered, a new order is missing from the order book for a moment, a cancel can lose the race to
a fill, a modification passes its own statuses; `synchronous` takes them all inside the request."""

from __future__ import annotations

import time
from decimal import Decimal

from tests.support.kite_client import listed, place, settled
from tests.support.kite_sim import running_kite_sim
from tron.domain.models import Asset
from tron.sim.kite.lifecycle import LifecycleSettings


def statuses(kite, oid: str) -> list[str]:
    return [h["status"] for h in kite.order_history(oid)]


def test_an_order_passes_its_statuses_after_the_answer() -> None:
    with running_kite_sim(symbols=10) as ks:
        kite = ks.client()
        oid = place(kite, "AXISBANK", qty=1, settle=False)
        assert statuses(kite, oid) == ["PUT ORDER REQ RECEIVED"]  # answered before anything was checked
        assert kite.orders() == []  # not listed yet
        settled(kite, oid)
        assert statuses(kite, oid) == [
            "PUT ORDER REQ RECEIVED",
            "VALIDATION PENDING",
            "OPEN PENDING",
            "OPEN",
            "COMPLETE",
        ]
        assert [o["order_id"] for o in listed(kite)] == [oid]
        rejected = place(kite, "AXISBANK", qty=1, side="SELL", product="CNC", settle=False)  # no holdings
        assert statuses(kite, rejected) == ["PUT ORDER REQ RECEIVED"]  # the RMS rejection comes later
        assert settled(kite, rejected)["status"] == "REJECTED"


def test_a_cancel_is_pending_and_can_lose_the_race_to_a_fill() -> None:
    with running_kite_sim(symbols=10, lifecycle=LifecycleSettings(stage_s=0.3)) as ks:
        kite = ks.client()
        # a buy limit at a symbol's later low: it rests now and fills when the price gets there
        d, j = ks.sim.now_minute()

        def deepest(symbol: str) -> tuple[Decimal, int, Decimal, str]:
            inst = ks.sim.catalog().by_key[f"NSE:{symbol}"]
            low, when = min((ks.sim.view.book(inst, d, m).bar_low, m) for m in range(j + 1, 370))
            ltp = Decimal(str(kite.ltp(f"NSE:{symbol}")[f"NSE:{symbol}"]["last_price"]))
            return (low - ltp) / ltp, when, low, symbol

        _, when, low, symbol = min(deepest(i.symbol) for i in ks.market.instruments(Asset.STOCKS))
        price = float(low + Decimal("0.10"))
        resting = place(kite, symbol, qty=1, order_type="LIMIT", price=price)
        assert settled(kite, resting)["status"] == "OPEN"
        kite.cancel_order("regular", resting)
        assert statuses(kite, resting)[-1] == "CANCEL PENDING"
        ks.advance(minutes=when - j)  # the price reaches the limit before the cancel lands
        assert kite.order_history(resting)[-1]["status"] == "COMPLETE"
        time.sleep(0.4)
        assert settled(kite, resting)["status"] == "COMPLETE"  # Kite keeps the fill; the cancel came too late
        other = place(kite, symbol, qty=1, order_type="LIMIT", price=float(low - Decimal(20)))
        kite.cancel_order("regular", other)
        assert settled(kite, other, timeout=3)["status"] == "CANCELLED"
        assert statuses(kite, other)[-2:] == ["CANCEL PENDING", "CANCELLED"]


def test_a_modification_passes_its_own_statuses() -> None:
    with running_kite_sim(symbols=10) as ks:
        kite = ks.client()
        ltp = kite.ltp("NSE:AXISBANK")["NSE:AXISBANK"]["last_price"]
        oid = place(
            kite, "AXISBANK", qty=1, order_type="LIMIT", price=round(round(ltp * 0.9 / 0.05) * 0.05, 2)
        )
        kite.modify_order("regular", oid, quantity=2)
        assert statuses(kite, oid)[-1] == "MODIFY VALIDATION PENDING"  # answered before it applies
        assert settled(kite, oid)["quantity"] == 2
        assert statuses(kite, oid)[-4:] == ["MODIFY VALIDATION PENDING", "MODIFY PENDING", "MODIFIED", "OPEN"]


def test_synchronous_takes_every_stage_inside_the_request() -> None:
    with running_kite_sim(symbols=10, lifecycle=LifecycleSettings(synchronous=True)) as ks:
        kite = ks.client()
        oid = place(kite, "AXISBANK", qty=1, settle=False)
        assert statuses(kite, oid)[-1] == "COMPLETE" and [o["order_id"] for o in kite.orders()] == [oid]
