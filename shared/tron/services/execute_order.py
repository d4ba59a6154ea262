"""execute_order: turn one delivered order intent into exactly one broker order, whatever the delivery count.

1. In a transaction: a terminal intent is a duplicate delivery (counted, ignored); an entry on a halted day is
   rejected; otherwise the intent moves to `placing` with a lease.
2. Outside it: if an earlier attempt got as far as `placing`, the broker is asked for an order with the
   intent's tag and that order is adopted; only if there is none is the order placed.
3. In a transaction: the fill is booked (position, realised P&L, cash flow, charges) and the intent is filled.
A crash anywhere leaves a state that the next delivery resolves without a second order."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from tron.domain.book import Book
from tron.domain.charges import order_charges
from tron.domain.models import IntentState, OrderIntent
from tron.ports import BrokerOrder, BrokerUnavailable, OrderRejected
from tron.services.deps import Deps, book_path, day_path, intent_path
from tron.services.orders import halted_reason

log = logging.getLogger("tron.execute_order")


class Busy(Exception):
    """Another delivery holds the placing lease: try again later."""


def _history(doc: dict[str, Any], state: IntentState, at: datetime, **info: Any) -> dict[str, Any]:
    return {
        **doc,
        "state": state.value,
        "history": [*doc.get("history", []), {"state": state.value, "at": at.isoformat(), **info}],
    }


def execute_order(deps: Deps, data: bytes, attributes: dict[str, str] | None = None) -> str:
    """Returns the outcome: filled | adopted | duplicate | rejected | malformed | unknown. Raises Busy or
    BrokerUnavailable for a retry."""
    now = deps.clock.now()
    try:
        intent = OrderIntent.from_dict(json.loads(data))
    except (ValueError, TypeError) as e:
        digest = hashlib.sha256(data).hexdigest()[:16]
        deps.store.set(
            f"malformed/{digest}",
            {
                "data": data.decode("utf-8", "replace")[:2000],
                "error": str(e),
                "attributes": attributes or {},
                "at": now.isoformat(),
            },
        )
        log.error(
            f"malformed order message dropped: {e}",
            extra={"component": "execute_order", "correlation_id": digest},
        )
        return "malformed"
    day = intent.day.isoformat()
    ip, bp = intent_path(day, intent.intent_id), book_path(day, intent.asset)
    extra = {"component": "execute_order", "correlation_id": intent.intent_id}
    lease = timedelta(seconds=deps.config.placing_lease_seconds)

    def claim(txn: Any) -> tuple[str, bool]:
        doc = txn.get(ip)
        if doc is None:
            return "unknown", False
        state = IntentState(doc["state"])
        if state.terminal:
            book = Book.from_doc(txn.get(bp))
            book.duplicates_ignored += 1
            txn.set(bp, book.to_doc())
            return "duplicate", False
        recovering = state is IntentState.PLACING
        if recovering and now - datetime.fromisoformat(doc["placing_since"]) < lease:
            return "busy", False
        daydoc = txn.get(day_path(day)) or {}
        halted = halted_reason(daydoc, intent.asset)
        if intent.purpose.opens and halted:
            book = Book.from_doc(txn.get(bp))
            book.record_rejection(intent.intent_id)
            txn.set(bp, book.to_doc())
            txn.set(ip, _history(doc, IntentState.REJECTED, now, reason=f"entries halted: {halted}"))
            return "rejected", False
        txn.set(
            ip,
            {
                **_history(doc, IntentState.PLACING, now),
                "placing_since": now.isoformat(),
                "attempts": int(doc.get("attempts", 0)) + 1,
            },
        )
        return "placing", recovering

    outcome, recovering = deps.store.transaction(claim)
    if outcome == "busy":
        raise Busy(intent.intent_id)
    if outcome == "unknown":
        log.error("order message for an intent that was never claimed: ignored", extra=extra)
        return outcome
    if outcome != "placing":
        log.info(f"{outcome}", extra=extra)
        return outcome

    order: BrokerOrder | None = deps.broker.find_by_tag(intent.day, intent.tag) if recovering else None
    adopted = order is not None
    if order is None:
        try:
            order = deps.broker.place(intent)
        except OrderRejected as e:
            return _reject(deps, intent, str(e), now)
        except BrokerUnavailable:
            log.warning("broker unavailable; the message will be delivered again", extra=extra)
            raise
    if order.status == "REJECTED":
        return _reject(deps, intent, order.message or "rejected by the broker", now)
    return _record_fill(deps, intent, order, now, adopted)


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


def _record_fill(deps: Deps, intent: OrderIntent, order: BrokerOrder, now: datetime, adopted: bool) -> str:
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
