"""Claiming order intents: the state change and the intent documents are written in one transaction, then
the intents are published. A tick that dies in between leaves claimed intents that the next tick publishes
again; the executor is idempotent, so a second publication is harmless."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tron.domain.book import Book
from tron.domain.contracts import ContractRules
from tron.domain.decide import Pending, TickContext, position_worst_loss
from tron.domain.models import Asset, Instrument, IntentState, OrderIntent, Snapshot
from tron.domain.money import ZERO
from tron.domain.plan import AssetPlan
from tron.domain.risk import KillSwitch, margin_required
from tron.domain.session import SessionState
from tron.domain.sizing import StrategyStats, closed_trades
from tron.services.deps import Deps, book_path, intent_path
from tron.services.messages import order_message

log = logging.getLogger("tron.orders")
REPUBLISH_AFTER = timedelta(minutes=1)
KILL_SWITCH_PATH = "control/kill_switch"  # {engaged: bool, reason: str, flatten: bool}; see KillSwitch


def stats_path(asset: str) -> str:
    return f"stats/{asset}"


def roll_up_stats(deps: Deps, asset: Asset, day: date) -> None:
    """At a day's first tick: fold the previous trading day's closed trades in (if the end of day did not)."""
    fold_day_stats(deps, asset, deps.calendar.previous_trading_day(day).isoformat())


def fold_day_stats(deps: Deps, asset: Asset, prev: str) -> None:
    """Fold a day's closed trades into stats/{asset} (per strategy: trades, wins, sums of wins and losses);
    half-Kelly sizing reads them. Idempotent: each day is folded once (end_of_day may call it too)."""
    path = stats_path(asset)
    doc = deps.store.get(path) or {"days": [], "strategies": {}}
    if prev in doc["days"]:
        return
    fills = [
        d
        for _, d in deps.store.list(f"days/{prev}/intents")
        if d.get("state") == IntentState.FILLED and d.get("asset") == asset.value and "fill" in d
    ]
    stats = {k: StrategyStats.from_doc(v) for k, v in doc["strategies"].items()}
    for strategy, net in closed_trades(fills):
        stats[strategy] = stats.get(strategy, StrategyStats()).add(net)
    deps.store.set(
        path,
        {"days": [*doc["days"], prev][-400:], "strategies": {k: v.to_doc() for k, v in stats.items()}},
    )


def instruments_doc(instruments: list[Instrument]) -> dict[str, list[Any]]:
    return {
        i.symbol: [
            i.exchange,
            i.lot_size,
            str(i.tick_size),
            i.segment,
            i.sector,
            i.expiry.isoformat() if i.expiry else None,
            i.strike,
            i.option_type,
            i.underlying,
        ]
        for i in instruments
    }


def intent_doc(intent: OrderIntent, now: datetime) -> dict[str, Any]:
    return {
        **intent.to_dict(),
        "tag": intent.tag,
        "state": IntentState.CLAIMED.value,
        "claimed_at": now.isoformat(),
        "history": [{"state": IntentState.CLAIMED.value, "at": now.isoformat()}],
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


def halted_reason(daydoc: dict[str, Any], asset: Asset) -> str | None:
    """Why entries are stopped for this asset today, if they are (the day halted, or squared off)."""
    if daydoc.get("halted"):
        return str(daydoc["halted"])
    return f"{asset} squared off" if asset.value in daydoc.get("squaring", []) else None


def instruments_from_doc(doc: dict[str, list[Any]], asset: Asset) -> dict[str, Instrument]:
    out = {}
    for s, v in doc.items():
        extra = list(v[5:9]) + [None, None, "", ""][len(v[5:9]) :]
        out[s] = Instrument(
            s,
            v[0],
            asset,
            lot_size=int(v[1]),
            tick_size=Decimal(v[2]),
            segment=v[3],
            sector=v[4],
            expiry=date.fromisoformat(extra[0]) if extra[0] else None,
            strike=None if extra[1] is None else float(extra[1]),
            option_type=str(extra[2] or ""),
            underlying=str(extra[3] or ""),
        )
    return out


def in_flight_path(day: str) -> str:
    """One small document per day, a field per asset: the worst case and margin of the asset's entries still
    in flight, so the other assets' ticks count them (and, in a Firestore transaction, conflict with a
    concurrent change). One document keeps a tick's reads few."""
    return f"days/{day}/risk/in_flight"


def in_flight_summary(ctx: TickContext) -> dict[str, str]:
    entries = [p for p in ctx.pending.values() if p.purpose == "entry"]
    return {
        "worst": str(sum((Decimal(p.worst_loss) for p in entries), ZERO)),
        "margin": str(sum((Decimal(p.margin) for p in entries), ZERO)),
    }


def _elsewhere(txn: Any, day: str, asset: Asset, plan: AssetPlan) -> tuple[Decimal, Decimal, Decimal]:
    """The other assets' margin in use, realised net P&L and open worst-case loss (account-wide rules),
    their entries in flight included (an entry that has just filled may count twice for up to a minute:
    the safe side)."""
    margin = net = worst = ZERO
    for other in Asset:
        if other is asset:
            continue
        book = Book.from_doc(txn.get(book_path(day, other)))
        net += book.net
        for p in book.positions.values():
            side = "BUY" if p.qty > 0 else "SELL"
            margin += margin_required(plan.risk, p.segment, side, p.qty, p.avg_price)
            worst += position_worst_loss(p, date.fromisoformat(day), plan.risk)
    flying = txn.get(in_flight_path(day)) or {}
    for other, f in flying.items():
        if other != asset.value:
            worst += Decimal(f.get("worst", "0"))
            margin += Decimal(f.get("margin", "0"))
    return margin, net, worst


def load_context(
    txn: Any,
    day: str,
    asset: Asset,
    state: dict[str, Any],
    now: datetime,
    plan: AssetPlan | None,
    halted: str | None,
    snapshot: Snapshot | None,
    kill: KillSwitch | None = None,
) -> TickContext:
    """The asset's state and book, as the pure decision sees them; pending drops what the book has settled.
    With a plan (a tick) it also reads the other assets' books for the margin check and, when half-Kelly
    is on, the strategies' statistics."""
    book = Book.from_doc(txn.get(book_path(day, asset)))
    settled = set(book.processed)
    pending = {k: Pending(**v) for k, v in state["pending"].items() if k not in settled}
    stats: dict[str, StrategyStats] = {}
    if plan is not None and plan.risk.kelly:
        doc = txn.get(stats_path(asset)) or {}
        stats = {k: StrategyStats.from_doc(v) for k, v in doc.get("strategies", {}).items()}
    margin, others_net, others_worst = _elsewhere(txn, day, asset, plan) if plan is not None else (ZERO,) * 3
    ctx = TickContext(
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
        kill=kill,
        margin_elsewhere=margin,
        others_net=others_net,
        others_worst=others_worst,
        stats=stats,
        underlying=state.get("underlying"),
        spot_symbol=state.get("spot"),
        contract=ContractRules.from_doc(plan.contract) if plan is not None else ContractRules(),
    )
    return ctx


def claim(txn: Any, day: str, ctx: TickContext, intents: list[OrderIntent], now: datetime) -> dict[str, Any]:
    """Create the intents' documents and note them as pending; returns the pending map to store."""
    for it in intents:
        ctx.pending.setdefault(it.intent_id, Pending(it.intent_id, it.symbol, it.purpose))
        txn.create(intent_path(day, it.intent_id), intent_doc(it, now))
    return {k: v.to_doc() for k, v in ctx.pending.items()}


def set_kill_switch(
    store: Any, engaged: bool, reason: str, flatten: bool, at: datetime, by: str
) -> KillSwitch:
    """Engage or release the kill switch (the document every tick reads). Engaging needs a reason."""
    if engaged and not reason.strip():
        raise ValueError("engaging the kill switch needs a reason (it is logged and alerted on)")
    ks = KillSwitch(engaged, reason.strip(), flatten, at.isoformat(), by)
    store.set(KILL_SWITCH_PATH, ks.to_doc())
    log.log(
        logging.ERROR if engaged else logging.WARNING,
        f"halt: {ks.why} (set by {by})" if engaged else f"kill switch released by {by}",
        extra={"component": "kill_switch", "correlation_id": at.date().isoformat(), "data": ks.to_doc()},
    )
    return ks


def kill_switch(store: Any) -> KillSwitch:
    return KillSwitch.from_doc(store.get(KILL_SWITCH_PATH))
