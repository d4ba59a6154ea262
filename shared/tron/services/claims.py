"""Claiming order intents and driving them: the intent documents are created in the tick's transaction, then
a message naming each is published. A tick that dies in between leaves claimed intents that the next tick
publishes again (the executor is idempotent, so a second publication is harmless); an intent stuck past
its lease is driven again and resolved by its tag."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tron.domain.context import Pending, TickContext
from tron.domain.models import IntentState, OrderIntent
from tron.services.deps import Deps
from tron.services.messages import order_message
from tron.services.paths import intent_path

log = logging.getLogger("tron.orders")
REPUBLISH_AFTER = timedelta(minutes=1)


def intent_doc(intent: OrderIntent, now: datetime) -> dict[str, Any]:
    """The intent's document as claimed at ``now``: its fields, its tag, state "claimed" and the history."""
    return {
        **intent.to_dict(),
        "tag": intent.tag,
        "state": IntentState.CLAIMED.value,
        "claimed_at": now.isoformat(),
        "history": [{"state": IntentState.CLAIMED.value, "at": now.isoformat()}],
    }


def advanced(doc: dict[str, Any], state: IntentState, at: datetime, **info: Any) -> dict[str, Any]:
    """The intent document moved to ``state`` at ``at``, the step (with ``info``) added to its history."""
    return {
        **doc,
        "state": state.value,
        "history": [*doc.get("history", []), {"state": state.value, "at": at.isoformat(), **info}],
    }


def publish(deps: Deps, intents: list[OrderIntent], note: bool = True) -> None:
    """Publish a message naming each claimed intent (the executor reads the claim, not the message)."""
    for it in intents:
        deps.bus.publish(
            deps.config.orders_topic,
            order_message(it),
            {"intent_id": it.intent_id, "asset": it.asset.value, "purpose": it.purpose.value},
        )
        if note:
            log.info(
                f"{it.purpose} {it.side} {it.qty} {it.symbol}: {it.reason}",
                extra={"component": "orders", "correlation_id": it.intent_id},
            )


def stuck(doc: dict[str, Any], now: datetime, lease: timedelta) -> str | None:
    """Why an intent needs driving again, or None: still only claimed a minute after its claim (a lost
    publish), or left in `placing` past its lease (the executor died, or its deliveries ran out while the
    broker was unreachable and the message was dead-lettered)."""
    state = doc.get("state")
    if state == IntentState.CLAIMED:
        waited = now - datetime.fromisoformat(doc["claimed_at"])
        return f"claimed {waited} ago and not yet taken" if waited >= REPUBLISH_AFTER else None
    if state == IntentState.PLACING:
        waited = now - datetime.fromisoformat(doc["placing_since"])
        return f"in placing for {waited}, past its lease" if waited >= lease else None
    return None


def redrive(deps: Deps, day: str, intent_ids: list[str], now: datetime, force: str = "") -> list[str]:
    """Publish again every intent of `intent_ids` that is stuck (see `stuck`), or, with `force` (the
    reason), every one not yet filled or rejected. The executor resolves a `placing` one by its tag
    (adopting the broker's order, if any) before it places anything, so a re-drive never places twice. A
    stuck exit is an ERROR: it means the broker was unreachable past the retries."""
    lease = timedelta(seconds=deps.config.placing_lease_seconds)
    out = []
    for iid in intent_ids:
        doc = deps.store.get(intent_path(day, iid))
        if doc is None or IntentState(doc["state"]).terminal:
            continue
        why = stuck(doc, now, lease)
        if why is None and not force:
            continue
        intent = OrderIntent.from_dict(doc)
        publish(deps, [intent], note=False)
        level = logging.INFO if why is None else logging.WARNING if intent.purpose.opens else logging.ERROR
        log.log(
            level,
            f"{'stuck ' if why else ''}{intent.purpose} {intent.side} {intent.qty} {intent.symbol} re-driven: "
            f"{why or force}",
            extra={"component": "orders", "correlation_id": iid},
        )
        out.append(iid)
    return out


def claim(txn: Any, day: str, ctx: TickContext, intents: list[OrderIntent], now: datetime) -> dict[str, Any]:
    """Create the intents' documents and note them as pending; returns the pending map to store."""
    for it in intents:
        ctx.pending.setdefault(it.intent_id, Pending(it.intent_id, it.symbol, it.purpose))
        txn.create(intent_path(day, it.intent_id), intent_doc(it, now))
    return {k: v.to_doc() for k, v in ctx.pending.items()}
