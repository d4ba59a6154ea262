"""Above NSE's freeze quantity an order goes to Kite in slices (the real kiteconnect client against the
simulator, which refuses any single F&O order above the freeze quantity as the exchange does): each slice
its own order under its own tag, the first slice placed last, answered to TRON as one order; a resting stop
in slices moves and converts as one; a delivery again after a crash completes the slices without doubling
any; a stop whose slice is refused leaves nothing half resting; brokerage is charged per slice."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_kite_adapters import TICK, adapters, intent, stop
from tests.support.kite_client import settled
from tests.support.kite_sim import KiteSimHandle, running_kite_sim
from tron.adapters.kite.broker import KiteBroker
from tron.domain.charges import fill_charges
from tron.domain.live import Guardrails
from tron.domain.models import Asset, Instrument, OrderIntent, Purpose, Side, slice_tag
from tron.domain.money import to_tick
from tron.ports import OrderRejected, order_ids

RAILS = Guardrails(freeze_qty={"NIFTY": 1800})
LOTS = 56  # 3,640 of a 65 lot: slices of 1,755, 1,755 and 130


@pytest.fixture
def ks() -> Iterator[KiteSimHandle]:
    with running_kite_sim(symbols=10) as handle:
        yield handle


def option(broker: KiteBroker, ks: KiteSimHandle) -> tuple[Instrument, float]:
    """A liquid NIFTY option (₹100–200: 56 lots within the simulated account's funds) and its last price."""
    opts = [i for i in ks.market.instruments(Asset.OPTIONS) if i.symbol.startswith("NIFTY")]
    quotes = ks.market.snapshot([o.symbol for o in opts]).quotes
    opt = next(o for o in opts if 100 < quotes[o.symbol].last < 200)
    return opt, quotes[opt.symbol].last


def entry(opt: Instrument, qty: int, **kw: Any) -> OrderIntent:
    it = intent(opt.symbol, qty, exchange="NFO", asset=Asset.OPTIONS, **kw)
    return replace(it, segment="options", lot=opt.lot_size)


def at_kite(broker: KiteBroker, symbol: str) -> list[dict[str, Any]]:
    return [o for o in broker.orders() if o["tradingsymbol"] == symbol]


def test_an_order_above_the_freeze_quantity_goes_in_slices_answered_as_one(ks: KiteSimHandle) -> None:
    _, _, plain = adapters(ks)
    _, _, broker = adapters(ks, slices=RAILS.slices)
    opt, _ = option(broker, ks)
    it = entry(opt, LOTS * opt.lot_size)
    with pytest.raises(OrderRejected, match="freeze"):  # one order above the freeze quantity: refused
        plain.place(it)

    o = broker.place(it)
    assert (o.status, o.filled_qty, o.tag) == ("COMPLETE", 3640, it.tag)
    sent = at_kite(broker, opt.symbol)
    rows = {x["order_id"]: x for x in sent if x["status"] == "COMPLETE"}
    assert set(order_ids(o.order_id)) == set(rows)
    assert sorted(rows[i]["quantity"] for i in order_ids(o.order_id)) == [130, 1755, 1755]
    assert [rows[i]["tag"] for i in order_ids(o.order_id)] == [slice_tag(it.tag, k) for k in range(3)]
    assert [q for q, _ in o.parts] == [1755, 1755, 130]
    assert o.avg_price == to_tick(o.avg_price, Decimal("0.01"))
    # brokerage per executed order: three ₹20 of the options segment, not one
    assert fill_charges("options", Side.BUY, o.executed, it.day).brokerage == Decimal("60.00")

    # delivered again: the slices at Kite are adopted, none placed twice; found again as one by its tag
    again = broker.place(it)
    assert again.order_id == o.order_id and len(at_kite(broker, opt.symbol)) == len(sent)
    found = broker.find_by_tag(it.day, it.tag)
    assert found is not None and (found.order_id, found.filled_qty) == (o.order_id, 3640)
    assert [x.order_id for x in broker.orders_with_tag(it.day, it.tag)] == [o.order_id]  # no "duplicate"
    assert {p.symbol: p.quantity for p in broker.positions()}[opt.symbol] == 3640


def test_a_stop_in_slices_rests_moves_and_converts_as_one(ks: KiteSimHandle) -> None:
    _, _, broker = adapters(ks, slices=RAILS.slices)
    opt, ltp = option(broker, ks)
    qty = LOTS * opt.lot_size
    assert broker.place(entry(opt, qty)).status == "COMPLETE"
    trigger = float(to_tick(ltp * 0.9, TICK))
    kw: dict[str, Any] = {"exchange": "NFO", "asset": Asset.OPTIONS, "qty": qty}
    protect = replace(
        stop(trigger, opt.symbol, order_type="SL", limit=float(to_tick(trigger * 0.95, TICK)), **kw),
        lot=opt.lot_size,
    )
    rest = broker.place(protect)
    assert (rest.status, rest.filled_qty, len(order_ids(rest.order_id))) == ("TRIGGER PENDING", 0, 3)
    assert broker.order_states(protect.day, [rest.order_id])[rest.order_id].status == "TRIGGER PENDING"

    higher = float(to_tick(ltp * 0.92, TICK))
    trail = replace(protect, purpose=Purpose.TRAIL, trigger=higher, limit=float(to_tick(higher * 0.95, TICK)))
    moved = broker.modify(rest.order_id, trail)
    assert moved.order_id == rest.order_id and moved.status == "TRIGGER PENDING"
    legs = {x["order_id"]: x for x in at_kite(broker, opt.symbol)}
    assert [(legs[i]["trigger_price"], legs[i]["quantity"]) for i in order_ids(rest.order_id)] == [
        (higher, 1755),
        (higher, 1755),
        (higher, 130),
    ]

    exit_ = entry(opt, qty, side=Side.SELL, purpose=Purpose.EXIT)
    out = broker.convert(rest.order_id, exit_)
    assert (out.order_id, out.status, out.filled_qty) == (rest.order_id, "COMPLETE", qty)
    assert {p.symbol: p.quantity for p in broker.positions()}[opt.symbol] == 0
    assert len(at_kite(broker, opt.symbol)) == 6  # three entry slices, three stop slices: no second exit


def test_a_delivery_after_a_crash_between_slices_completes_them_without_doubling(ks: KiteSimHandle) -> None:
    _, _, broker = adapters(ks, slices=RAILS.slices)
    opt, _ = option(broker, ks)
    it = entry(opt, LOTS * opt.lot_size)
    kite = ks.client()
    # the earlier delivery placed the second slice, then died: the intent's own tag is not at Kite yet
    first = kite.place_order(
        variety="regular", exchange="NFO", tradingsymbol=opt.symbol, transaction_type="BUY", quantity=1755,
        product="MIS", order_type="MARKET", market_protection=-1, tag=slice_tag(it.tag, 1),
    )  # fmt: skip
    settled(kite, first)
    assert broker.find_by_tag(it.day, it.tag) is None  # not whole: the executor places it, which completes it
    o = broker.place(it)
    assert (o.status, o.filled_qty) == ("COMPLETE", 3640) and order_ids(o.order_id)[1] == first
    assert len(at_kite(broker, opt.symbol)) == 3


def test_a_stop_slice_refused_leaves_no_slice_resting(ks: KiteSimHandle) -> None:
    _, _, broker = adapters(ks, slices=RAILS.slices)
    opt, ltp = option(broker, ks)
    qty = LOTS * opt.lot_size
    assert broker.place(entry(opt, qty)).status == "COMPLETE"
    trigger = float(to_tick(ltp * 0.9, TICK))
    protect = replace(
        stop(trigger, opt.symbol, order_type="SL", limit=float(to_tick(trigger * 0.95, TICK)), exchange="NFO",
             asset=Asset.OPTIONS, qty=qty),
        lot=opt.lot_size,
    )  # fmt: skip
    send, sends = broker._send, iter(range(10))

    def refuse_the_second(it: OrderIntent, params: dict[str, Any]) -> tuple[str, bool]:
        if next(sends) == 1:  # Kite's RMS refuses the second slice sent
            ks.sim.fail_next("/orders", "InputException", 400, "Margin exceeds", method="POST")
        return send(it, params)

    broker._send = refuse_the_second  # type: ignore[method-assign]
    out = broker.place(protect)
    assert (out.status, out.filled_qty) == ("REJECTED", 0) and "slice 3 of 3 refused" in out.message
    states = {
        x["order_id"]: settled(ks.client(), x["order_id"])["status"] for x in at_kite(broker, opt.symbol)
    }
    assert "TRIGGER PENDING" not in states.values()  # the slice that rested was cancelled
    assert list(states.values()).count("CANCELLED") == 1
