"""tron.services.stops: a position's stop resting at the broker — placed once (execute_protect), moved by a
trail (execute_trail), and its fill at the broker booked once as the protect intent's fill (sync_stops).

Each test seeds the embedded store with the book and intent documents the executor would have written, and
puts a scripted broker in the deps, so every broker answer is the one the rule is about."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import TRADING_DAY, at, embedded_deps
from tron.domain.book import Book
from tron.domain.charges import AUTO_SQUARE_OFF_FEE, order_charges
from tron.domain.models import (
    Asset,
    IntentState,
    OrderIntent,
    Position,
    Purpose,
    RestingStop,
    Side,
)
from tron.domain.order_rules import MAX_MODIFICATIONS
from tron.domain.protect import protect_intent
from tron.ports import BrokerOrder, ExternalFill, OrderRejected
from tron.services.claims import advanced, intent_doc
from tron.services.deps import Deps
from tron.services.execute_order import execute_order
from tron.services.messages import order_message
from tron.services.paths import book_path, intent_path
from tron.services.stops import execute_protect, execute_trail, settle_drift, sync_stops

DAY = TRADING_DAY
SYMBOL = "RELIANCE"
NOW = at(10, 0)
QTY = 10
AVG = Decimal("2500.00")
STOP = 2480.0
ORDER_ID = "ORD1"


# ---------------------------------------------------------------------------------------------- fakes
@dataclass
class FakeBroker:
    """A broker that answers as scripted and records every call (name and arguments)."""

    placed: BrokerOrder | OrderRejected | None = None  # place's answer (None: the stop rests as ORD1)
    found: BrokerOrder | None = None  # find_by_tag's answer
    states: dict[str, BrokerOrder] = field(default_factory=dict)  # order_states' answers by order id
    refuse_modify: str | None = None  # modify raises OrderRejected with this message
    refuse_cancel: str | None = None  # cancel raises OrderRejected with this message
    while_placing: Callable[[], None] | None = None  # runs inside place (the world moving meanwhile)
    external: list[ExternalFill] = field(default_factory=list)  # external_fills' answer
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == name]

    def place(self, intent: OrderIntent) -> BrokerOrder:
        self.calls.append(("place", intent))
        if self.while_placing is not None:
            self.while_placing()
        if isinstance(self.placed, OrderRejected):
            raise self.placed
        return self.placed or order(ORDER_ID, "TRIGGER PENDING", tag=intent.tag)

    def modify(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        self.calls.append(("modify", order_id, intent))
        if self.refuse_modify is not None:
            raise OrderRejected(self.refuse_modify)
        return order(order_id, "TRIGGER PENDING", tag=intent.tag)

    def convert(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        raise AssertionError("the stops service never converts a stop")

    def order_states(self, day: Any, order_ids: list[str]) -> dict[str, BrokerOrder]:
        self.calls.append(("order_states", day, list(order_ids)))
        return {i: self.states[i] for i in order_ids if i in self.states}

    def find_by_tag(self, day: Any, tag: str) -> BrokerOrder | None:
        self.calls.append(("find_by_tag", day, tag))
        return self.found

    def orders_with_tag(self, day: Any, tag: str) -> list[BrokerOrder]:
        self.calls.append(("orders_with_tag", day, tag))
        return [] if self.found is None else [self.found]

    def cancel(self, order_id: str) -> str:
        self.calls.append(("cancel", order_id))
        if self.refuse_cancel is not None:
            raise OrderRejected(self.refuse_cancel)
        return order_id

    def external_fills(self, day: Any) -> list[ExternalFill]:
        self.calls.append(("external_fills", day))
        return list(self.external)

    def preflight(self) -> str | None:
        return None


def order(
    order_id: str, status: str, filled: int = 0, price: str = "0", tag: str = "T", message: str = ""
) -> BrokerOrder:
    return BrokerOrder(order_id, tag, status, filled, Decimal(price), NOW, message)


# ---------------------------------------------------------------------------------------------- seeding
def entry() -> OrderIntent:
    return OrderIntent(
        intent_id=f"{DAY:%Y%m%d}-stocks-orb-{SYMBOL}-entry-0959",
        day=DAY,
        asset=Asset.STOCKS,
        symbol=SYMBOL,
        exchange="NSE",
        side=Side.BUY,
        qty=QTY,
        purpose=Purpose.ENTRY,
        strategy="orb",
        reason="test entry",
        decided_at=at(9, 59),
        stop=STOP,
        target=2540.0,
    )


def position(**kw: Any) -> Position:
    base = Position(SYMBOL, QTY, AVG, "orb", at(9, 59).isoformat(), stop=STOP, target=2540.0)
    return replace(base, **kw)


def the_protect() -> OrderIntent:
    p = protect_intent(entry(), position(), at(9, 59))
    assert p is not None and p.trigger == STOP and p.order_type == "SL-M" and p.side is Side.SELL
    return p


def trail(trigger: float) -> OrderIntent:
    return replace(
        the_protect(),
        intent_id=f"{DAY:%Y%m%d}-stocks-orb-{SYMBOL}-trail-0959",
        purpose=Purpose.TRAIL,
        reason=f"trail to {trigger}",
        decided_at=NOW,
        trigger=trigger,
    )


def resting(**kw: Any) -> RestingStop:
    base = RestingStop(the_protect().intent_id, ORDER_ID, "SL-M", STOP, QTY, at(9, 59).isoformat())
    return replace(base, **kw)


def put_book(deps: Deps, *positions: Position, **kw: Any) -> None:
    book = Book(positions={p.symbol: p for p in positions}, **kw)
    deps.store.set(book_path(DAY.isoformat(), Asset.STOCKS), book.to_doc())


def put_intent(deps: Deps, intent: OrderIntent, state: IntentState, **extra: Any) -> None:
    doc = intent_doc(intent, at(9, 59))
    if state is not IntentState.CLAIMED:
        doc = {**advanced(doc, state, at(9, 59)), **extra}
    deps.store.set(intent_path(DAY.isoformat(), intent.intent_id), doc)


def book(deps: Deps) -> Book:
    return Book.from_doc(deps.store.get(book_path(DAY.isoformat(), Asset.STOCKS)))


def intent_of(deps: Deps, intent: OrderIntent) -> dict[str, Any]:
    doc = deps.store.get(intent_path(DAY.isoformat(), intent.intent_id))
    assert doc is not None
    return doc


def held(deps: Deps) -> dict[str, Position]:
    return book(deps).positions


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


@pytest.fixture
def deps(tmp_path: Path, broker: FakeBroker) -> Deps:
    d = embedded_deps(tmp_path)
    d.broker = broker
    return d


@pytest.fixture
def protecting(deps: Deps) -> OrderIntent:
    """A position just opened whose protect intent the entry's fill claimed (the stop not yet resting),
    the intent taken by the executor (placing)."""
    p = the_protect()
    put_book(deps, position(protecting=p.intent_id), orders_filled=1, entries=1)
    put_intent(deps, p, IntentState.PLACING, placing_since=NOW.isoformat(), attempts=1)
    return p


@pytest.fixture
def protected(deps: Deps) -> Position:
    """A position whose stop rests at the broker as ORD1 (its protect intent resting)."""
    pos = position(protect=resting())
    put_book(deps, pos, orders_filled=1, entries=1)
    put_intent(deps, the_protect(), IntentState.RESTING, order_id=ORDER_ID)
    return pos


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """The "tron" records in caplog, even after another test installed the archive handler (which stops
    propagation to the root logger)."""
    tron = logging.getLogger("tron")
    monkeypatch.setattr(tron, "propagate", True)
    monkeypatch.setattr(tron, "handlers", [])
    caplog.set_level(logging.INFO, logger="tron")
    return caplog


def logged(caplog: pytest.LogCaptureFixture, level: str, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "tron.stops" and r.levelname == level and text in r.getMessage()
    ]


# ---------------------------------------------------------------------------------------------- execute_protect
def test_a_protect_rests_the_stop_and_the_book_holds_it(
    deps: Deps, broker: FakeBroker, protecting: OrderIntent, logs: pytest.LogCaptureFixture
) -> None:
    """The stop is placed once; its intent rests with the broker's order id; the position's ``protect``
    holds it and ``protecting`` (the stop in flight) is cleared."""
    assert execute_protect(deps, protecting, NOW, recovering=False) == "resting"
    assert broker.calls == [("place", protecting)]
    doc = intent_of(deps, protecting)
    assert doc["state"] == IntentState.RESTING and doc["order_id"] == ORDER_ID
    assert doc["history"][-1] == {"state": "resting", "at": NOW.isoformat(), "order_id": ORDER_ID}
    pos = held(deps)[SYMBOL]
    assert pos.protecting is None
    assert pos.protect == RestingStop(protecting.intent_id, ORDER_ID, "SL-M", STOP, QTY, NOW.isoformat())
    assert protecting.intent_id in book(deps).processed
    assert logged(logs, "INFO", f"resting: SL-M SELL {QTY} {SYMBOL} trigger {STOP}")


def test_a_protect_called_twice_places_one_order(
    deps: Deps, broker: FakeBroker, protecting: OrderIntent
) -> None:
    """A second run of the same protect finds its stop already in the book: a duplicate, never a second
    order at the broker."""
    assert execute_protect(deps, protecting, NOW, recovering=False) == "resting"
    assert execute_protect(deps, protecting, NOW, recovering=False) == "duplicate"
    assert len(broker.named("place")) == 1
    assert held(deps)[SYMBOL].protect == resting(since=NOW.isoformat())
    assert intent_of(deps, protecting)["state"] == IntentState.RESTING


def test_a_protect_message_delivered_twice_places_one_order(deps: Deps, broker: FakeBroker) -> None:
    """Through the executor: the first delivery rests the stop, the second is a counted duplicate and
    reaches no broker."""
    p = the_protect()
    put_book(deps, position(protecting=p.intent_id))
    put_intent(deps, p, IntentState.CLAIMED)
    data = json.dumps(order_message(p)).encode()
    assert execute_order(deps, data, {"intent_id": p.intent_id}) == "resting"
    assert execute_order(deps, data, {"intent_id": p.intent_id}) == "duplicate"
    assert broker.calls == [("place", p)]
    assert book(deps).duplicates_ignored == 1
    assert held(deps)[SYMBOL].protect is not None


def test_a_protect_for_a_position_already_closed_is_cancelled_without_a_broker_call(
    deps: Deps, broker: FakeBroker
) -> None:
    """The position closed (an exit filled) before its stop could rest: the protect is cancelled and
    nothing is placed."""
    p = the_protect()
    put_book(deps)
    put_intent(deps, p, IntentState.PLACING, placing_since=NOW.isoformat())
    assert execute_protect(deps, p, NOW, recovering=False) == "cancelled"
    assert broker.calls == []
    doc = intent_of(deps, p)
    assert doc["state"] == IntentState.CANCELLED
    assert doc["history"][-1]["reason"] == "the position closed before its stop rested"
    assert p.intent_id in book(deps).processed and book(deps).orders_rejected == 0


def test_a_protect_no_longer_in_flight_for_the_position_is_cancelled(deps: Deps, broker: FakeBroker) -> None:
    """A position held again, but not waiting for this protect (``protecting`` names none), gets no stop
    from it."""
    p = the_protect()
    put_book(deps, position(protecting=None))
    put_intent(deps, p, IntentState.PLACING, placing_since=NOW.isoformat())
    assert execute_protect(deps, p, NOW, recovering=False) == "cancelled"
    assert broker.calls == []
    assert held(deps)[SYMBOL].protect is None


def test_a_stop_placed_while_the_position_closed_is_cancelled_at_the_broker(
    deps: Deps, broker: FakeBroker, protecting: OrderIntent, logs: pytest.LogCaptureFixture
) -> None:
    """The position closes while the stop is being placed: the protect is cancelled and the stop just
    placed is cancelled at the broker, so no order is left working for a flat position."""
    broker.while_placing = lambda: put_book(deps)
    assert execute_protect(deps, protecting, NOW, recovering=False) == "cancelled"
    assert [c[0] for c in broker.calls] == ["place", "cancel"]
    assert broker.named("cancel") == [("cancel", ORDER_ID)]
    doc = intent_of(deps, protecting)
    assert doc["state"] == IntentState.CANCELLED
    assert doc["history"][-1]["reason"] == "the position closed meanwhile"
    assert book(deps).positions == {}
    assert not logged(logs, "ERROR", "")


def test_a_stop_for_a_closed_position_that_cannot_be_cancelled_is_an_error(
    deps: Deps, broker: FakeBroker, protecting: OrderIntent, logs: pytest.LogCaptureFixture
) -> None:
    """If the broker refuses to cancel the stop of a position that closed meanwhile, that is an ERROR
    (an order may be working for a flat position)."""
    broker.while_placing = lambda: put_book(deps)
    broker.refuse_cancel = "order already complete"
    assert execute_protect(deps, protecting, NOW, recovering=False) == "cancelled"
    assert logged(logs, "ERROR", "could not be cancelled: order already complete")


@pytest.mark.parametrize(
    "answer",
    [
        OrderRejected("trigger price is above the last price"),
        order(ORDER_ID, "REJECTED", message="trigger price is above the last price"),
    ],
    ids=["raises", "answers-rejected"],
)
def test_a_stop_the_broker_refuses_is_rejected_and_tron_watches_the_stop(
    deps: Deps,
    broker: FakeBroker,
    protecting: OrderIntent,
    logs: pytest.LogCaptureFixture,
    answer: BrokerOrder | OrderRejected,
) -> None:
    """A refused stop (raised, or answered REJECTED) rejects the protect with an ERROR; the position is
    left without a resting stop or one in flight, so TRON checks its stop itself each minute."""
    broker.placed = answer
    assert execute_protect(deps, protecting, NOW, recovering=False) == "rejected"
    doc = intent_of(deps, protecting)
    assert doc["state"] == IntentState.REJECTED
    assert doc["history"][-1]["reason"] == "trigger price is above the last price"
    pos = held(deps)[SYMBOL]
    assert pos.protect is None and pos.protecting is None and pos.qty == QTY
    assert book(deps).orders_rejected == 1
    assert logged(logs, "ERROR", f"stop not resting at the broker for {SYMBOL}")
    assert broker.named("cancel") == []


def test_a_recovering_protect_adopts_the_order_its_tag_finds(
    deps: Deps, broker: FakeBroker, protecting: OrderIntent
) -> None:
    """After a crash in `placing`, the stop already at the broker under the intent's tag is adopted, never
    placed again."""
    broker.found = order("ORD7", "TRIGGER PENDING", tag=protecting.tag)
    assert execute_protect(deps, protecting, NOW, recovering=True) == "resting"
    assert broker.calls == [("find_by_tag", DAY, protecting.tag)]
    assert intent_of(deps, protecting)["order_id"] == "ORD7"
    assert held(deps)[SYMBOL].protect == resting(order_id="ORD7", since=NOW.isoformat())


def test_a_recovering_protect_whose_tag_finds_nothing_places_the_stop(
    deps: Deps, broker: FakeBroker, protecting: OrderIntent
) -> None:
    """Recovering with no order under the tag (the crash came before the broker heard of it): placed once."""
    assert execute_protect(deps, protecting, NOW, recovering=True) == "resting"
    assert [c[0] for c in broker.calls] == ["find_by_tag", "place"]
    assert held(deps)[SYMBOL].protect == resting(since=NOW.isoformat())


def test_a_recovering_protect_for_a_closed_position_cancels_the_stop_its_tag_finds(
    deps: Deps, broker: FakeBroker
) -> None:
    """An earlier attempt may have placed the stop before it died in `placing`; if the position closed
    meanwhile, the stop found under the tag must be cancelled at the broker (else it can open a position
    TRON does not know of)."""
    p = the_protect()
    put_book(deps)  # the position closed (an exit filled) while the protect was stuck in placing
    put_intent(deps, p, IntentState.PLACING, placing_since=at(9, 59).isoformat())
    broker.found = order("ORD7", "TRIGGER PENDING", tag=p.tag)
    assert execute_protect(deps, p, NOW, recovering=True) == "cancelled"
    assert broker.named("cancel") == [("cancel", "ORD7")]


@pytest.mark.parametrize("recovering", [False, True], ids=["ambiguous", "recovering-placed-again"])
def test_a_stop_placed_ambiguously_has_its_tag_looked_up_again(
    deps: Deps, broker: FakeBroker, protecting: OrderIntent, recovering: bool
) -> None:
    """A stop placed after a try whose fate is unknown (the broker marks it ambiguous, or the executor
    places again while recovering) may have a twin under its tag: the book notes the intent for its tag
    to be looked up again (tron.services.duplicates), as it does for every other order."""
    broker.placed = order(ORDER_ID, "TRIGGER PENDING", tag=protecting.tag)
    if not recovering:
        broker.placed = replace(broker.placed, ambiguous=True)
    assert execute_protect(deps, protecting, NOW, recovering=recovering) == "resting"
    note = book(deps).verify.get(protecting.intent_id)
    assert note is not None and note["tag"] == protecting.tag and note["order_id"] == ORDER_ID


def test_a_stop_that_fills_as_it_is_placed_is_booked_as_the_protects_fill(
    deps: Deps, broker: FakeBroker, protecting: OrderIntent
) -> None:
    """The market already through the trigger: the stop fills at once and that fill is booked (the
    position closes, the protect intent is filled)."""
    broker.placed = order(ORDER_ID, "COMPLETE", QTY, "2479.00")
    assert execute_protect(deps, protecting, NOW, recovering=False) == "resting"
    b = book(deps)
    assert b.positions == {} and b.trades == 1 and b.realized == Decimal("-210.00")
    doc = intent_of(deps, protecting)
    assert doc["state"] == IntentState.FILLED and doc["fill"]["price"] == "2479.00"


# ---------------------------------------------------------------------------------------------- execute_trail
def test_a_trail_moves_the_resting_stop_and_counts_the_modification(
    deps: Deps, broker: FakeBroker, protected: Position
) -> None:
    """A trail modifies the broker's order to its trigger; the book's stop takes the new trigger (same
    order, same protect intent) and one more modification; the trail intent rests."""
    t = trail(2490.0)
    put_intent(deps, t, IntentState.PLACING, placing_since=NOW.isoformat())
    assert execute_trail(deps, t, NOW) == "resting"
    assert broker.calls == [("modify", ORDER_ID, t)]
    assert held(deps)[SYMBOL].protect == resting(trigger=2490.0, modifications=1)
    doc = intent_of(deps, t)
    assert doc["state"] == IntentState.RESTING and doc["history"][-1]["order_id"] == ORDER_ID
    assert intent_of(deps, the_protect())["state"] == IntentState.RESTING  # the stop's own intent


def test_a_trail_to_the_trigger_already_resting_calls_no_broker(
    deps: Deps, broker: FakeBroker, protected: Position
) -> None:
    """A trail to the trigger (and limit) the broker already holds is done without a modification."""
    t = trail(STOP)
    put_intent(deps, t, IntentState.PLACING, placing_since=NOW.isoformat())
    assert execute_trail(deps, t, NOW) == "resting"
    assert broker.calls == []
    assert held(deps)[SYMBOL].protect == resting()


def test_a_trail_past_the_modification_limit_cancels_the_stop_and_places_it_again(
    deps: Deps, broker: FakeBroker, logs: pytest.LogCaptureFixture
) -> None:
    """Kite allows MAX_MODIFICATIONS (25) per order: a trail past them cancels the resting stop first, then
    the next version of its protect intent (a new tag) is claimed at the trail's trigger and published for
    the executor, which places it once like every stop."""
    assert MAX_MODIFICATIONS == 25
    put_book(deps, position(protect=resting(modifications=MAX_MODIFICATIONS)))
    put_intent(deps, the_protect(), IntentState.RESTING, order_id=ORDER_ID)
    t = trail(2490.0)
    put_intent(deps, t, IntentState.PLACING, placing_since=NOW.isoformat())
    assert execute_trail(deps, t, NOW) == "resting"
    assert broker.calls == [("cancel", ORDER_ID)]
    v2 = the_protect().intent_id.replace("-S1", "-S2")
    pos = held(deps)[SYMBOL]
    assert pos.protect is None and pos.protecting == v2
    assert intent_of(deps, the_protect())["state"] == IntentState.CANCELLED
    new = deps.store.get(intent_path(DAY.isoformat(), v2))
    assert new is not None and new["state"] == IntentState.CLAIMED and new["trigger"] == 2490.0
    assert new["purpose"] == Purpose.PROTECT and new["qty"] == QTY and new["tag"] != the_protect().tag
    (published,) = [m for m in deps.bus.queue if json.loads(m.data)["intent_id"] == v2]  # type: ignore[attr-defined]
    assert execute_trail(deps, t, NOW) == "duplicate" and len(broker.calls) == 1  # delivered twice: once
    # The executor then places the new version of the stop, which rests as the position's stop.
    assert execute_order(deps, published.data, published.attributes) == "resting"
    assert held(deps)[SYMBOL].protect is not None and held(deps)[SYMBOL].protect.trigger == 2490.0


def test_a_stop_that_cannot_be_cancelled_for_its_replacement_rejects_the_trail(
    deps: Deps, broker: FakeBroker, logs: pytest.LogCaptureFixture
) -> None:
    put_book(deps, position(protect=resting(modifications=MAX_MODIFICATIONS)))
    broker.refuse_cancel = "order already complete"
    t = trail(2490.0)
    put_intent(deps, t, IntentState.PLACING, placing_since=NOW.isoformat())
    assert execute_trail(deps, t, NOW) == "rejected"
    assert held(deps)[SYMBOL].protect == resting(modifications=MAX_MODIFICATIONS)
    assert logged(logs, "WARNING", "not replaced: order already complete")


def test_a_trail_one_below_the_limit_is_still_sent(deps: Deps, broker: FakeBroker) -> None:
    """The 25th modification is still sent (the limit counts modifications spent, not the next one)."""
    put_book(deps, position(protect=resting(modifications=MAX_MODIFICATIONS - 1)))
    t = trail(2490.0)
    put_intent(deps, t, IntentState.PLACING, placing_since=NOW.isoformat())
    assert execute_trail(deps, t, NOW) == "resting"
    assert held(deps)[SYMBOL].protect == resting(trigger=2490.0, modifications=MAX_MODIFICATIONS)


def test_a_trail_the_broker_refuses_is_rejected_and_the_stop_unchanged(
    deps: Deps, broker: FakeBroker, protected: Position, logs: pytest.LogCaptureFixture
) -> None:
    """A modification the broker refuses (the trigger already crossed) rejects the trail with a WARNING;
    the book's stop keeps its trigger and modification count."""
    broker.refuse_modify = "trigger price crossed"
    t = trail(2490.0)
    put_intent(deps, t, IntentState.PLACING, placing_since=NOW.isoformat())
    assert execute_trail(deps, t, NOW) == "rejected"
    assert len(broker.named("modify")) == 1
    assert held(deps)[SYMBOL].protect == resting()
    doc = intent_of(deps, t)
    assert doc["state"] == IntentState.REJECTED and doc["history"][-1]["reason"] == "trigger price crossed"
    assert logged(logs, "WARNING", f"trail of {SYMBOL} refused: trigger price crossed")


def test_a_trail_without_a_resting_stop_is_cancelled(deps: Deps, broker: FakeBroker) -> None:
    """Nothing rests to move (the stop filled or was turned into an exit): the trail is cancelled."""
    put_book(deps, position())
    t = trail(2490.0)
    put_intent(deps, t, IntentState.PLACING, placing_since=NOW.isoformat())
    assert execute_trail(deps, t, NOW) == "cancelled"
    assert broker.calls == []
    assert intent_of(deps, t)["history"][-1]["reason"] == "no resting stop to move"


# ---------------------------------------------------------------------------------------------- sync_stops
def test_a_stop_filled_at_the_broker_is_booked_once_as_the_protects_fill(
    deps: Deps, broker: FakeBroker, protected: Position, logs: pytest.LogCaptureFixture
) -> None:
    """A stop the broker reports COMPLETE is booked as the protect intent's fill: the position closes with
    its realised P&L and charges in the book, the intent is filled at the fill price. A second sync (the
    tick's stale read of the book still showing the stop) books nothing."""
    stale = held(deps)
    broker.states[ORDER_ID] = order(ORDER_ID, "COMPLETE", QTY, "2479.50")
    assert sync_stops(deps, Asset.STOCKS, NOW, stale) == 1
    assert broker.calls == [("order_states", DAY, [ORDER_ID])]
    charges = order_charges("equity_intraday", Side.SELL, Decimal("2479.50"), QTY, DAY).total
    b = book(deps)
    assert b.positions == {}
    assert b.realized == Decimal("-205.00")  # (2479.50 - 2500.00) x 10
    assert b.charges == charges and b.net == Decimal("-205.00") - charges
    assert (b.trades, b.wins, b.orders_filled) == (1, 0, 2)
    assert b.cash == Decimal("24795.00")
    doc = intent_of(deps, the_protect())
    assert doc["state"] == IntentState.FILLED and doc["history"][-1]["order_id"] == ORDER_ID
    assert doc["fill"]["qty"] == QTY and doc["fill"]["price"] == "2479.50"
    assert doc["fill"]["realized"] == "-205.00" and Decimal(doc["fill"]["charges"]["total"]) == charges
    assert len(logged(logs, "INFO", f"stop filled at the broker: {QTY} {SYMBOL} @ 2479.50")) == 1

    assert sync_stops(deps, Asset.STOCKS, NOW, stale) == 0
    assert book(deps) == b
    assert len(logged(logs, "INFO", "stop filled at the broker")) == 1
    assert sync_stops(deps, Asset.STOCKS, NOW, held(deps)) == 0  # the fresh book: nothing rests
    assert len(broker.named("order_states")) == 2


def test_a_stop_filled_in_part_leaves_the_rest_without_a_resting_stop(
    deps: Deps, broker: FakeBroker, protected: Position
) -> None:
    """A stop that filled in part and ended (the rest cancelled by the broker) is booked for what filled;
    the rest of the position is left without a resting stop (TRON watches it)."""
    broker.states[ORDER_ID] = order(ORDER_ID, "CANCELLED", 4, "2479.50")
    assert sync_stops(deps, Asset.STOCKS, NOW, held(deps)) == 1
    pos = held(deps)[SYMBOL]
    assert pos.qty == QTY - 4 and pos.protect is None
    assert book(deps).realized == Decimal("-82.00")
    assert intent_of(deps, the_protect())["fill"]["qty"] == 4


def test_a_stop_filled_in_part_and_still_working_is_turned_into_the_exit(
    deps: Deps, broker: FakeBroker, protected: Position
) -> None:
    """A stop and an exit must never both fill: a stop that filled in part and still works for the rest is
    not booked yet but marked triggered, so the tick exits at once by converting it, and that exit's fill
    books the whole order."""
    broker.states[ORDER_ID] = order(ORDER_ID, "OPEN", 4, "2479.50")
    assert sync_stops(deps, Asset.STOCKS, NOW, held(deps)) == 0
    pos = held(deps)[SYMBOL]
    assert pos.qty == QTY and pos.protect == resting(triggered=True)
    assert broker.named("cancel") == []


def test_an_sl_triggered_without_filling_is_marked_for_an_exit_at_once(
    deps: Deps, broker: FakeBroker, protected: Position, logs: pytest.LogCaptureFixture
) -> None:
    """An SL the broker shows OPEN with nothing filled (triggered, its limit passed) marks the book's stop
    triggered, with a WARNING; nothing is booked and the stop stays."""
    broker.states[ORDER_ID] = order(ORDER_ID, "OPEN")
    assert sync_stops(deps, Asset.STOCKS, NOW, held(deps)) == 0
    pos = held(deps)[SYMBOL]
    assert pos.protect == resting(triggered=True) and pos.qty == QTY
    assert intent_of(deps, the_protect())["state"] == IntentState.RESTING
    assert logged(logs, "WARNING", f"the stop of {SYMBOL} triggered without filling")
    assert sync_stops(deps, Asset.STOCKS, NOW, held(deps)) == 0  # already marked: not again
    assert len(logged(logs, "WARNING", "triggered without filling")) == 1


@pytest.mark.parametrize("status", ["CANCELLED", "REJECTED"])
def test_a_stop_ended_unfilled_at_the_broker_is_dropped_with_an_error(
    deps: Deps, broker: FakeBroker, protected: Position, logs: pytest.LogCaptureFixture, status: str
) -> None:
    """A stop that ended unfilled without TRON (cancelled in the Kite app) is dropped from the book with
    an ERROR and its protect intent cancelled; the position stays, TRON checking its stop itself."""
    broker.states[ORDER_ID] = order(ORDER_ID, status)
    assert sync_stops(deps, Asset.STOCKS, NOW, held(deps)) == 0
    pos = held(deps)[SYMBOL]
    assert pos.protect is None and pos.qty == QTY and pos.stop == STOP
    doc = intent_of(deps, the_protect())
    assert doc["state"] == IntentState.CANCELLED
    assert doc["history"][-1]["reason"] == f"the broker shows it {status.lower()}"
    assert logged(logs, "ERROR", f"the resting stop of {SYMBOL} ended unfilled")
    assert broker.named("cancel") == []


@pytest.mark.parametrize("answer", [None, "TRIGGER PENDING"], ids=["unknown", "pending"])
def test_a_stop_still_pending_or_unknown_to_the_broker_is_left_alone(
    deps: Deps, broker: FakeBroker, protected: Position, logs: pytest.LogCaptureFixture, answer: str | None
) -> None:
    """A stop still waiting for its trigger, or one the broker's read left out, changes nothing."""
    if answer is not None:
        broker.states[ORDER_ID] = order(ORDER_ID, answer)
    before = book(deps)
    assert sync_stops(deps, Asset.STOCKS, NOW, held(deps)) == 0
    assert book(deps) == before
    assert intent_of(deps, the_protect())["state"] == IntentState.RESTING
    assert not [r for r in logs.records if r.name == "tron.stops" and r.levelno >= logging.WARNING]


def test_without_resting_stops_the_broker_is_never_asked(deps: Deps, broker: FakeBroker) -> None:
    """No position with a resting stop (none held, or held without one): no broker read at all."""
    assert sync_stops(deps, Asset.STOCKS, NOW, {}) == 0
    put_book(deps, position(protecting="in-flight"))
    assert sync_stops(deps, Asset.STOCKS, NOW, held(deps)) == 0
    assert broker.calls == []


def test_one_broker_read_serves_every_resting_stop(deps: Deps, broker: FakeBroker) -> None:
    """The stops of several positions are read in one call; each is booked or left by its own answer."""
    other = position(symbol="INFY", avg_price=Decimal("1500.00"), stop=1490.0)
    other.protect = RestingStop("x-S1", "ORD2", "SL-M", 1490.0, QTY, at(9, 59).isoformat())
    put_book(deps, position(protect=resting()), other)
    put_intent(deps, the_protect(), IntentState.RESTING, order_id=ORDER_ID)
    broker.states = {
        ORDER_ID: order(ORDER_ID, "COMPLETE", QTY, "2479.50"),
        "ORD2": order("ORD2", "TRIGGER PENDING"),
    }
    assert sync_stops(deps, Asset.STOCKS, NOW, held(deps)) == 1
    ((name, day, asked),) = broker.calls
    assert (name, day, sorted(asked)) == ("order_states", DAY, [ORDER_ID, "ORD2"])
    assert set(held(deps)) == {"INFY"} and held(deps)["INFY"].protect == other.protect


# ---------------------------------------------------------------------------------------------- settle_drift
def manual(
    qty: int = QTY, by: str = "AB1234", side: Side = Side.SELL, price: str = "2490.00"
) -> ExternalFill:
    return ExternalFill("M1", SYMBOL, side, qty, Decimal(price), at(9, 58), by)


@pytest.mark.parametrize("by", ["AB1234", "ADMINSQF"])
def test_a_position_closed_outside_tron_loses_its_stop_and_books_the_fill_as_its_exit(
    deps: Deps, broker: FakeBroker, protected: Position, logs: pytest.LogCaptureFixture, by: str
) -> None:
    """The broker holds none of the position (closed in the Kite app, or by the broker's square-off): the
    resting stop is cancelled (it would open the opposite position when triggered) and the untagged fill
    is booked as the exit, at its price, with its charges (₹50 + GST more for ADMINSQF), once."""
    broker.external = [manual(by=by)]
    settle_drift(deps, Asset.STOCKS, NOW, {SYMBOL: (QTY, 0)})
    assert broker.named("cancel") == [("cancel", ORDER_ID)]
    after = book(deps)
    assert SYMBOL not in after.positions and after.trades == 1
    charges = order_charges("equity_intraday", Side.SELL, Decimal("2490.00"), QTY, DAY).total
    fee = AUTO_SQUARE_OFF_FEE if by == "ADMINSQF" else Decimal(0)
    assert after.realized == (Decimal("2490.00") - AVG) * QTY and after.charges == charges + fee
    doc = deps.store.get(intent_path(DAY.isoformat(), f"{DAY:%Y%m%d}-stocks-external-{SYMBOL}-M1"))
    assert doc is not None and doc["state"] == IntentState.FILLED and doc["fill"]["adopted"] is True
    assert intent_of(deps, the_protect())["state"] == IntentState.CANCELLED
    assert logged(logs, "ERROR", "booked a fill TRON did not place")
    settle_drift(deps, Asset.STOCKS, NOW, {SYMBOL: (QTY, 0)})  # the same drift again: nothing twice
    assert book(deps) == after and len(broker.named("cancel")) == 1


def test_a_partial_close_outside_tron_cuts_the_stop_to_what_the_broker_holds(
    deps: Deps, broker: FakeBroker, protected: Position
) -> None:
    """The broker still holds part of it on the same side: the stop is modified to that quantity (for more
    it would open a short when triggered), and the fill is booked."""
    broker.external = [manual(qty=4)]
    settle_drift(deps, Asset.STOCKS, NOW, {SYMBOL: (QTY, QTY - 4)})
    ((_, order_id, cut),) = broker.named("modify")
    assert (order_id, cut.qty, cut.trigger, cut.order_type) == (ORDER_ID, QTY - 4, STOP, "SL-M")
    pos = held(deps)[SYMBOL]
    assert pos.qty == QTY - 4 and pos.protect == resting(qty=QTY - 4, modifications=1)
    assert broker.named("cancel") == []


def test_a_stop_with_no_modification_left_is_cancelled_instead_of_cut(deps: Deps, broker: FakeBroker) -> None:
    put_book(deps, position(protect=resting(modifications=MAX_MODIFICATIONS)))
    put_intent(deps, the_protect(), IntentState.RESTING, order_id=ORDER_ID)
    settle_drift(deps, Asset.STOCKS, NOW, {SYMBOL: (QTY, 4)})
    assert broker.named("modify") == [] and broker.named("cancel") == [("cancel", ORDER_ID)]
    assert held(deps)[SYMBOL].protect is None


def test_untagged_fills_that_do_not_close_the_position_are_not_booked(
    deps: Deps, broker: FakeBroker, protected: Position
) -> None:
    """The broker holds more than the book (a manual buy on a long), or a fill on the position's own side,
    or on another symbol: nothing is booked or cancelled (the drift stays reported)."""
    broker.external = [manual(side=Side.BUY), replace(manual(), symbol="INFY")]
    settle_drift(deps, Asset.STOCKS, NOW, {SYMBOL: (QTY, QTY + 3)})
    assert broker.calls == []
    settle_drift(deps, Asset.STOCKS, NOW, {SYMBOL: (QTY, 0)})
    assert held(deps)[SYMBOL].qty == QTY  # only a buy on SYMBOL: no exit to book
    assert held(deps)[SYMBOL].protect is None  # but the stop the broker does not need is gone


def test_a_stop_that_cannot_be_cancelled_is_an_error_and_the_fill_still_booked(
    deps: Deps, broker: FakeBroker, protected: Position, logs: pytest.LogCaptureFixture
) -> None:
    broker.refuse_cancel = "Order cannot be cancelled as it is being processed"
    broker.external = [manual()]
    settle_drift(deps, Asset.STOCKS, NOW, {SYMBOL: (QTY, 0)})
    assert logged(logs, "ERROR", f"the resting stop of {SYMBOL} could not be cut to 0")
    assert SYMBOL not in held(deps)


# ---------------------------------------------------------------------------------------------- exits
def an_exit(qty: int = QTY) -> OrderIntent:
    return replace(
        entry(),
        intent_id=f"{DAY:%Y%m%d}-stocks-orb-{SYMBOL}-exit-1000",
        side=Side.SELL,
        qty=qty,
        purpose=Purpose.EXIT,
        reason="trailing stop passed",
        decided_at=NOW,
        stop=None,
        target=None,
    )


@pytest.mark.parametrize("state", [IntentState.CLAIMED, IntentState.PLACING])
def test_an_exit_of_a_position_already_closed_places_no_order(
    deps: Deps, broker: FakeBroker, state: IntentState
) -> None:
    """Measured on the external simulator: an exit delivered again after the position's stop fill was
    booked (the first delivery's conversion timed out) found no stop to convert and placed a new order,
    which opened the opposite position. An exit of a position the book no longer holds (and, if it was
    being placed, that the broker does not hold under its tag) now ends cancelled without an order."""
    put_book(deps)  # the stop's fill is booked: nothing is held
    ex = an_exit()
    put_intent(deps, ex, state, placing_since=at(9, 0).isoformat())
    data = json.dumps(order_message(ex)).encode()
    assert execute_order(deps, data, {"intent_id": ex.intent_id}) == "cancelled"
    assert broker.named("place") == []
    assert intent_of(deps, ex)["state"] == IntentState.CANCELLED
    assert broker.named("find_by_tag") == (
        [] if state is IntentState.CLAIMED else [("find_by_tag", DAY, ex.tag)]
    )


def test_an_exit_larger_than_the_position_left_sends_only_what_is_held(
    deps: Deps, broker: FakeBroker
) -> None:
    """Part of the position was closed meanwhile (a stop that filled in part, booked): the exit sends what
    the book still holds, never more."""
    put_book(deps, position(qty=4))
    ex = an_exit()
    put_intent(deps, ex, IntentState.CLAIMED)
    broker.placed = order("X1", "COMPLETE", 4, "2490.00")
    assert (
        execute_order(deps, json.dumps(order_message(ex)).encode(), {"intent_id": ex.intent_id}) == "filled"
    )
    ((_, sent),) = broker.named("place")
    assert sent.qty == 4 and SYMBOL not in held(deps)


def test_an_adopted_fill_is_stored_as_the_executor_stores_a_fill_under_a_safe_id(
    deps: Deps, broker: FakeBroker, protected: Position
) -> None:
    """The adopted exit is an intent document like any other (tag, history, order id), and a broker order
    id with a path separator cannot reach outside the day's intents."""
    broker.external = [replace(manual(), order_id="../M/1")]
    settle_drift(deps, Asset.STOCKS, NOW, {SYMBOL: (QTY, 0)})
    ((path, doc),) = [
        (p, d) for p, d in deps.store.list(f"days/{DAY}/intents") if d["strategy"] == "external"
    ]
    assert path.endswith(f"-stocks-external-{SYMBOL}-___M_1") and "/.." not in path
    assert doc["tag"] and doc["history"][-1]["state"] == IntentState.FILLED and doc["order_id"] == "../M/1"
