"""execute_order: turn one delivered order message into exactly one broker order, whatever the delivery count.

:func:`execute_push` is the HTTP entry point (one Pub/Sub push); :func:`execute_order` does the work. The
message only names an intent; the claimed intent document is the only truth.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tron.domain.book import Book
from tron.domain.charges import fill_charges
from tron.domain.models import IntentState, OrderIntent, Purpose, Side
from tron.domain.protect import protect_intent
from tron.domain.risk import KillSwitch
from tron.ports import BrokerOrder, BrokerUnavailable, OrderRejected
from tron.services import messages, notify, stops
from tron.services.claims import advanced, intent_doc, publish
from tron.services.deps import Deps
from tron.services.duplicates import verification
from tron.services.messages import BadRequest
from tron.services.paths import (
    KILL_SWITCH,
    book_path,
    day_path,
    intent_path,
    malformed_path,
    orders_count_path,
)
from tron.services.square_off import square_off
from tron.services.tick_state import halted_reason

log = logging.getLogger("tron.execute_order")
ENTRY_TTL = timedelta(minutes=3)  # an entry not at the broker this long after its decision is not placed


class Busy(Exception):
    """Another delivery holds the placing lease: try again later."""


def execute_push(deps: Deps, body: bytes) -> tuple[int, dict[str, str]]:
    """The executor's HTTP entry point: one Pub/Sub push. 200 acknowledges it (executed, a duplicate, or
    recorded as malformed: never delivered again); 503 asks Pub/Sub to deliver it again later (another
    delivery holds the lease, or the broker is unavailable)."""
    try:
        push = messages.push(body)
    except BadRequest as e:
        record_malformed(deps, body, str(e), {})
        return 200, {"outcome": "malformed", "error": str(e)}
    try:
        return 200, {"outcome": execute_order(deps, push.data, push.attributes)}
    except (Busy, BrokerUnavailable) as e:
        return 503, {"retry": f"{type(e).__name__}: {e}"}


def record_malformed(deps: Deps, data: bytes, error: str, attributes: dict[str, str]) -> str:
    """Keep what arrived (truncated) and why it was refused under malformed/, with an ERROR log."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    deps.store.set(
        malformed_path(digest),
        {
            "data": data[:2000].decode("utf-8", "replace"),
            "bytes": len(data),
            "error": error[:1000],
            "attributes": {str(k)[:100]: str(v)[:200] for k, v in list(attributes.items())[:20]},
            "at": deps.clock.now().isoformat(),
        },
    )
    log.error(
        f"malformed order message, never placed: {error[:300]}",
        extra={"component": "execute_order", "correlation_id": digest},
    )
    return "malformed"


def execute_order(deps: Deps, data: bytes, attributes: dict[str, str] | None = None) -> str:
    """Execute the order a message names; returns the outcome: filled | adopted | duplicate | rejected |
    malformed. Raises Busy or BrokerUnavailable for a retry.

    A message that does not parse, names an intent never claimed or of another trading day, or says anything
    (a quantity, a side, a digest) that disagrees with the claim is recorded under malformed/ with an ERROR
    and never placed (:func:`record_malformed`). Otherwise:

    1. In a transaction: a terminal intent is a duplicate delivery (counted in the book, ignored); an entry
       on a halted day, while the kill switch is engaged, or outside the guardrails (tron.domain.live) is
       rejected with the reason, and every other intent counts towards the day's orders; an intent
       another delivery is placing, within its lease (``placing_lease_seconds``), raises Busy; otherwise
       the intent moves to `placing` with a lease.
    2. Outside it: if an earlier attempt got as far as `placing`, the broker is asked for an order with the
       intent's tag and that order is adopted; only if there is none is the order placed (an entry decided
       longer than ENTRY_TTL ago is rejected instead: its moment has passed). A broker refusal is recorded
       as a rejection.
    3. In a transaction: the fill is booked (position, realised P&L, cash flow, charges) and the intent is
       filled. An order placed after an attempt whose fate is unknown is marked for the tag to be looked up
       again (tron.services.duplicates).

    A crash anywhere leaves a state that the next delivery (or the tick's re-drive of a stuck intent)
    resolves without a second order.
    """
    now = deps.clock.now()
    try:
        message = messages.read_order_message(data, attributes)
    except BadRequest as e:
        return record_malformed(deps, data, str(e), attributes or {})
    if message.day != now.date():
        why = f"intent {message.intent_id} is of {message.day}, not of today {now.date()}: never placed"
        return record_malformed(deps, data, why, attributes or {})
    day = message.day.isoformat()
    ip = intent_path(day, message.intent_id)
    extra = {"component": "execute_order", "correlation_id": message.intent_id}
    lease = timedelta(seconds=deps.config.placing_lease_seconds)

    def claim(txn: Any) -> tuple[str, OrderIntent | str | None, bool]:
        doc = txn.get(ip)
        if doc is None:
            return "malformed", f"intent {message.intent_id} was never claimed", False
        try:
            intent = OrderIntent.from_dict(doc)
        except ValueError as e:
            return "malformed", f"the claimed intent {message.intent_id} is unreadable: {e}", False
        wrong = messages.disagreement(message, intent)
        if wrong:
            return "malformed", f"the message disagrees with the claimed intent: {wrong}", False
        bp = book_path(day, intent.asset)
        state = IntentState(doc["state"])
        if state.terminal:
            book = Book.from_doc(txn.get(bp))
            book.duplicates_ignored += 1
            txn.set(bp, book.to_doc())
            return "duplicate", intent, False
        recovering = state is IntentState.PLACING
        if recovering and now - datetime.fromisoformat(doc["placing_since"]) < lease:
            return "busy", intent, False
        daydoc = txn.get(day_path(day)) or {}
        counted = (txn.get(orders_count_path(day)) or {}).get("count")
        sent = counted if isinstance(counted, int) else 0  # (a malformed count reads as none sent)
        kill = KillSwitch.from_doc(txn.get(KILL_SWITCH))
        halted = halted_reason(daydoc, intent.asset) or (kill.why if kill.engaged else None)
        if not recovering:  # (one in `placing` may be at the broker)
            refused = f"entries halted: {halted}" if halted else deps.config.guardrails.refusal(intent, sent)
            if intent.purpose.opens and refused:
                book = Book.from_doc(txn.get(bp))
                book.record_rejection(intent.intent_id)
                txn.set(bp, book.to_doc())
                txn.set(ip, advanced(doc, IntentState.REJECTED, now, reason=refused))
                return "rejected", intent, False
            txn.set(orders_count_path(day), {"count": sent + deps.config.guardrails.orders(intent)})
        txn.set(
            ip,
            {
                **advanced(doc, IntentState.PLACING, now),
                "placing_since": now.isoformat(),
                "attempts": int(doc.get("attempts", 0)) + 1,
            },
        )
        return "placing", intent, recovering

    outcome, found, recovering = deps.store.transaction(claim)
    if outcome == "malformed":
        return record_malformed(deps, data, str(found), attributes or {})
    assert isinstance(found, OrderIntent)
    intent = found
    if outcome == "busy":
        raise Busy(intent.intent_id)
    if outcome != "placing":
        log.info(f"{outcome}", extra=extra)
        return outcome

    try:
        if intent.purpose is Purpose.PROTECT:
            rested = stops.execute_protect(deps, intent, now, recovering)
            if rested == "resting":
                _flatten_if_killed(deps, intent)
            return rested
        if intent.purpose is Purpose.TRAIL:
            return stops.execute_trail(deps, intent, now)
        if not intent.purpose.opens and (converted := _convert(deps, intent, now)) is not None:
            return converted
    except BrokerUnavailable:
        log.warning("broker unavailable; the message will be delivered again", extra=extra)
        raise

    order: BrokerOrder | None = deps.broker.find_by_tag(intent.day, intent.tag) if recovering else None
    adopted = order is not None
    if order is None and not intent.purpose.opens:
        # Never more than the book holds: its stop may have filled (and been booked) since the exit was decided.
        held = _held_to_close(deps, intent)
        if held == 0:
            return _cancel(deps, intent, "the position is closed already: nothing to exit", now)
        intent = replace(intent, qty=min(intent.qty, held))
    if order is None:
        if intent.purpose.opens and now - intent.decided_at > ENTRY_TTL:
            return _reject(
                deps, intent, f"entry expired: not at the broker {ENTRY_TTL} after its decision", now
            )
        if intent.purpose.opens and recovering and (halted := _halted(deps, intent)):
            return _reject(deps, intent, f"entries halted: {halted}", now)  # not at the broker: never placed
        try:
            order = deps.broker.place(intent)
        except OrderRejected as e:
            return _reject(deps, intent, str(e), now)
        except BrokerUnavailable:
            log.warning("broker unavailable; the message will be delivered again", extra=extra)
            raise
    if order.status == "REJECTED":
        return _reject(deps, intent, order.message or "rejected by the broker", now)
    # Placed after an attempt whose fate is unknown (a timed-out request, or an earlier delivery that died
    # in `placing`): that attempt may still reach the broker, so the tag is looked up again for a while.
    unsure = order.ambiguous or (recovering and not adopted)
    return _record_fill(deps, intent, order, now, adopted, unsure)


def _flatten_if_killed(deps: Deps, intent: OrderIntent) -> None:
    """A stop that came to rest while the kill switch is engaged to flatten: its position was left out of
    the switch's exits (an exit beside a stop being placed could leave that stop on a closed position), so
    its exit goes now, converting the stop, not at the next tick."""
    kill = KillSwitch.from_doc(deps.store.get(KILL_SWITCH))
    if kill.engaged and kill.flatten:
        square_off(deps, intent.asset.value, reason=kill.why, stop_entries=False)


def _held_to_close(deps: Deps, intent: OrderIntent) -> int:
    """How much of the position the exit closes the book holds now (0: none, or only the other side)."""
    pos = Book.from_doc(deps.store.get(book_path(intent.day.isoformat(), intent.asset))).positions.get(
        intent.symbol
    )
    return abs(pos.qty) if pos is not None and (pos.qty > 0) == (intent.side is Side.SELL) else 0


def _cancel(deps: Deps, intent: OrderIntent, reason: str, now: datetime) -> str:
    """End the intent without an order, a WARNING (processed in the book, so nothing waits for it)."""
    out = _end(deps, intent, IntentState.CANCELLED, reason, now)
    log.warning(
        f"{intent.purpose} not sent: {reason}",
        extra={"component": "execute_order", "correlation_id": intent.intent_id},
    )
    return out


def _halted(deps: Deps, intent: OrderIntent) -> str | None:
    return halted_reason(deps.store.get(day_path(intent.day.isoformat())) or {}, intent.asset)


def _convert(deps: Deps, intent: OrderIntent, now: datetime) -> str | None:
    """An exit of a position whose stop rests at the broker turns that stop into the exit (never a second
    order that could fill beside it): the outcome, or None when there is no resting stop (or it ended
    unfilled: the exit is then placed as a new order)."""
    book = Book.from_doc(deps.store.get(book_path(intent.day.isoformat(), intent.asset)))
    pos = book.positions.get(intent.symbol)
    rest = pos.protect if pos is not None else None
    if rest is None:
        return None
    try:
        order = deps.broker.convert(rest.order_id, intent)
    except OrderRejected as e:
        return _reject(deps, intent, str(e), now)
    if order.filled_qty == 0 and order.status in ("REJECTED", "CANCELLED"):
        log.warning(
            f"the resting stop of {intent.symbol} ended unfilled ({order.message}): exiting with a new order",
            extra={"component": "execute_order", "correlation_id": intent.intent_id},
        )
        _forget_stop(deps, intent, rest.order_id)
        return None
    return _record_fill(deps, intent, order, now, adopted=False, converted=rest.order_id)


def _forget_stop(deps: Deps, intent: OrderIntent, order_id: str) -> None:
    bp = book_path(intent.day.isoformat(), intent.asset)

    def body(txn: Any) -> None:
        book = Book.from_doc(txn.get(bp))
        pos = book.positions.get(intent.symbol)
        if pos is not None and pos.protect is not None and pos.protect.order_id == order_id:
            pos.protect = None
            txn.set(bp, book.to_doc())

    deps.store.transaction(body)


def _reject(deps: Deps, intent: OrderIntent, reason: str, now: datetime) -> str:
    out = _end(deps, intent, IntentState.REJECTED, reason, now)
    log.error(
        f"order rejected: {reason}", extra={"component": "execute_order", "correlation_id": intent.intent_id}
    )
    return out


def _end(deps: Deps, intent: OrderIntent, state: IntentState, reason: str, now: datetime) -> str:
    """End the intent in ``state`` (rejected or cancelled) with its reason, once; the book counts it."""
    day = intent.day.isoformat()
    ip, bp = intent_path(day, intent.intent_id), book_path(day, intent.asset)

    def body(txn: Any) -> str:
        doc = txn.get(ip)
        if doc is None or IntentState(doc["state"]).terminal:
            return "duplicate"
        book = Book.from_doc(txn.get(bp))
        if state is IntentState.REJECTED:
            book.record_rejection(intent.intent_id)
        else:
            book.processed.append(intent.intent_id)
        txn.set(bp, book.to_doc())
        txn.set(ip, advanced(doc, state, now, reason=reason))
        return state.value

    return str(deps.store.transaction(body))


def _record_fill(
    deps: Deps,
    intent: OrderIntent,
    order: BrokerOrder,
    now: datetime,
    adopted: bool,
    unsure: bool = False,
    converted: str | None = None,
) -> str:
    """Book the order's fill as the intent's, in one transaction with the intent's state. An exit that
    converted the resting stop ``converted`` is booked only while the book still holds that stop (else the
    stop's own fill was booked first: the exit is cancelled), and the stop's protect intent ends with it.
    An entry's fill claims the protect intent that rests the new position's stop (published after)."""
    day = intent.day.isoformat()
    ip, bp = intent_path(day, intent.intent_id), book_path(day, intent.asset)
    charges = fill_charges(intent.segment, intent.side, order.executed, intent.day)
    protect: list[OrderIntent] = []
    booked: dict[str, Decimal] = {}  # what the fill realised, for the notification

    def body(txn: Any) -> str:
        protect.clear()
        doc = txn.get(ip)
        if doc is None or IntentState(doc["state"]).terminal:
            return "duplicate"
        book = Book.from_doc(txn.get(bp))
        before = book.positions.get(intent.symbol)
        rest = before.protect if before is not None else None
        stop_doc = txn.get(intent_path(day, rest.intent_id)) if converted and rest is not None else None
        if converted and (rest is None or rest.order_id != converted):
            book.processed.append(intent.intent_id)
            txn.set(bp, book.to_doc())
            txn.set(ip, advanced(doc, IntentState.CANCELLED, now, reason="the resting stop filled first"))
            return "cancelled"
        realized = book.apply_fill(
            intent, order.filled_qty, order.avg_price, charges.total, order.ts.isoformat()
        )
        booked["realized"] = realized
        if unsure:
            book.verify[intent.intent_id] = verification(intent, order.order_id, now)
        held = book.positions.get(intent.symbol)
        if converted:
            if held is not None:
                held.protect = None  # the converted order ended: what is left has no resting stop
            if stop_doc is not None:
                why = f"turned into the exit {intent.intent_id}"
                txn.set(
                    intent_path(day, stop_doc["intent_id"]),
                    advanced(stop_doc, IntentState.CANCELLED, now, reason=why),
                )
        elif held is not None and intent.purpose.opens and deps.config.resting_stops:
            p = protect_intent(intent, held, now, deps.config.stop_order)
            if p is not None:
                protect.append(p)
                held.protecting = p.intent_id
                txn.create(intent_path(day, p.intent_id), intent_doc(p, now))
        txn.set(bp, book.to_doc())
        txn.set(
            ip,
            {
                **advanced(doc, IntentState.FILLED, now, order_id=order.order_id),
                "order_id": order.order_id,
                "fill": {
                    "qty": order.filled_qty,
                    "price": str(order.avg_price),
                    "at": order.ts.isoformat(),
                    "charges": charges.as_dict(),
                    "realized": str(realized),
                    "adopted": adopted,
                    # an entry's stop and target as booked: moved with the fill (Book.apply_fill)
                    **({"stop": held.stop, "target": held.target} if held and intent.purpose.opens else {}),
                },
            },
        )
        return "adopted" if adopted else "filled"

    out = deps.store.transaction(body)
    log.info(
        f"{out}: {intent.side} {order.filled_qty} {intent.symbol} @ {order.avg_price} (charges ₹{charges.total})",
        extra={"component": "execute_order", "correlation_id": intent.intent_id},
    )
    publish(deps, protect)  # the new position's stop goes first: a notification never delays it
    notify.fill(deps, intent, order, str(out), booked.get("realized"))
    return str(out)
