"""tick: once a minute per asset — one batched snapshot, the pure decision, claimed and published intents
(:func:`tick`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tron.domain.book import Book
from tron.domain.context import TickDecision
from tron.domain.contracts import ContractRules, select_future
from tron.domain.decide import decide
from tron.domain.drift import Drift
from tron.domain.live import Guardrails
from tron.domain.models import Asset, Instrument, Position, Snapshot, is_tron_tag
from tron.domain.plan import AssetPlan, Plan
from tron.domain.risk import KillSwitch
from tron.domain.session import SessionState
from tron.domain.strategies import opening_range_minutes
from tron.domain.structure_decide import structure_legs
from tron.domain.structures import options_chain
from tron.ports import BrokerUnavailable
from tron.services import notify
from tron.services.claims import claim, publish, redrive
from tron.services.deps import Deps
from tron.services.duplicates import check_duplicates
from tron.services.paths import KILL_SWITCH, book_path, day_path, in_flight_path, replay_path, state_path
from tron.services.stats import roll_up_stats
from tron.services.stops import settle_drift, sync_stops
from tron.services.tick_state import (
    halted_reason,
    in_flight_summary,
    instruments_doc,
    instruments_from_doc,
    load_context,
    mtm_history,
)

log = logging.getLogger("tron.tick")
LEVELS = {  # the decision's events that are more than INFO: an ERROR alerts
    "halt": logging.ERROR,
    "drift": logging.ERROR,
    "drift_resolved": logging.WARNING,
    "foreign_order": logging.ERROR,
    "foreign_order_gone": logging.WARNING,
    "stale_quotes": logging.WARNING,
    "bad_quotes": logging.WARNING,
}


@dataclass
class TickResult:
    """What one tick did: its status, the ids of the intents it claimed, how many entries the governor
    refused, and why it did not run (skipped, duplicate, stale, or unavailable: no market data)."""

    status: str  # ran | skipped | duplicate | stale | unavailable
    intents: list[str] = field(default_factory=list)
    refused: int = 0
    reason: str = ""


def tradable(deps: Deps, asset: Asset, plan: AssetPlan, day: Any) -> tuple[list[Instrument], dict[str, str]]:
    """The instruments the asset's session follows, and the roles of the ones it does not trade.

    Stocks: the universe. Futures: the NIFTY future the roll rule selects (and the index, followed for
    reference). Options: the chain of the chosen expiry, plus the selected future (whose signals pick calls
    or puts) and the index (for strikes). The index (segment "index") is never traded."""
    if asset is Asset.STOCKS:
        listed = deps.market.instruments(asset)
        return (listed[: deps.config.universe_size] if deps.config.universe_size else listed), {}
    rules = ContractRules.from_doc(plan.contract)
    future = select_future(deps.market.instruments(Asset.FUTURES), day, rules.roll_days, deps.calendar)
    index = deps.config.index_symbol
    spot = Instrument(index, "NSE", asset, segment="index", sector="Index")  # followed, never traded
    if asset is Asset.FUTURES:
        return [future, spot], {"spot": index}
    chain = options_chain(
        deps.market.instruments(Asset.OPTIONS), day, rules.skip_expiry_day, plan.structure_spec()
    )
    return [future, spot, *chain], {"underlying": future.symbol, "spot": index}


def _seen(doc: dict[str, Any], minute: datetime) -> TickResult | None:
    """A tick for a minute already processed is a duplicate; one for an older minute arrived late (a retry
    that committed after the next minute's tick) and is stale: neither runs."""
    last = doc.get("last_minute")
    if last is None:
        return None
    done = datetime.fromisoformat(last)
    if done == minute:
        return TickResult("duplicate", reason="this minute was already processed")
    if done > minute:
        return TickResult(
            "stale", reason=f"minute {minute:%H:%M} is older than {done:%H:%M}, already processed"
        )
    return None


def tick(deps: Deps, asset: Asset) -> TickResult:
    """One minute of one asset: skipped without an armed plan enabling the asset, a duplicate or stale for a
    minute already processed (or older); else one batched snapshot (archived for replay), the pure decision
    in one transaction with the claimed intents, then the intents published, stuck ones driven again, an
    ambiguous placement's tag looked up again and the decision's events logged.

    Storage per tick is O(1) in the universe size: the day, the asset's state and its book, the other
    assets' books and entries in flight (days/{date}/risk/in_flight: the account-wide loss limit and
    margin), the kill switch (control/kill_switch) and, with half-Kelly on, the strategy statistics are
    read; the state, any new intents and a changed in-flight summary are written in one transaction. The
    first tick of a day picks the asset's instruments (:func:`tradable`: the futures roll, the options
    expiry) and folds the previous day's closed trades into stats/{asset}; with no contract to trade it is
    skipped with an ERROR. An engaged kill switch is logged once per asset at ERROR with "halt" in the
    message (the terraform halt metric alerts on it), its release once at WARNING.
    """
    now = deps.clock.now()
    day = now.date().isoformat()
    minute = now.replace(second=0, microsecond=0)
    extra = {"component": f"tick_{asset}", "correlation_id": f"{day}-{asset}-{now:%H%M}"}
    daydoc = deps.store.get(day_path(day))
    if daydoc is None or daydoc.get("status") not in ("armed",):
        return TickResult("skipped", reason="no armed plan for today")
    plan = Plan.from_doc(daydoc["plan"]).assets.get(asset)
    if plan is None or not plan.enabled:
        return TickResult("skipped", reason=f"{asset} not enabled in today's plan")
    first = deps.store.get(state_path(day, asset)) or _new_state(deps, asset, plan, now, extra)
    if isinstance(first, TickResult):
        return first
    if seen := _seen(first, minute):
        return _skip(seen, extra)
    try:
        snapshot = deps.market.snapshot(list(first["instruments"]))
    except BrokerUnavailable as e:  # the session is gone or Kite is down: this minute is not decided
        log.error(f"market data unavailable, minute {minute:%H:%M} not decided: {e}", extra=extra)
        return TickResult("unavailable", reason=str(e))
    held = _held(deps, day, asset)
    quotes = {s: q.to_row() for s, q in snapshot.quotes.items()}
    record = {"ts": snapshot.ts.isoformat(), "now": now.isoformat(), "quotes": quotes}
    if held:  # the candle just closed of each open position: what its resting stop was worked against
        try:
            record["bars"] = _last_candles(deps, sorted(held), minute)
        except BrokerUnavailable as e:  # a decided minute matters more than its replay record
            log.warning(f"minute candles not read for the replay record: {e}", extra=extra)
    deps.archive.append_lines(replay_path(day, asset), [json.dumps(record)])
    _sync(deps, asset, now, held, extra)
    try:  # after the stops' fills are booked: the book and TRON's orders against the broker's own account
        qty = deps.broker.net_positions(now.date())
        held = _held(deps, day, asset)  # with the fills just booked
        if _stop_may_have_filled(held, qty) and _sync(deps, asset, now, held, extra):
            qty = deps.broker.net_positions(now.date())  # a stop filled between the two reads: booked now
        broker_qty: dict[str, int] | None = qty
        working: dict[str, str] | None = _foreign_orders(deps, first["instruments"])
    except BrokerUnavailable as e:
        broker_qty = working = None
        log.warning(f"the broker's positions and orders not read this minute: {e}", extra=extra)
    margin = _structure_margin(deps, asset, plan, first, snapshot, now, extra)
    out = deps.store.transaction(
        lambda txn: _decide(
            txn,
            asset,
            now,
            plan,
            daydoc,
            first,
            snapshot,
            broker_qty,
            working,
            deps.config.guardrails,
            margin,
        )
    )
    if isinstance(out, TickResult):
        return _skip(out, extra)
    _note_kill_switch(out, asset, extra)
    publish(deps, out.decision.intents)
    stuck = redrive(deps, day, out.older + [p.protecting for p in held.values() if p.protecting], now)
    notify.stuck(deps, day, stuck)
    if out.verify:  # an ambiguous placement: is there a second order under its tag?
        check_duplicates(deps, asset, now)
    if out.drift:  # a position closed outside TRON: its resting stop must not open a new one
        settle_drift(deps, asset, now, out.drift)
    for ev in out.decision.events:
        level = LEVELS.get(ev["event"], logging.INFO)
        log.log(
            level,
            f"{ev['event']}: {ev.get('symbol', '')} {ev.get('reason', '')}".strip(),
            extra={**extra, "data": ev},
        )
        notify.tick_event(deps, asset, ev)
    refused = sum(1 for e in out.decision.events if e["event"] == "entry_refused")
    return TickResult("ran", [i.intent_id for i in out.decision.intents], refused)


def _sync(deps: Deps, asset: Asset, now: datetime, held: dict[str, Position], extra: dict[str, str]) -> int:
    """Book what the resting stops of ``held`` filled (tron.services.stops.sync_stops); how many."""
    if not any(p.protect is not None for p in held.values()):
        return 0
    try:
        return sync_stops(deps, asset, now, held)
    except BrokerUnavailable as e:  # the stops still rest at the broker; their fills are booked later
        log.warning(f"resting stops not checked this minute: {e}", extra=extra)
        return 0


def _structure_margin(
    deps: Deps,
    asset: Asset,
    plan: AssetPlan,
    state: dict[str, Any],
    snapshot: Snapshot,
    now: datetime,
    extra: dict[str, str],
) -> tuple[Decimal, Decimal] | None:
    """Before the day's structure enters, the broker's margin for its legs and the account's available
    margin (None: no broker calculator, nothing to enter now, or the broker cannot say: the decision's own
    SPAN-like estimate stands)."""
    if deps.margins is None or plan.structure is None or state.get("structures"):
        return None
    spec = plan.structure_spec()
    assert spec is not None
    if not spec.entry <= now.time() < spec.window_end:
        return None
    insts = instruments_from_doc(state["instruments"], asset)
    picked = structure_legs(spec, insts, snapshot.quotes, state.get("spot"), now, deps.config.guardrails)
    if isinstance(picked, str):
        return None  # the decision says why
    try:
        return deps.margins.basket(picked[0]), deps.margins.available()
    except BrokerUnavailable as e:
        log.warning(f"the broker's margin for {spec.name} not read, TRON's estimate used: {e}", extra=extra)
        return None


def _stop_may_have_filled(held: dict[str, Position], broker_qty: dict[str, int]) -> bool:
    """Whether the broker holds other than the book where a stop rests: it may have filled after its state
    was read (read again before calling it drift)."""
    return any(p.protect is not None and broker_qty.get(s, 0) != p.qty for s, p in held.items())


def _foreign_orders(deps: Deps, instruments: Any) -> dict[str, str]:
    """The orders TRON did not place working at the broker on the asset's symbols (one read): symbol → what."""
    return {
        w.symbol: f"{w.kind} {w.order_id} TRON did not place is {w.status.lower()}"
        for w in deps.broker.working_orders()
        if not is_tron_tag(w.tag) and w.symbol in instruments
    }


def _held(deps: Deps, day: str, asset: Asset) -> dict[str, Position]:
    return Book.from_doc(deps.store.get(book_path(day, asset))).positions


def _last_candles(deps: Deps, symbols: list[str], minute: datetime) -> dict[str, list[Any]]:
    """The candle of the minute before ``minute`` per symbol, as recorded for replays: [start, open, high,
    low, close, volume]."""
    out = {}
    for s in symbols:
        for c in deps.market.minute_bars(s, minute - timedelta(minutes=1)):
            if c.start < minute:
                out[s] = [c.start.isoformat(), c.open, c.high, c.low, c.close, c.volume]
    return out


def _new_state(
    deps: Deps, asset: Asset, plan: AssetPlan, now: datetime, extra: dict[str, str]
) -> dict[str, Any] | TickResult:
    """The day's first tick of the asset: its instruments (the futures roll, the options expiry) and a fresh
    session; the previous day's closed trades are folded into the statistics."""
    try:
        instruments, roles = tradable(deps, asset, plan, now.date())
    except ValueError as e:
        log.error(f"{asset}: no contract to trade: {e}", extra=extra)
        return TickResult("skipped", reason=f"no contract to trade: {e}")
    roll_up_stats(deps, asset, now.date())
    return {
        "instruments": instruments_doc(instruments),
        "pending": {},
        "last_minute": None,
        "session": SessionState.new(
            [i.symbol for i in instruments], or_minutes=opening_range_minutes(plan.strategies)
        ).to_doc(),
        **roles,
    }


@dataclass
class _Decided:
    decision: TickDecision
    older: list[str]  # the intents in flight before this tick
    kill: KillSwitch
    kill_noted: bool  # the engaged kill switch was already logged by an earlier tick
    verify: bool  # the book notes an ambiguous placement
    drift: Drift  # where the book and the broker differ


def _decide(
    txn: Any,
    asset: Asset,
    now: datetime,
    plan: AssetPlan,
    daydoc: dict[str, Any],
    first: dict[str, Any],
    snapshot: Snapshot,
    broker_qty: dict[str, int] | None,
    working: dict[str, str] | None,
    guardrails: Guardrails,
    margin: tuple[Decimal, Decimal] | None = None,
) -> _Decided | TickResult:
    """The transaction: read the state, book and account-wide figures, decide, claim the intents and store
    the state, the entries in flight and a halt (reads before writes; repeatable on contention)."""
    day = now.date().isoformat()
    sp = state_path(day, asset)
    minute = now.replace(second=0, microsecond=0)
    doc = txn.get(sp) or first
    if seen := _seen(doc, minute):
        return seen
    day_now = txn.get(day_path(day)) or daydoc
    kill = KillSwitch.from_doc(txn.get(KILL_SWITCH))
    ctx = load_context(txn, day, asset, doc, now, plan, halted_reason(day_now, asset), snapshot, kill)
    ctx.broker_qty, ctx.working = broker_qty, working
    ctx.frozen = day_now.get("frozen") or {}
    ctx.guardrails, ctx.broker_margin = guardrails, margin
    if plan.structure is not None:
        ctx.structure = plan.structure_spec()
        ctx.structures = list(doc.get("structures", []))
    pending_before = set(ctx.pending)
    decision = decide(ctx)
    flying = in_flight_summary(ctx)  # decide has added its entries to ctx.pending
    changed = flying != doc.get("in_flight", {"worst": "0", "margin": "0"})
    everyone = (txn.get(in_flight_path(day)) or {}) if changed else {}  # reads before any write
    pending = claim(txn, day, ctx, decision.intents, now)
    if changed:
        txn.set(in_flight_path(day), {**everyone, asset.value: flying})
    txn.set(
        sp,
        {
            **{k: doc[k] for k in ("underlying", "spot") if k in doc},
            "instruments": doc["instruments"],
            "last_minute": minute.isoformat(),
            "session": ctx.state.to_doc(),
            "pending": pending,
            "trail": ctx.trail,
            "kill_noted": kill.engaged,
            "in_flight": flying,
            "drift": {s: list(v) for s, v in ctx.drift.items()},
            "foreign": ctx.foreign,
            "mtm": mtm_history(doc, ctx, minute),
            **({"structures": ctx.structures} if ctx.structure is not None else {}),
        },
    )
    if decision.halt and not day_now.get("halted"):
        txn.set(day_path(day), {**day_now, "halted": decision.halt})
    return _Decided(
        decision,
        sorted(pending_before),
        kill,
        bool(doc.get("kill_noted")),
        bool(ctx.book.verify),
        dict(ctx.drift),
    )


def _note_kill_switch(out: _Decided, asset: Asset, extra: dict[str, str]) -> None:
    """An engaged kill switch is logged once per asset at ERROR with "halt" (the alert), its release once."""
    if out.kill.engaged and not out.kill_noted:
        what = "flattening every position" if out.kill.flatten else "entries stopped, positions kept"
        log.error(f"halt: {out.kill.why} ({asset}: {what})", extra={**extra, "data": out.kill.to_doc()})
    elif out.kill_noted and not out.kill.engaged:
        log.warning(f"kill switch released: {asset} entries resume", extra=extra)


def _skip(result: TickResult, extra: dict[str, str]) -> TickResult:
    if result.status == "stale":
        log.warning(f"stale tick skipped: {result.reason}", extra=extra)
    return result
