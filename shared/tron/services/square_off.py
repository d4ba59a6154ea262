"""square_off: stop entries for the asset and close every open position with a protected market order.

Scheduled in stages well before the broker's own square-off (equity 15:20, F&O 15:25); each stage only
sends exits for positions still open without an exit in flight. Also callable by hand
(`gcloud functions call square-off --data '{"asset":"all"}'`)."""

from __future__ import annotations

import logging
from datetime import time
from typing import Any

from tron.domain.decide import exits_for
from tron.domain.models import Asset, OrderIntent, Purpose
from tron.services.deps import Deps, day_path, state_path
from tron.services.orders import claim, load_context, publish

log = logging.getLogger("tron.square_off")

# Zerodha's own MIS square-off (kite-and-nse.md): ours must have finished before it, or each position left
# is closed by the broker at ₹50 + GST per order.
BROKER_SQUARE_OFF = {Asset.STOCKS: time(15, 20), Asset.FUTURES: time(15, 25), Asset.OPTIONS: time(15, 25)}


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
        if intents and now.time() >= BROKER_SQUARE_OFF[a]:
            log.error(
                f"square-off {a}: {len(intents)} exit(s) sent after the broker's {BROKER_SQUARE_OFF[a]:%H:%M} "
                "auto square-off",
                extra={"component": "square_off", "correlation_id": day},
            )
        log.info(
            f"square-off {a}: {len(intents)} exit(s) sent",
            extra={"component": "square_off", "correlation_id": day},
        )
    return {"day": day, "exits": sent}
