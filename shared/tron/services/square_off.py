"""square_off: stop entries for the asset and close every open position with a protected market order.

Scheduled in stages well before the broker's own square-off (equity 15:20, F&O 15:25); each stage only
sends exits for positions still open without an exit in flight. Also callable by hand
(`gcloud functions call square-off --data '{"asset":"all"}'`)."""

from __future__ import annotations

import logging
from typing import Any

from tron.domain.decide import exits_for
from tron.domain.models import Asset, OrderIntent, Purpose
from tron.services.deps import Deps, day_path, state_path
from tron.services.orders import claim, load_context, publish

log = logging.getLogger("tron.square_off")


def parse_assets(value: str) -> list[Asset]:
    if value == "all":
        return list(Asset)
    try:
        return [Asset(value)]
    except ValueError:
        raise ValueError(
            f"asset must be one of all, {', '.join(a.value for a in Asset)}; got {value!r}"
        ) from None


def square_off(deps: Deps, asset: str = "all", reason: str = "scheduled square-off") -> dict[str, Any]:
    assets = parse_assets(asset)
    now = deps.clock.now()
    day = now.date().isoformat()
    sent: dict[str, list[str]] = {}
    for a in assets:

        def body(txn: Any, a: Asset = a) -> list[OrderIntent]:
            daydoc = txn.get(day_path(day))
            state = txn.get(state_path(day, a))
            if daydoc is None:
                return []
            intents: list[OrderIntent] = []
            if state is not None:
                ctx = load_context(txn, day, a, state, now, None, reason, None)
                intents = exits_for(ctx, {}, Purpose.SQUARE_OFF, only=set(ctx.book.positions), reason=reason)
                txn.set(state_path(day, a), {**state, "pending": claim(txn, day, ctx, intents, now)})
            squaring = sorted(set(daydoc.get("squaring", [])) | {a.value})
            txn.set(day_path(day), {**daydoc, "squaring": squaring})
            return intents

        intents = deps.store.transaction(body)
        publish(deps, intents)
        sent[a.value] = [i.intent_id for i in intents]
        log.info(
            f"square-off {a}: {len(intents)} exit(s) sent",
            extra={"component": "square_off", "correlation_id": day},
        )
    return {"day": day, "exits": sent}
