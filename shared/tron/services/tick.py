"""tick: once a minute per asset — one batched snapshot, the pure decision, claimed and published intents.

Storage per tick is O(1) in the universe size: the day, the asset's state and its book are read; the state
and any new intents are written in one transaction."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from tron.domain.decide import decide
from tron.domain.models import Asset, Instrument
from tron.domain.plan import Plan
from tron.domain.session import SessionState
from tron.domain.strategies import opening_range_minutes
from tron.services.deps import Deps, day_path, state_path
from tron.services.orders import claim, halted_reason, load_context, publish, republish_stale

log = logging.getLogger("tron.tick")


@dataclass
class TickResult:
    status: str  # ran | skipped | duplicate
    intents: list[str] = field(default_factory=list)
    refused: int = 0
    reason: str = ""


def _instruments_doc(instruments: list[Instrument]) -> dict[str, list[Any]]:
    return {i.symbol: [i.exchange, i.lot_size, str(i.tick_size), i.segment, i.sector] for i in instruments}


def tick(deps: Deps, asset: Asset) -> TickResult:
    now = deps.clock.now()
    day = now.date().isoformat()
    minute = now.replace(second=0, microsecond=0).isoformat()
    tick_id = f"{day}-{asset}-{now:%H%M}"
    extra = {"component": f"tick_{asset}", "correlation_id": tick_id}
    daydoc = deps.store.get(day_path(day))
    if daydoc is None or daydoc.get("status") not in ("armed",):
        return TickResult("skipped", reason="no armed plan for today")
    plan = Plan.from_doc(daydoc["plan"]).assets.get(asset)
    if plan is None or not plan.enabled:
        return TickResult("skipped", reason=f"{asset} not enabled in today's plan")

    sp = state_path(day, asset)
    first = deps.store.get(sp)
    if first is None:
        instruments = deps.market.instruments(asset)
        if deps.config.universe_size:
            instruments = instruments[: deps.config.universe_size]
        first = {
            "instruments": _instruments_doc(instruments),
            "pending": {},
            "last_minute": None,
            "session": SessionState.new(
                [i.symbol for i in instruments], or_minutes=opening_range_minutes(plan.strategies)
            ).to_doc(),
        }
    if first.get("last_minute") == minute:
        return TickResult("duplicate", reason="this minute was already processed")
    symbols = list(first["instruments"])
    snapshot = deps.market.snapshot(symbols)
    deps.archive.append_lines(
        f"replay/{day}/{asset}.jsonl",
        [
            json.dumps(
                {
                    "ts": snapshot.ts.isoformat(),
                    "now": now.isoformat(),
                    "quotes": {
                        s: [
                            q.ts.isoformat(),
                            q.last,
                            q.bid,
                            q.ask,
                            q.volume,
                            q.open,
                            q.high,
                            q.low,
                            q.prev_close,
                        ]
                        for s, q in snapshot.quotes.items()
                    },
                }
            )
        ],
    )

    def body(txn: Any) -> tuple[Any, list[str]] | None:
        doc = txn.get(sp) or first
        if doc.get("last_minute") == minute:
            return None
        day_now = txn.get(day_path(day)) or daydoc
        ctx = load_context(txn, day, asset, doc, now, plan, halted_reason(day_now, asset), snapshot)
        pending_before = set(ctx.pending)
        decision = decide(ctx)
        pending = claim(txn, day, ctx, decision.intents, now)
        txn.set(
            sp,
            {
                "instruments": doc["instruments"],
                "last_minute": minute,
                "session": ctx.state.to_doc(),
                "pending": pending,
                "trail": ctx.trail,
            },
        )
        if decision.halt and not day_now.get("halted"):
            txn.set(day_path(day), {**day_now, "halted": decision.halt})
        return decision, sorted(pending_before)

    out = deps.store.transaction(body)
    if out is None:
        return TickResult("duplicate", reason="this minute was already processed")
    decision, older = out
    publish(deps, decision.intents)
    republish_stale(deps, day, older, now)
    for ev in decision.events:
        level = {"halt": logging.ERROR, "stale_quotes": logging.WARNING}.get(ev["event"], logging.INFO)
        log.log(
            level,
            f"{ev['event']}: {ev.get('symbol', '')} {ev.get('reason', '')}".strip(),
            extra={**extra, "data": ev},
        )
    refused = sum(1 for e in decision.events if e["event"] == "entry_refused")
    return TickResult("ran", [i.intent_id for i in decision.intents], refused)
