"""Stops resting at the broker: placing a position's stop (a protect intent, claimed by the executor in the
transaction that books its entry's fill), moving it (a trail intent, from the tick), and booking it when it
fills at the broker (found by the tick, :func:`sync_stops`, or by an exit that meant to convert it).

The book is the one truth of which stop protects a position (``Position.protect``); every write checks it
in a transaction, so a stop fill is booked once however many readers see it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from tron.domain.book import Book, exit_side
from tron.domain.charges import AUTO_SQUARE_OFF_FEE, fill_charges, order_charges
from tron.domain.drift import Drift, clamp
from tron.domain.models import Asset, IntentState, OrderIntent, Position, Purpose, RestingStop, id_part
from tron.domain.order_rules import MAX_MODIFICATIONS
from tron.domain.protect import protect_id
from tron.ports import BrokerOrder, BrokerUnavailable, ExternalFill, OrderRejected
from tron.services import notify
from tron.services.claims import advanced, intent_doc, publish
from tron.services.deps import Deps
from tron.services.duplicates import verification
from tron.services.paths import book_path, intent_path

log = logging.getLogger("tron.stops")
UNFILLED_END = ("CANCELLED", "REJECTED")
# A stop's fill is booked only once its order has ended (BrokerOrder.ended): one that filled in part and
# still works is turned into the exit by the tick, whose fill then books all of it.


def _extra(intent_id: str) -> dict[str, str]:
    return {"component": "stops", "correlation_id": intent_id}


Change = Callable[[Book], tuple[IntentState, dict[str, Any]]]


def _to(state: IntentState, **info: Any) -> Change:
    """A change that only ends the intent in ``state``, recording ``info`` with it."""
    return lambda book: (state, info)


def _settle(deps: Deps, intent: OrderIntent, now: datetime, change: Change) -> str:
    """In one transaction, unless the intent has already ended ("duplicate"): ``change`` updates the book
    and names the intent's end state and what to record with it (an ``order_id`` also on the intent); a
    protect is no longer the position's stop in flight; the book counts the intent (a rejection, or
    processed). Returns the state."""
    day = intent.day.isoformat()
    ip, bp = intent_path(day, intent.intent_id), book_path(day, intent.asset)

    def body(txn: Any) -> str:
        doc = txn.get(ip)
        book = Book.from_doc(txn.get(bp))
        if doc is None or IntentState(doc["state"]).terminal:
            return "duplicate"
        state, info = change(book)
        pos = book.positions.get(intent.symbol)
        if pos is not None and pos.protecting == intent.intent_id:
            pos.protecting = None
        if state is IntentState.REJECTED:
            book.record_rejection(intent.intent_id)
        else:
            book.processed.append(intent.intent_id)
        txn.set(bp, book.to_doc())
        ended = advanced(doc, state, now, **info)
        txn.set(ip, {**ended, "order_id": info["order_id"]} if "order_id" in info else ended)
        return state.value

    return str(deps.store.transaction(body))


# ---------------------------------------------------------------------------------------------- protect
def execute_protect(deps: Deps, intent: OrderIntent, now: datetime, recovering: bool) -> str:
    """Rest the position's stop at the broker (adopting the order its tag finds after a crash). Answers
    resting, or cancelled when the position closed before the stop could rest (a stop placed meanwhile is
    cancelled at the broker), or rejected (ERROR: TRON then watches the stop itself each minute)."""
    book = Book.from_doc(deps.store.get(book_path(intent.day.isoformat(), intent.asset)))
    pos = book.positions.get(intent.symbol)
    if pos is not None and pos.protect is not None and pos.protect.intent_id == intent.intent_id:
        return _settle(deps, intent, now, _to(IntentState.RESTING, order_id=pos.protect.order_id))
    found = deps.broker.find_by_tag(intent.day, intent.tag) if recovering else None
    if pos is None or pos.protecting != intent.intent_id:
        if found is not None and not found.ended:  # an earlier attempt placed it: it must not stay
            _cancel_stop(deps, found.order_id, intent)
        why = "the position closed before its stop rested"
        return _settle(deps, intent, now, _to(IntentState.CANCELLED, reason=why))
    order = found
    if order is None:
        try:
            order = deps.broker.place(intent)
        except OrderRejected as e:
            return _unprotected(deps, intent, now, str(e))
    # placed after a try whose fate is unknown (or again while recovering): a twin may rest under the tag
    verify = order.ambiguous or (recovering and found is None)
    if order.status in UNFILLED_END and order.filled_qty == 0:
        return _unprotected(deps, intent, now, order.message or f"the stop order is {order.status.lower()}")
    rest = RestingStop(
        intent.intent_id,
        order.order_id,
        intent.order_type,
        float(intent.trigger or 0),
        intent.qty,
        now.isoformat(),
        intent.limit,
    )
    outcome = _record_resting(deps, intent, rest, now, verify)
    if outcome == "cancelled":  # the position closed while the stop was being placed
        _cancel_stop(deps, order.order_id, intent)
    elif order.filled_qty and order.ended:  # it filled at once (the market was already through it)
        book_stop_fill(deps, intent.day.isoformat(), intent.asset, intent.symbol, rest, order, now)
    log.info(
        f"{outcome}: {intent.order_type} {intent.side} {intent.qty} {intent.symbol} trigger {intent.trigger}"
        + (f" limit {intent.limit}" if intent.limit is not None else ""),
        extra=_extra(intent.intent_id),
    )
    return outcome


def _cancel_stop(deps: Deps, order_id: str, intent: OrderIntent) -> None:
    """Cancel a stop that rests for a position already closed; an ERROR if the broker refuses (it may have
    filled: the reconciliation then shows the position it opened)."""
    try:
        deps.broker.cancel(order_id)
    except OrderRejected as e:
        log.error(f"a stop for a closed position could not be cancelled: {e}", extra=_extra(intent.intent_id))


def _unprotected(deps: Deps, intent: OrderIntent, now: datetime, why: str) -> str:
    out = _settle(deps, intent, now, _to(IntentState.REJECTED, reason=why))
    log.error(
        f"stop not resting at the broker for {intent.symbol} ({why}): TRON checks it each minute instead",
        extra=_extra(intent.intent_id),
    )
    return out


def _record_resting(deps: Deps, intent: OrderIntent, rest: RestingStop, now: datetime, verify: bool) -> str:
    """The stop rests: the book's position holds it (and, after an ambiguous placement, its tag is looked
    up again: tron.services.duplicates); cancelled if the position closed meanwhile."""

    def rest_it(book: Book) -> tuple[IntentState, dict[str, Any]]:
        pos = book.positions.get(intent.symbol)
        if pos is None or pos.protecting != intent.intent_id:
            return IntentState.CANCELLED, {"reason": "the position closed meanwhile"}
        pos.protect = rest
        if verify:
            book.verify[intent.intent_id] = verification(intent, rest.order_id, now)
        return IntentState.RESTING, {"order_id": rest.order_id}

    return _settle(deps, intent, now, rest_it)


# ---------------------------------------------------------------------------------------------- trail
def execute_trail(deps: Deps, intent: OrderIntent, now: datetime) -> str:
    """Move the position's resting stop to the trail's trigger (nothing to do if it is already there).
    Refused by the broker (the price already through it, the order ended) the trail is rejected with a
    WARNING: the next tick exits at once or books the stop's fill."""
    book = Book.from_doc(deps.store.get(book_path(intent.day.isoformat(), intent.asset)))
    pos = book.positions.get(intent.symbol)
    rest = pos.protect if pos is not None else None
    if rest is None:
        return _settle(deps, intent, now, _to(IntentState.CANCELLED, reason="no resting stop to move"))
    if rest.trigger == intent.trigger and rest.limit == intent.limit:
        return _settle(deps, intent, now, _to(IntentState.RESTING, order_id=rest.order_id))
    if rest.modifications >= MAX_MODIFICATIONS:
        return _replace_stop(deps, intent, rest, now)
    try:
        order = deps.broker.modify(rest.order_id, intent)
    except OrderRejected as e:
        log.warning(f"trail of {intent.symbol} refused: {e}", extra=_extra(intent.intent_id))
        return _settle(deps, intent, now, _to(IntentState.REJECTED, reason=str(e)))
    moved = RestingStop(
        rest.intent_id,
        rest.order_id,
        rest.order_type,
        float(intent.trigger or rest.trigger),
        rest.qty,
        rest.since,
        intent.limit,
        rest.modifications + 1,
    )

    def move(book: Book) -> tuple[IntentState, dict[str, Any]]:
        held = book.positions.get(intent.symbol)
        if held is not None and held.protect is not None and held.protect.order_id == rest.order_id:
            held.protect = moved
        return IntentState.RESTING, {"order_id": rest.order_id}

    out = _settle(deps, intent, now, move)
    day = intent.day.isoformat()
    if order.filled_qty and order.ended:
        book_stop_fill(deps, day, intent.asset, intent.symbol, moved, order, now)
    log.info(f"trail: {intent.reason}", extra=_extra(intent.intent_id))
    return out


def _replace_stop(deps: Deps, intent: OrderIntent, rest: RestingStop, now: datetime) -> str:
    """A trail past Kite's 25 modifications of the resting stop: the stop is cancelled, then placed again at
    the trail's trigger as the next version of its protect intent (a new deterministic tag), through the
    executor like every stop. Cancelled first, so two stops never rest at once: for the moment between, the
    stop is TRON's to check. A stop the broker will not cancel (it filled or ended) rejects the trail: the
    next tick books what happened."""
    try:
        deps.broker.cancel(rest.order_id)
    except OrderRejected as e:
        log.warning(f"the stop of {intent.symbol} not replaced: {e}", extra=_extra(intent.intent_id))
        return _settle(deps, intent, now, _to(IntentState.REJECTED, reason=f"stop not replaced: {e}"))
    day = intent.day.isoformat()
    entry_id, _, version = rest.intent_id.rpartition("-S")
    new_id = protect_id(entry_id, int(version) + 1 if version.isdigit() else 2)
    ip, bp, old, new = (
        intent_path(day, intent.intent_id),
        book_path(day, intent.asset),
        intent_path(day, rest.intent_id),
        intent_path(day, new_id),
    )
    why = f"{MAX_MODIFICATIONS} modifications spent: replaced by {new_id}"
    replacement: list[OrderIntent] = []

    def swap(txn: Any) -> str:
        doc, book, old_doc, exists = txn.get(ip), Book.from_doc(txn.get(bp)), txn.get(old), txn.get(new)
        if doc is None or IntentState(doc["state"]).terminal:
            return "duplicate"
        pos = book.positions.get(intent.symbol)
        if pos is None or pos.protect is None or pos.protect.order_id != rest.order_id or exists is not None:
            txn.set(ip, advanced(doc, IntentState.CANCELLED, now, reason="the stop changed meanwhile"))
            return IntentState.CANCELLED.value
        stop = replace(
            intent,
            intent_id=new_id,
            purpose=Purpose.PROTECT,
            qty=abs(pos.qty),
            reason=f"stop {intent.trigger} resting at the broker again (after {MAX_MODIFICATIONS} modifications)",
        )
        replacement.append(stop)
        pos.protect, pos.protecting = None, new_id
        book.processed.append(intent.intent_id)
        txn.set(bp, book.to_doc())
        txn.set(new, intent_doc(stop, now))
        if old_doc is not None:
            txn.set(old, advanced(old_doc, IntentState.CANCELLED, now, reason=why))
        txn.set(ip, advanced(doc, IntentState.RESTING, now, reason=why))
        return IntentState.RESTING.value

    out = str(deps.store.transaction(swap))
    if out == IntentState.RESTING and replacement:
        log.warning(f"the stop of {intent.symbol}: {why}", extra=_extra(intent.intent_id))
        publish(deps, replacement[-1:])
    return out


# ---------------------------------------------------------------------------------------------- fills
def book_stop_fill(
    deps: Deps, day: str, asset: Asset, symbol: str, rest: RestingStop, order: BrokerOrder, now: datetime
) -> bool:
    """Book what the resting stop filled at the broker as its protect intent's fill (price, charges,
    realised P&L), once: False if the book no longer holds this stop (booked already, or turned into an
    exit). A stop that filled only in part leaves the position without a resting stop (TRON watches it)."""
    ip, bp = intent_path(day, rest.intent_id), book_path(day, asset)
    realised: dict[str, Decimal] = {}  # what the fill realised, for the notification

    def body(txn: Any) -> bool:
        doc = txn.get(ip)
        book = Book.from_doc(txn.get(bp))
        pos = book.positions.get(symbol)
        if doc is None or pos is None or pos.protect is None or pos.protect.order_id != rest.order_id:
            return False
        intent = OrderIntent.from_dict(doc)
        qty = min(order.filled_qty, abs(pos.qty))
        fills = order.executed if qty == order.filled_qty else ((qty, order.avg_price),)
        charges = fill_charges(intent.segment, intent.side, fills, intent.day)
        realized = realised["pnl"] = book.apply_fill(
            intent, qty, order.avg_price, charges.total, order.ts.isoformat()
        )
        if symbol in book.positions:
            book.positions[symbol].protect = None
        txn.set(bp, book.to_doc())
        txn.set(
            ip,
            {
                **advanced(doc, IntentState.FILLED, now, order_id=order.order_id),
                "fill": {
                    "qty": qty,
                    "price": str(order.avg_price),
                    "at": order.ts.isoformat(),
                    "charges": charges.as_dict(),
                    "realized": str(realized),
                    "adopted": False,
                },
            },
        )
        return True

    booked = bool(deps.store.transaction(body))
    if booked:
        log.info(
            f"stop filled at the broker: {order.filled_qty} {symbol} @ {order.avg_price} (trigger {rest.trigger})",
            extra=_extra(rest.intent_id),
        )
        notify.stop_fill(deps, asset, symbol, order, rest.trigger, realised.get("pnl"))
    return booked


def sync_stops(deps: Deps, asset: Asset, now: datetime, held: dict[str, Position]) -> int:
    """Ask the broker, in one read, how the resting stops of the asset's positions (``held``, as the tick
    read the book) stand, and book what filled; a stop the broker triggered without filling (an SL past its
    limit) is marked so the tick exits at once; one that ended unfilled without TRON (cancelled in the Kite
    app) is dropped with an ERROR, TRON then watching the stop itself. Returns the number of stop fills
    booked (each checked again in its transaction)."""
    day = now.date().isoformat()
    resting = {s: p.protect for s, p in held.items() if p.protect is not None}
    if not resting:
        return 0
    states = deps.broker.order_states(now.date(), [r.order_id for r in resting.values()])
    booked = 0
    for symbol, rest in resting.items():
        order = states.get(rest.order_id)
        if order is None:
            continue
        if order.filled_qty and order.ended:
            booked += book_stop_fill(deps, day, asset, symbol, rest, order, now)
        elif order.status in UNFILLED_END:
            _drop_stop(deps, day, asset, symbol, rest, f"the broker shows it {order.status.lower()}", now)
        elif (order.status == "OPEN" or order.filled_qty) and not rest.triggered:
            _mark_triggered(deps, day, asset, symbol, rest)
    return booked


def settle_drift(deps: Deps, asset: Asset, now: datetime, drift: Drift) -> None:
    """Where the broker holds less of a position than the book (closed in the Kite app, or by the broker's
    auto square-off): its resting stop is cut to what the broker holds, cancelled if that is nothing (for
    more, triggered, it would open the opposite position), then the untagged fills that closed it are
    booked as its exit (:func:`adopt_external_fill`)."""
    day = now.date().isoformat()
    book = Book.from_doc(deps.store.get(book_path(day, asset)))
    closed = {
        s: (ours, theirs)
        for s, (ours, theirs) in drift.items()
        if s in book.positions and not book.positions[s].protecting and abs(clamp(ours, theirs)) < abs(ours)
    }
    if not closed:
        return
    for symbol, (ours, theirs) in sorted(closed.items()):
        rest = book.positions[symbol].protect
        if rest is not None and rest.qty > (want := clamp(ours, theirs)):
            why = f"the broker holds {theirs} {symbol}, the book {ours}"
            _fit_stop(deps, day, asset, symbol, rest, want, why, now)
    try:
        fills = deps.broker.external_fills(now.date())
    except BrokerUnavailable as e:
        log.warning(f"orders placed outside TRON not read this minute: {e}", extra={"component": "stops"})
        return
    for f in fills:
        if f.symbol in closed:
            adopt_external_fill(deps, asset, f, now)


def _fit_stop(
    deps: Deps, day: str, asset: Asset, symbol: str, rest: RestingStop, want: int, why: str, now: datetime
) -> None:
    """Cut the resting stop to `want` (a modification) or, for nothing or with no modification left,
    cancel it (TRON then checks the stop itself, on what the broker holds)."""
    doc = deps.store.get(intent_path(day, rest.intent_id))
    try:
        if want and doc is not None and rest.modifications < MAX_MODIFICATIONS:
            stop = replace(OrderIntent.from_dict(doc), qty=want, trigger=rest.trigger, limit=rest.limit)
            deps.broker.modify(rest.order_id, stop)
        else:
            deps.broker.cancel(rest.order_id)
            _drop_stop(deps, day, asset, symbol, rest, f"{why}: cancelled", now, then="no stop rests for it")
            return
    except (OrderRejected, BrokerUnavailable) as e:  # filled or ended meanwhile; or tried again next tick
        log.error(
            f"the resting stop of {symbol} could not be cut to {want}: {e}", extra=_extra(rest.intent_id)
        )
        return

    def cut(txn: Any) -> None:
        book = Book.from_doc(txn.get(book_path(day, asset)))
        pos = book.positions.get(symbol)
        if pos is not None and pos.protect is not None and pos.protect.order_id == rest.order_id:
            pos.protect = replace(rest, qty=want, modifications=rest.modifications + 1)
            txn.set(book_path(day, asset), book.to_doc())

    deps.store.transaction(cut)
    log.error(
        f"the resting stop of {symbol} cut from {rest.qty} to {want} ({why})", extra=_extra(rest.intent_id)
    )


def adopt_external_fill(deps: Deps, asset: Asset, fill: ExternalFill, now: datetime) -> bool:
    """Book an untagged fill that closes (part of) a position as its exit, once (an intent named for the
    broker's order id), with its charges (₹50 + GST more for the broker's auto square-off), never past
    what the book holds. False if it does not close the book's position or is booked already."""
    day = now.date().isoformat()
    iid = f"{now:%Y%m%d}-{asset}-external-{id_part(fill.symbol)}-{id_part(fill.order_id)}"
    ip, bp = intent_path(day, iid), book_path(day, asset)

    def body(txn: Any) -> bool:
        book = Book.from_doc(txn.get(bp))
        pos = book.positions.get(fill.symbol)
        if txn.get(ip) is not None or pos is None or fill.side is not exit_side(pos) or pos.protecting:
            return False
        qty = min(fill.qty, abs(pos.qty))
        by = (
            "the broker's auto square-off"
            if fill.by == "ADMINSQF"
            else f"an order placed by {fill.by or '?'}"
        )
        intent = OrderIntent(
            iid, now.date(), asset, fill.symbol, pos.exchange, fill.side, qty, Purpose.EXIT, "external",
            f"closed outside TRON: {by} ({fill.order_id})", fill.ts, segment=pos.segment,
            tick_size=Decimal(pos.tick_size),
        )  # fmt: skip
        charges = order_charges(pos.segment, fill.side, fill.price, qty, now.date())
        fee = AUTO_SQUARE_OFF_FEE if fill.by == "ADMINSQF" else Decimal(0)
        realized = book.apply_fill(intent, qty, fill.price, charges.total + fee, fill.ts.isoformat())
        txn.set(bp, book.to_doc())
        booked = {
            "qty": qty,
            "price": str(fill.price),
            "at": fill.ts.isoformat(),
            "charges": charges.as_dict() | {"auto_square_off": str(fee)},
            "realized": str(realized),
            "adopted": True,
        }
        filled = advanced(intent_doc(intent, now), IntentState.FILLED, now, order_id=fill.order_id)
        txn.set(ip, {**filled, "order_id": fill.order_id, "fill": booked})  # shaped as the executor's fills
        return True

    adopted = bool(deps.store.transaction(body))
    if adopted:
        log.error(
            f"booked a fill TRON did not place: {fill.side} {fill.qty} {fill.symbol} @ {fill.price} "
            f"({fill.by or 'untagged'} order {fill.order_id})",
            extra={"component": "stops", "correlation_id": iid},
        )
        notify.external_fill(deps, asset, fill)
    return adopted


def _drop_stop(
    deps: Deps,
    day: str,
    asset: Asset,
    symbol: str,
    rest: RestingStop,
    why: str,
    now: datetime,
    then: str = "TRON checks the stop each minute instead",
) -> bool:
    def body(txn: Any) -> bool:
        doc = txn.get(intent_path(day, rest.intent_id))
        book = Book.from_doc(txn.get(book_path(day, asset)))
        pos = book.positions.get(symbol)
        if pos is None or pos.protect is None or pos.protect.order_id != rest.order_id:
            return False
        pos.protect = None
        txn.set(book_path(day, asset), book.to_doc())
        if doc is not None:
            txn.set(intent_path(day, rest.intent_id), advanced(doc, IntentState.CANCELLED, now, reason=why))
        return True

    dropped = bool(deps.store.transaction(body))
    if dropped:
        log.error(
            f"the resting stop of {symbol} ended unfilled ({why}): {then}", extra=_extra(rest.intent_id)
        )
    return dropped


def _mark_triggered(deps: Deps, day: str, asset: Asset, symbol: str, rest: RestingStop) -> None:
    def body(txn: Any) -> None:
        book = Book.from_doc(txn.get(book_path(day, asset)))
        pos = book.positions.get(symbol)
        if pos is not None and pos.protect is not None and pos.protect.order_id == rest.order_id:
            pos.protect.triggered = True
            txn.set(book_path(day, asset), book.to_doc())

    deps.store.transaction(body)
    log.warning(
        f"the stop of {symbol} triggered without filling: exiting at once", extra=_extra(rest.intent_id)
    )
