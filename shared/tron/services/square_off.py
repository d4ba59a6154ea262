"""square_off: stop entries for the asset and close every open position with a protected market order.

Scheduled in stages well before the broker's own square-off (equity 15:20, F&O 15:25); each stage only
sends exits for positions still open without an exit in flight. Also callable by hand
(`gcloud functions call square-off --data '{"asset":"all"}'`)."""

from __future__ import annotations

import logging
from typing import Any

from tron.domain.book import Book
from tron.domain.decide import Pending, TickContext, exits_for
from tron.domain.models import Asset, Purpose
from tron.domain.session import SessionState
from tron.services.deps import Deps, book_path, day_path, intent_path, state_path
from tron.services.orders import intent_doc, publish
from tron.services.tick import instruments_from_doc

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

        def body(txn: Any, a: Asset = a) -> list[Any]:
            daydoc = txn.get(day_path(day))
            doc = txn.get(state_path(day, a))
            book = Book.from_doc(txn.get(book_path(day, a)))
            if daydoc is None:
                return []
            squaring = sorted(set(daydoc.get("squaring", [])) | {a.value})
            if doc is None:
                txn.set(day_path(day), {**daydoc, "squaring": squaring})
                return []
            pending = {k: Pending(**v) for k, v in doc["pending"].items() if k not in set(book.processed)}
            ctx = TickContext(
                a,
                now.date(),
                now,
                None,
                reason,
                instruments_from_doc(doc["instruments"], a),
                SessionState.from_doc(doc["session"]),
                book,
                pending,
                None,
            )  # type: ignore[arg-type]
            intents = exits_for(ctx, {}, Purpose.SQUARE_OFF, only=set(book.positions), reason=reason)
            for it in intents:
                pending[it.intent_id] = Pending(it.intent_id, it.symbol, it.purpose)
                txn.create(intent_path(day, it.intent_id), intent_doc(it, now))
            txn.set(state_path(day, a), {**doc, "pending": {k: v.to_doc() for k, v in pending.items()}})
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
