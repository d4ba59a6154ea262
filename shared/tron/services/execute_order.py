"""execute_order: turn one delivered order message into exactly one broker order, whatever the delivery count.

:func:`execute_push` is the HTTP entry point (one Pub/Sub push); :func:`execute_order` does the work. The
message only names an intent; the claimed intent document is the only truth.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from tron.domain.book import Book
from tron.domain.charges import order_charges
from tron.domain.models import IntentState, OrderIntent
from tron.ports import BrokerOrder, BrokerUnavailable, OrderRejected
from tron.services import messages
from tron.services.deps import Deps
from tron.services.duplicates import verification
from tron.services.messages import BadRequest
from tron.services.paths import book_path, day_path, intent_path, malformed_path
from tron.services.tick_state import halted_reason

log = logging.getLogger("tron.execute_order")
ENTRY_TTL = timedelta(minutes=3)  # an entry not at the broker this long after its decision is not placed


class Busy(Exception):
    """Another delivery holds the placing lease: try again later."""


def _history(doc: dict[str, Any], state: IntentState, at: datetime, **info: Any) -> dict[str, Any]:
    return {
        **doc,
        "state": state.value,
        "history": [*doc.get("history", []), {"state": state.value, "at": at.isoformat(), **info}],
    }


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
       on a halted day is rejected; an intent another delivery is placing, within its lease
       (``placing_lease_seconds``), raises Busy; otherwise the intent moves to `placing` with a lease.
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
        halted = halted_reason(daydoc, intent.asset)
        if intent.purpose.opens and halted:
            book = Book.from_doc(txn.get(bp))
            book.record_rejection(intent.intent_id)
            txn.set(bp, book.to_doc())
            txn.set(ip, _history(doc, IntentState.REJECTED, now, reason=f"entries halted: {halted}"))
            return "rejected", intent, False
        txn.set(
            ip,
            {
                **_history(doc, IntentState.PLACING, now),
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

    order: BrokerOrder | None = deps.broker.find_by_tag(intent.day, intent.tag) if recovering else None
    adopted = order is not None
    if order is None:
        if intent.purpose.opens and now - intent.decided_at > ENTRY_TTL:
            return _reject(
                deps, intent, f"entry expired: not at the broker {ENTRY_TTL} after its decision", now
            )
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


def _reject(deps: Deps, intent: OrderIntent, reason: str, now: datetime) -> str:
    day = intent.day.isoformat()
    ip, bp = intent_path(day, intent.intent_id), book_path(day, intent.asset)

    def body(txn: Any) -> str:
        doc = txn.get(ip)
        if doc is None or IntentState(doc["state"]).terminal:
            return "duplicate"
        book = Book.from_doc(txn.get(bp))
        book.record_rejection(intent.intent_id)
        txn.set(bp, book.to_doc())
        txn.set(ip, _history(doc, IntentState.REJECTED, now, reason=reason))
        return "rejected"

    out = deps.store.transaction(body)
    log.error(
        f"order rejected: {reason}", extra={"component": "execute_order", "correlation_id": intent.intent_id}
    )
    return out


def _record_fill(
    deps: Deps, intent: OrderIntent, order: BrokerOrder, now: datetime, adopted: bool, unsure: bool = False
) -> str:
    day = intent.day.isoformat()
    ip, bp = intent_path(day, intent.intent_id), book_path(day, intent.asset)
    charges = order_charges(intent.segment, intent.side, order.avg_price, order.filled_qty, intent.day)

    def body(txn: Any) -> str:
        doc = txn.get(ip)
        if doc is None or IntentState(doc["state"]).terminal:
            return "duplicate"
        book = Book.from_doc(txn.get(bp))
        realized = book.apply_fill(
            intent, order.filled_qty, order.avg_price, charges.total, order.ts.isoformat()
        )
        if unsure:
            book.verify[intent.intent_id] = verification(intent, order.order_id, now)
        held = book.positions.get(intent.symbol)
        txn.set(bp, book.to_doc())
        txn.set(
            ip,
            {
                **_history(doc, IntentState.FILLED, now, order_id=order.order_id),
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
    return out
