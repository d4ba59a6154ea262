"""Claiming order intents: the state change and the intent documents are written in one transaction, then
the intents are published. A tick that dies in between leaves claimed intents that the next tick publishes
again; the executor is idempotent, so a second publication is harmless."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tron.domain.book import Book
from tron.domain.decide import Pending, TickContext
from tron.domain.models import Asset, Instrument, IntentState, OrderIntent, Snapshot
from tron.domain.plan import AssetPlan
from tron.domain.session import SessionState
from tron.services.deps import Deps, book_path, intent_path

log = logging.getLogger("tron.orders")
REPUBLISH_AFTER = timedelta(minutes=1)


def intent_doc(intent: OrderIntent, now: datetime) -> dict[str, Any]:
    return {
        **intent.to_dict(),
        "tag": intent.tag,
        "state": IntentState.CLAIMED.value,
        "claimed_at": now.isoformat(),
        "history": [{"state": IntentState.CLAIMED.value, "at": now.isoformat()}],
    }


def publish(deps: Deps, intents: list[OrderIntent]) -> None:
    for it in intents:
        deps.bus.publish(
            deps.config.orders_topic,
            it.to_dict(),
            {"intent_id": it.intent_id, "asset": it.asset.value, "purpose": it.purpose.value},
        )
        log.info(
            f"{it.purpose} {it.side} {it.qty} {it.symbol}: {it.reason}",
            extra={"component": "orders", "correlation_id": it.intent_id},
        )


def republish_stale(deps: Deps, day: str, pending_ids: list[str], now: datetime) -> int:
    """Publish again intents still only claimed a minute after their claim (a lost publish)."""
    n = 0
    for iid in pending_ids:
        doc = deps.store.get(intent_path(day, iid))
        if (
            doc
            and doc["state"] == IntentState.CLAIMED
            and now - datetime.fromisoformat(doc["claimed_at"]) >= REPUBLISH_AFTER
        ):
            publish(deps, [OrderIntent.from_dict(doc)])
            n += 1
    return n


def halted_reason(daydoc: dict[str, Any], asset: Asset) -> str | None:
    """Why entries are stopped for this asset today, if they are (the day halted, or squared off)."""
    if daydoc.get("halted"):
        return str(daydoc["halted"])
    return f"{asset} squared off" if asset.value in daydoc.get("squaring", []) else None


def instruments_from_doc(doc: dict[str, list[Any]], asset: Asset) -> dict[str, Instrument]:
    return {
        s: Instrument(s, v[0], asset, lot_size=int(v[1]), tick_size=Decimal(v[2]), segment=v[3], sector=v[4])
        for s, v in doc.items()
    }


def load_context(
    txn: Any,
    day: str,
    asset: Asset,
    state: dict[str, Any],
    now: datetime,
    plan: AssetPlan | None,
    halted: str | None,
    snapshot: Snapshot | None,
) -> TickContext:
    """The asset's state and book, as the pure decision sees them; pending drops what the book has settled."""
    book = Book.from_doc(txn.get(book_path(day, asset)))
    settled = set(book.processed)
    pending = {k: Pending(**v) for k, v in state["pending"].items() if k not in settled}
    return TickContext(
        asset,
        now.date(),
        now,
        plan,
        halted,
        instruments_from_doc(state["instruments"], asset),
        SessionState.from_doc(state["session"]),
        book,
        pending,
        snapshot,
        {k: v for k, v in state.get("trail", {}).items() if k in book.positions},
    )


def claim(txn: Any, day: str, ctx: TickContext, intents: list[OrderIntent], now: datetime) -> dict[str, Any]:
    """Create the intents' documents and note them as pending; returns the pending map to store."""
    for it in intents:
        ctx.pending.setdefault(it.intent_id, Pending(it.intent_id, it.symbol, it.purpose))
        txn.create(intent_path(day, it.intent_id), intent_doc(it, now))
    return {k: v.to_doc() for k, v in ctx.pending.items()}
