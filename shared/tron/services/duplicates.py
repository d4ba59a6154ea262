"""A second order under an intent's tag: found, and undone.

Kite has no idempotency key. A place request held in the network can reach the broker after the client gave
up on it, looked for its tag, found nothing and placed again: two orders, one of them booked. So after an
ambiguous placement the executor notes the intent in the book (`Book.verify`), and each tick of the asset
looks the tag up again until VERIFY_FOR after the placement. An extra order is an ERROR: cancelled while it
still works; what it filled is booked (its price and charges are real) and flattened by an exit intent."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from tron.domain.book import Book
from tron.domain.charges import fill_charges
from tron.domain.context import Pending
from tron.domain.models import Asset, OrderIntent, Purpose
from tron.ports import BrokerOrder, BrokerUnavailable, OrderRejected
from tron.services.claims import intent_doc, publish
from tron.services.deps import Deps
from tron.services.paths import book_path, intent_path, state_path

log = logging.getLogger("tron.duplicates")
VERIFY_FOR = timedelta(minutes=5)


def verification(intent: OrderIntent, order_id: str, now: datetime) -> dict[str, Any]:
    """What the book keeps to look an ambiguously placed intent's tag up again."""
    return {"tag": intent.tag, "order_id": order_id, "until": (now + VERIFY_FOR).isoformat(), "handled": []}


def _extras(deps: Deps, day: date, note: dict[str, Any]) -> list[BrokerOrder] | None:
    """The settled extra orders under the tag not yet handled (cancelling working ones first); None when
    the broker could not be asked, or an extra is still working: ask again at the next tick."""
    try:
        orders = deps.broker.orders_with_tag(day, note["tag"])
        extras = [o for o in orders if o.order_id != note["order_id"] and o.order_id not in note["handled"]]
        working = [o for o in extras if not o.ended]
        for o in working:
            try:
                deps.broker.cancel(o.order_id)
            except OrderRejected:
                pass  # it completed meanwhile: the next read says so
        if working:
            extras = [
                o
                for o in deps.broker.orders_with_tag(day, note["tag"])
                if o.order_id != note["order_id"] and o.order_id not in note["handled"]
            ]
    except BrokerUnavailable as e:
        log.warning(f"could not look tag {note['tag']} up again: {e}", extra={"component": "duplicates"})
        return None
    return None if any(not o.ended for o in extras) else extras


def undo_id(intent_id: str, order_id: str, what: str) -> str:
    """A deterministic intent id for booking (``what`` = "second") or flattening ("undo") an extra order
    found under an intent's tag."""
    return f"{intent_id}-{what}{hashlib.sha256(order_id.encode()).hexdigest()[:8]}"


def check_duplicates(deps: Deps, asset: Asset, now: datetime) -> list[OrderIntent]:
    """Look up again the tags the book notes; book and flatten each extra order. Returns the exits claimed
    (already published)."""
    day = now.date()
    d, bp, sp = day.isoformat(), book_path(day.isoformat(), asset), state_path(day.isoformat(), asset)
    notes = Book.from_doc(deps.store.get(bp)).verify
    checked = {iid: x for iid, note in notes.items() if (x := _extras(deps, day, note)) is not None}
    if not checked:
        return []

    def body(txn: Any) -> list[tuple[OrderIntent, BrokerOrder]]:
        book, state = Book.from_doc(txn.get(bp)), txn.get(sp)
        docs = {iid: txn.get(intent_path(d, iid)) for iid in checked}
        undone: list[tuple[OrderIntent, BrokerOrder]] = []
        for iid, extras in checked.items():
            note, doc = book.verify.get(iid), docs[iid]
            if note is None or doc is None:
                continue
            intent = OrderIntent.from_dict(doc)
            for o in extras:
                if o.order_id in note["handled"]:
                    continue
                note["handled"].append(o.order_id)
                if o.filled_qty == 0:
                    undone.append((intent, o))
                    continue
                second = replace(intent, intent_id=undo_id(iid, o.order_id, "second"), qty=o.filled_qty)
                charges = fill_charges(intent.segment, intent.side, o.executed, intent.day)
                book.apply_fill(second, o.filled_qty, o.avg_price, charges.total, o.ts.isoformat())
                flatten = replace(
                    intent,
                    intent_id=undo_id(iid, o.order_id, "undo"),
                    side=intent.side.opposite,
                    qty=o.filled_qty,
                    purpose=Purpose.EXIT,
                    reason=f"flatten the second order {o.order_id} under the tag of {iid}",
                    decided_at=now,
                    stop=None,
                    target=None,
                    atr=None,
                )
                txn.create(intent_path(d, flatten.intent_id), intent_doc(flatten, now))
                if state is not None:
                    state["pending"][flatten.intent_id] = Pending(
                        flatten.intent_id, flatten.symbol, flatten.purpose
                    ).to_doc()
                undone.append((flatten, o))
            if now >= datetime.fromisoformat(note["until"]):
                del book.verify[iid]
        txn.set(bp, book.to_doc())
        if state is not None:
            txn.set(sp, state)
        return undone

    undone = deps.store.transaction(body)
    for it, o in undone:
        what = f"flattened by {it.intent_id}" if it.purpose is Purpose.EXIT else "cancelled, nothing filled"
        log.error(
            f"a second order {o.order_id} ({o.status}, {o.filled_qty} filled) carries the tag of an intent "
            f"placed once: {what}",
            extra={"component": "duplicates", "correlation_id": it.intent_id},
        )
    flattens = [it for it, o in undone if o.filled_qty]
    publish(deps, flattens)
    return flattens
