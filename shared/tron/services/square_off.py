"""square_off: stop entries for the asset and close every open position with a protected market order,
scheduled in stages well before the broker's own square-off (equity 15:20, F&O 15:25), or by hand
(`gcloud functions call square-off --data '{"asset":"all"}'`)."""

from __future__ import annotations

import logging
from datetime import time
from typing import Any

from tron.domain.decide import exits_for
from tron.domain.models import Asset, OrderIntent, Purpose
from tron.services.claims import claim, publish, redrive
from tron.services.deps import Deps
from tron.services.messages import BadRequest, json_object
from tron.services.paths import day_path, state_path
from tron.services.tick_state import load_context

log = logging.getLogger("tron.square_off")

# Zerodha's own MIS square-off (kite-and-nse.md): ours must have finished before it, or each position left
# is closed by the broker at ₹50 + GST per order.
BROKER_SQUARE_OFF = {Asset.STOCKS: time(15, 20), Asset.FUTURES: time(15, 25), Asset.OPTIONS: time(15, 25)}


def parse_assets(value: str) -> list[Asset]:
    """Every asset for "all", else the one named; ValueError for anything else."""
    if value == "all":
        return list(Asset)
    try:
        return [Asset(value)]
    except ValueError:
        raise ValueError(
            f"asset must be one of all, {', '.join(a.value for a in Asset)}; got {value!r}"
        ) from None


def square_off_request(deps: Deps, body: bytes) -> tuple[int, dict[str, Any]]:
    """The square-off function's HTTP call: a JSON object naming the asset (`{"asset": "all"}`, or stocks,
    futures, options). Anything else (a truncated body, a list, no asset) is a 400 that changes nothing."""
    try:
        asset = json_object(body, required=True).get("asset")
        if not isinstance(asset, str):
            raise BadRequest(f'name the asset: {{"asset": "all"}} (or {", ".join(a.value for a in Asset)})')
        parse_assets(asset)
    except (BadRequest, ValueError) as e:
        return getattr(e, "status", 400), {"error": str(e)}
    return 200, square_off(deps, asset, reason="manual square-off")


def square_off(
    deps: Deps, asset: str = "all", reason: str = "scheduled square-off", stop_entries: bool = True
) -> dict[str, Any]:
    """Square off one asset or "all" (ValueError for another name); returns ``{"day", "exits"}``, the
    intent ids sent per asset.

    For each asset, in one transaction: mark it squaring in the day's document (entries stop for the rest
    of the day; not with ``stop_entries`` False: the kill switch stops them itself) and claim an exit, with ``reason``, for every open position without an exit in flight; then
    publish them and drive again the exit in flight of every other one (a stuck or dead-lettered exit is
    resolved by its tag, never placed twice). Each stage skips no open position. Exits sent at or after the
    broker's own square-off (``BROKER_SQUARE_OFF``) are logged at ERROR. A day without a document is left
    alone.
    """
    assets = parse_assets(asset)
    now = deps.clock.now()
    day = now.date().isoformat()
    sent: dict[str, list[str]] = {}
    for a in assets:

        def body(txn: Any, a: Asset = a) -> tuple[list[OrderIntent], list[str]]:
            daydoc = txn.get(day_path(day))
            state = txn.get(state_path(day, a))
            if daydoc is None:
                return [], []
            intents: list[OrderIntent] = []
            flying: list[str] = []
            if state is not None:
                ctx = load_context(txn, day, a, state, now, None, reason, None)
                flying = [
                    iid
                    for iid, p in ctx.pending.items()
                    if p.purpose != Purpose.ENTRY and p.symbol in ctx.book.positions
                ]
                intents = exits_for(ctx, {}, Purpose.SQUARE_OFF, only=set(ctx.book.positions), reason=reason)
                txn.set(state_path(day, a), {**state, "pending": claim(txn, day, ctx, intents, now)})
            if stop_entries:
                squaring = sorted(set(daydoc.get("squaring", [])) | {a.value})
                txn.set(day_path(day), {**daydoc, "squaring": squaring})
            return intents, flying

        intents, flying = deps.store.transaction(body)
        publish(deps, intents)
        again = redrive(deps, day, flying, now, force=f"{reason}: the exit in flight is driven again")
        sent[a.value] = [i.intent_id for i in intents] + again
        if (intents or again) and now.time() >= BROKER_SQUARE_OFF[a]:
            log.error(
                f"square-off {a}: {len(intents) + len(again)} exit(s) sent after the broker's "
                f"{BROKER_SQUARE_OFF[a]:%H:%M} auto square-off",
                extra={"component": "square_off", "correlation_id": day},
            )
        log.info(
            f"square-off {a}: {len(intents)} exit(s) sent, {len(again)} in flight driven again",
            extra={"component": "square_off", "correlation_id": day},
        )
    return {"day": day, "exits": sent}
