"""tron.domain.drift and the decision's use of it: the book against the broker's own positions each tick;
a difference freezes entries on the symbol, is reported once (and once when it ends), and clamps every exit
to what the broker holds, so an exit never crosses zero."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from tests.support.days import at
from tests.support.domain import q, stock_intent
from tron.domain import drift
from tron.domain.book import Book
from tron.domain.context import Pending, TickContext
from tron.domain.decide import decide, exits_for
from tron.domain.models import Asset, Instrument, Purpose, Side, Snapshot
from tron.domain.plan import AssetPlan, StrategyChoice
from tron.domain.risk import RiskLimits
from tron.domain.session import SessionState
from tron.domain.strategies import Signal

DAY = date(2026, 11, 23)
SYMBOLS = ("A", "B")


def book(**held: int) -> Book:
    b = Book()
    for s, qty in held.items():
        it = stock_intent(Side.BUY if qty > 0 else Side.SELL, abs(qty), Purpose.ENTRY, sym=s)
        b.apply_fill(it, abs(qty), Decimal("100"), Decimal(0), at(10, 0).isoformat())
    return b


def ctx(b: Book, broker: dict[str, int] | None, **kw: Any) -> TickContext:
    st = SessionState.new(list(SYMBOLS))
    st.apply(Snapshot(at(10, 0), {s: q(s, at(10, 0), 100, 0) for s in SYMBOLS}))
    snap = Snapshot(at(10, 1), {s: q(s, at(10, 1), 100.2, 100) for s in SYMBOLS})
    plan = AssetPlan(Asset.STOCKS, True, (StrategyChoice("orb"),), RiskLimits())
    return TickContext(
        Asset.STOCKS,
        DAY,
        snap.ts,
        plan,
        None,
        {s: Instrument(s, "NSE", Asset.STOCKS) for s in SYMBOLS},
        st,
        b,
        kw.pop("pending", {}),
        snap,
        broker_qty=broker,
        **kw,
    )


def test_the_book_and_the_broker_agreeing_is_no_drift() -> None:
    assert drift.compare(ctx(book(A=10), {"A": 10})) == {}
    assert drift.compare(ctx(book(), {})) == {}


@pytest.mark.parametrize(
    ("held", "broker", "want"),
    [
        ({"A": 10}, {"A": 13}, {"A": (10, 13)}),  # a manual buy on top of TRON's
        ({"A": 10}, {}, {"A": (10, 0)}),  # closed outside TRON (the Kite app, the broker's square-off)
        ({}, {"B": 5}, {"B": (0, 5)}),  # a position on a symbol TRON trades, not TRON's
        ({"A": -4}, {"A": 4}, {"A": (-4, 4)}),  # the other side
    ],
)
def test_a_difference_on_a_symbol_of_the_asset_is_drift(
    held: dict[str, int], broker: dict[str, int], want: dict[str, tuple[int, int]]
) -> None:
    assert drift.compare(ctx(book(**held), broker)) == want


def test_symbols_with_an_order_in_flight_and_other_assets_symbols_are_not_compared() -> None:
    """An exit in flight may be filled at the broker and not yet booked; a symbol the asset does not trade
    is another asset's (or a holding) and none of this tick's business."""
    pending = {"x": Pending("x", "A", Purpose.EXIT)}
    assert drift.compare(ctx(book(A=10), {"A": 0, "NIFTY26DECFUT": 75}, pending=pending)) == {}
    before = {"A": (10, 13)}
    kept = ctx(book(A=10), {"A": 0}, pending=pending, drift=before)
    assert drift.compare(kept) == before  # kept as it was until the symbol is quiet again


def test_without_a_broker_read_the_drift_seen_so_far_stands() -> None:
    before = {"A": (10, 13)}
    assert drift.compare(ctx(book(A=10), None, drift=before)) == before


@pytest.mark.parametrize(
    ("book_qty", "broker_qty", "want"),
    [(10, 13, 10), (10, 4, 4), (10, 0, 0), (10, -3, 0), (-6, -2, 2), (-6, 5, 0)],
)
def test_an_exit_is_clamped_to_the_broker_and_never_crosses_zero(
    book_qty: int, broker_qty: int, want: int
) -> None:
    assert drift.clamp(book_qty, broker_qty) == want


def test_drift_is_reported_once_then_once_when_it_ends() -> None:
    c = ctx(book(A=10), {"A": 13})
    first = decide(c)
    assert [
        (e["event"], e["symbol"], e["book"], e["broker"]) for e in first.events if "drift" in e["event"]
    ] == [("drift", "A", 10, 13)]
    again = ctx(book(A=10), {"A": 13}, drift=c.drift)
    assert not [e for e in decide(again).events if "drift" in e["event"]]
    over = ctx(book(A=10), {"A": 10}, drift=again.drift)
    assert [e["event"] for e in decide(over).events if "drift" in e["event"]] == ["drift_resolved"]
    assert over.drift == {}


def test_the_square_off_closes_only_what_the_broker_holds() -> None:
    """The book holds 10 A and 6 B; the broker 4 A (part was closed in the Kite app) and B short (a manual
    sell): A exits 4, B sends nothing that would open more of a short."""
    c = ctx(book(A=10, B=6), {"A": 4, "B": -2})
    decide(c)
    out = exits_for(c, {}, Purpose.SQUARE_OFF, only={"A", "B"}, reason="square-off")
    assert [(i.symbol, i.side, i.qty) for i in out] == [("A", Side.SELL, 4)]


def test_no_entry_on_a_symbol_in_drift() -> None:
    sig = Signal("B", Side.BUY, 0.9, "orb", "breakout", 100.2, 0.5)
    c = ctx(book(), {"B": 5})
    with mock.patch("tron.domain.decide.strategies.evaluate", return_value=[sig]):
        d = decide(c)
    assert d.intents == []
    refused = [e for e in d.events if e["event"] == "entry_refused"]
    assert refused and refused[0]["reason"] == "the broker's position differs from the book"


def test_no_entry_on_a_symbol_frozen_at_the_open() -> None:
    """plan_day's open check froze B (an order TRON did not place works on it): entries on it are refused
    with that reason all day, and an entry on A still goes."""
    signals = [Signal(s, Side.BUY, 0.9, "orb", "breakout", 100.2, 0.5) for s in ("A", "B")]
    c = ctx(book(), {})
    c.frozen = {"B": "order 42 TRON did not place works on it at the open"}
    with mock.patch("tron.domain.decide.strategies.evaluate", return_value=signals):
        d = decide(c)
    assert [i.symbol for i in d.intents] == ["A"]
    refused = [e for e in d.events if e["event"] == "entry_refused"]
    assert [(e["symbol"], e["reason"]) for e in refused] == [("B", c.frozen["B"])]


def test_an_order_of_anothers_working_on_a_symbol_is_reported_once_and_stops_entries() -> None:
    """A manual limit order working on B (read this tick): one ERROR event, entries on B refused while it
    works; a tick whose read failed keeps it; once it no longer works, one event says so and B trades."""
    signals = [Signal("B", Side.BUY, 0.9, "orb", "breakout", 100.2, 0.5)]
    c = ctx(book(), {})
    c.working = {"B": "order 7 TRON did not place is open"}
    with mock.patch("tron.domain.decide.strategies.evaluate", return_value=signals):
        first = decide(c)
        assert [e["event"] for e in first.events if e["event"].startswith("foreign")] == ["foreign_order"]
        assert first.intents == [] and c.foreign == {"B": "order 7 TRON did not place is open"}
        c.working = None  # not read this tick: what was seen stands, and is not reported again
        again = decide(c)
        assert again.intents == [] and not [e for e in again.events if e["event"].startswith("foreign")]
        c.working = {}
        gone = decide(c)
    assert [e["event"] for e in gone.events if e["event"].startswith("foreign")] == ["foreign_order_gone"]
    assert [i.symbol for i in gone.intents] == ["B"] and c.foreign == {}
