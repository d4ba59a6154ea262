"""tron.domain.live: an arming arms its own day only, and the guardrails refuse entries (never exits) with
the reason recorded."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.support.days import TRADING_DAY, at
from tests.support.domain import stock_intent
from tron.domain.live import Guardrails, LiveArm, arming_refusal
from tron.domain.models import Asset, Instrument, OrderIntent, Purpose, Side

ARM = LiveArm(TRADING_DAY, "first live day", "asha", at(8, 30))


def test_an_arming_arms_its_day_only() -> None:
    doc = ARM.to_doc()
    assert arming_refusal(doc, TRADING_DAY) is None
    assert "expired" in (arming_refusal(doc, TRADING_DAY + timedelta(days=1)) or "")
    assert "another day" in (arming_refusal(doc, TRADING_DAY - timedelta(days=1)) or "")
    assert "no control/live_arm" in (arming_refusal(None, TRADING_DAY) or "")
    gone = replace(ARM, disarmed=True, reason="broker outage").to_doc()
    assert "disarmed by asha" in (arming_refusal(gone, TRADING_DAY) or "")


@pytest.mark.parametrize(
    "doc",
    [
        [],
        "armed",
        {},
        {**ARM.to_doc(), "date": "tomorrow"},
        {**ARM.to_doc(), "reason": "  "},
        {**ARM.to_doc(), "by": ""},
        {**ARM.to_doc(), "at": "2026-11-23T08:30:00"},  # no timezone
        {**ARM.to_doc(), "disarmed": "no"},
        {k: v for k, v in ARM.to_doc().items() if k != "at"},
    ],
)
def test_a_malformed_arming_never_arms(doc: object) -> None:
    assert (arming_refusal(doc, TRADING_DAY) or "").startswith("not armed: ")


def test_the_stored_form_round_trips() -> None:
    assert LiveArm.from_doc(ARM.to_doc()) == ARM


ENTRY = replace(stock_intent(Side.BUY, 10, Purpose.ENTRY, "RELIANCE"), price=2500.0)
NIFTY_CALL = replace(
    ENTRY, symbol="NIFTY26DEC24500CE", exchange="NFO", asset=Asset.OPTIONS, lot=65, price=120.0
)
EXIT = stock_intent(Side.SELL, 10_000, Purpose.EXIT, "WIPRO")


@pytest.mark.parametrize(
    ("rails", "intent", "orders", "why"),
    [
        (Guardrails(allowlist={"stocks": frozenset({"INFY"})}), ENTRY, 0, "not on the stocks allowlist"),
        (Guardrails(max_order_qty={"equity_intraday": 5}), ENTRY, 0, "above the equity_intraday cap of 5"),
        (
            Guardrails(max_order_value={"equity_intraday": Decimal("20000")}),
            ENTRY,
            0,
            "order value ₹25,000.00 is above",
        ),
        (Guardrails(max_orders_per_day=40), ENTRY, 40, "the day's 40 orders are used"),
        (
            Guardrails(freeze_qty={"NIFTY": 1800}),
            replace(NIFTY_CALL, qty=271 * 65),
            0,
            "above 10 slices of NIFTY's freeze quantity 1800",
        ),
    ],
)
def test_guardrails_refuse_entries_with_the_reason(
    rails: Guardrails, intent: OrderIntent, orders: int, why: str
) -> None:
    assert why in (rails.refusal(intent, orders) or "")


def test_within_the_guardrails_an_entry_passes() -> None:
    rails = Guardrails(
        allowlist={"stocks": frozenset({"RELIANCE"})},
        max_order_qty={"equity_intraday": 10},
        max_order_value={"equity_intraday": Decimal("25000")},
        freeze_qty={"NIFTY": 1800},
        max_orders_per_day=40,
    )
    assert rails.refusal(ENTRY, 39) is None
    nifty_next = replace(ENTRY, symbol="NIFTYNXT5026DECFUT", exchange="NFO", qty=1900)
    assert Guardrails(freeze_qty={"NIFTY": 1800}).refusal(nifty_next, 0) is None  # another underlying


def test_exits_stops_and_trails_are_never_refused() -> None:
    rails = Guardrails(
        allowlist={"stocks": frozenset()},
        max_order_qty={"equity_intraday": 1},
        max_order_value={"equity_intraday": Decimal("1")},
        max_orders_per_day=1,
    )
    for purpose in (Purpose.EXIT, Purpose.SQUARE_OFF, Purpose.PROTECT, Purpose.TRAIL):
        assert rails.refusal(replace(EXIT, purpose=purpose), 5) is None


def test_above_the_freeze_quantity_an_order_goes_in_slices_of_whole_lots() -> None:
    rails = Guardrails(freeze_qty={"NIFTY": 1800})
    assert rails.slices(replace(NIFTY_CALL, qty=1755)) == [1755]  # 27 lots: at or under 1,800
    assert rails.slices(replace(NIFTY_CALL, qty=56 * 65)) == [1755, 1755, 130]  # whole lots, the rest last
    assert rails.slices(replace(NIFTY_CALL, qty=270 * 65)) == [1755] * 10  # Kite's most: 10 slices
    assert rails.refusal(replace(NIFTY_CALL, qty=270 * 65), 0) is None
    with pytest.raises(ValueError, match="above 10 slices"):
        rails.slices(replace(NIFTY_CALL, qty=271 * 65))
    exit_ = replace(NIFTY_CALL, qty=271 * 65, side=Side.SELL, purpose=Purpose.EXIT)
    assert rails.slices(exit_) == [1755] * 10 + [65]  # an exit is never refused for its size
    with pytest.raises(ValueError, match="lots of 2000"):  # a lot above the freeze quantity: never sliceable
        Guardrails(freeze_qty={"NIFTY": 1800}).slices(replace(NIFTY_CALL, qty=4000, lot=2000))
    assert rails.slices(replace(ENTRY, qty=50_000)) == [50_000]  # equity: no freeze quantity
    assert rails.slices(replace(EXIT, qty=10_000)) == [10_000]


def test_entries_are_sized_under_ten_slices_of_the_freeze_quantity() -> None:
    inst = Instrument("NIFTY26DEC24500CE", "NFO", Asset.OPTIONS, lot_size=65, segment="options")
    assert Guardrails(freeze_qty={"NIFTY": 1800}).qty_cap(inst, 120.0) == 17_550
    assert Guardrails().qty_cap(inst, 120.0) is None


def test_each_slice_counts_against_the_days_orders() -> None:
    rails = Guardrails(freeze_qty={"NIFTY": 1800}, max_orders_per_day=40)
    three = replace(NIFTY_CALL, qty=56 * 65)
    assert rails.orders(three) == 3 and rails.orders(ENTRY) == 1
    assert rails.refusal(three, 37) is None
    assert "the day's 40 orders are used" in (rails.refusal(three, 38) or "")
