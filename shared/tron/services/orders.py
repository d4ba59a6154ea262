"""Claiming order intents: the state change and the intent documents are written in one transaction, then
the intents are published. A tick that dies in between leaves claimed intents that the next tick publishes
again; the executor is idempotent, so a second publication is harmless."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tron.domain.models import IntentState, OrderIntent
from tron.services.deps import Deps, intent_path

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
