"""The tick's decision, as one pure function: (plan, state, book, snapshot, time) → (intents, events).

The live tick, the paper run, the replay of a recorded day and the backtester all call this function; only
the adapters around it differ."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tron.domain import drift, strategies
from tron.domain.book import exit_side
from tron.domain.context import TickContext, TickDecision
from tron.domain.entries import STOP_ATR, TARGET_ATR, Entry, entry_for
from tron.domain.exits import ExitRules, effective_stop, exit_reason, update_best
from tron.domain.exposure import direction_of, exposure, pending_entry, reserve, worst_loss_of_entry
from tron.domain.models import Instrument, OrderIntent, Position, Purpose, RestingStop, Side, intent_id
from tron.domain.money import ZERO, to_tick
from tron.domain.protect import crossed, stop_prices, tighter
from tron.domain.risk import (
    Candidate,
    Exposure,
    asset_headroom,
    exposure_value,
    loss_limit_breached,
    loss_refusal,
    margin_required,
    rule_refusal,
)
from tron.domain.session import Bar
from tron.domain.sizing import risk_pct_with_kelly, size_by_risk
from tron.domain.strategies import Signal
from tron.domain.structure_decide import leg_stops, structure_flattened, structure_step

EXIT_RULES = ExitRules()
LEG_RULES = ExitRules(
    max_hold_minutes=None
)  # a structure's leg: its own stop and target, the structure's exit
STALE_AFTER = timedelta(minutes=2)
LOSS_LIMIT_HALT = (
    "daily loss limit"  # how a day halted at its loss limit says so (decide keeps flattening it)
)
Marks = dict[str, tuple[float, float, float]]  # symbol → the bar's (low, high, close)
HEADROOM_SHARE = Decimal("0.9")  # entries are sized inside 90 % of what is left under the loss limit


def _intent(
    ctx: TickContext,
    inst: Instrument,
    side: Side,
    qty: int,
    purpose: Purpose,
    strategy: str,
    reason: str,
    **kw: Any,
) -> OrderIntent:
    return OrderIntent(
        intent_id=intent_id(ctx.day, ctx.asset, strategy, inst.symbol, purpose, ctx.now),
        day=ctx.day,
        asset=ctx.asset,
        symbol=inst.symbol,
        exchange=inst.exchange,
        side=side,
        qty=qty,
        purpose=purpose,
        strategy=strategy,
        reason=reason,
        decided_at=ctx.now,
        segment=inst.segment,
        tick_size=inst.tick_size,
        lot=inst.lot_size,
        **kw,
    )


def exits_for(
    ctx: TickContext,
    marks: Marks,
    purpose: Purpose = Purpose.EXIT,
    only: set[str] | None = None,
    reason: str | None = None,
) -> list[OrderIntent]:
    """Exit intents for open positions whose stop, trailing stop, target or time stop fired on the bar
    (marks: symbol → the bar's (low, high, close)), or for every position in `only` with the given reason.
    Never one for a symbol with an order in flight (its stop being placed included); where the broker's
    position differs from the book (ctx.drift), the exit is clamped to the broker's quantity, and none is
    sent when the broker is flat or holds the other side. Updates the trailing state of the positions it
    looks at.

    A position whose stop rests at the broker is not stopped here (the broker's stop does it): its target
    and time stop are checked, and a tightened trailing stop becomes a trail intent moving the resting one,
    or an exit at once if the last price is already through it. A resting SL that triggered without filling
    exits at once. A structure's leg has no time stop (the structure's exit time closes it).

    With `only`, no other position is looked at, and sold options go first: while one of them is held, the
    bought ones wait (a hedge never leaves before the option it covers)."""
    if not ctx.book.positions:
        return []
    busy = {p.symbol for p in ctx.pending.values() if p.purpose != Purpose.ENTRY}
    busy |= {s for s, p in ctx.book.positions.items() if p.protecting}  # its stop is being placed
    if only is not None:
        only = _shorts_first(ctx, only)
    legs = {s["id"] for s in ctx.structures}
    out = []
    for s, pos in sorted(ctx.book.positions.items()):
        if s in busy or s not in ctx.instruments or (only is not None and s not in only):
            continue
        why = reason if only is not None else None
        if s in ctx.leg_stops:  # a structure's leg whose stop trailed or moved to cost
            pos = replace(pos, stop=ctx.leg_stops[s])
        if why is None and s in marks:
            low, high, close = marks[s]
            best = ctx.trail.get(s)
            rest = pos.protect
            rules = LEG_RULES if pos.strategy in legs else EXIT_RULES
            why = exit_reason(pos, low, high, best, ctx.now, rules, check_stop=rest is None)
            ctx.trail[s] = update_best(pos, low, high, best)
            if why is None and rest is not None:
                why, trail = _move_resting_stop(ctx, pos, rest, close)
                if trail is not None:
                    out.append(trail)
        qty = drift.clamp(pos.qty, ctx.drift[s][1]) if s in ctx.drift else abs(pos.qty)
        if why and qty:
            out.append(_intent(ctx, ctx.instruments[s], exit_side(pos), qty, purpose, pos.strategy, why))
    return out


def _shorts_first(ctx: TickContext, symbols: set[str]) -> set[str]:
    """The sold options among ``symbols`` while any is held, else ``symbols``."""
    held = ctx.book.positions
    short = {
        s
        for s in symbols
        if s in held
        and held[s].qty < 0
        and getattr(ctx.instruments.get(s), "option_type", "") in ("CE", "PE")
    }
    return short or symbols


def _move_resting_stop(
    ctx: TickContext, pos: Position, rest: RestingStop, close: float
) -> tuple[str | None, OrderIntent | None]:
    """After a bar: exit at once (a reason) for an SL that triggered unfilled or a trailing stop the last
    price is already through, or a trail intent moving the resting stop to a tightened trailing stop."""
    side = exit_side(pos)
    if rest.triggered:
        return f"stop {rest.trigger:.2f} triggered at the broker, its limit not reached", None
    wanted = effective_stop(pos, ctx.trail.get(pos.symbol), EXIT_RULES)
    inst = ctx.instruments[pos.symbol]
    trigger = None if wanted is None else tighter(pos, rest, wanted, inst.tick_size)
    if trigger is None:
        return None, None
    if crossed(side, trigger, close):
        return f"trailing stop {trigger:.2f} passed (last {close:.2f})", None
    _, limit = stop_prices(side, rest.order_type, trigger, inst.tick_size, inst.segment)
    return None, _intent(
        ctx,
        inst,
        side,
        abs(pos.qty),
        Purpose.TRAIL,
        pos.strategy,
        f"trailing stop {rest.trigger:.2f} → {trigger:.2f}",
        order_type=rest.order_type,
        trigger=trigger,
        limit=limit,
    )


def decide(ctx: TickContext) -> TickDecision:
    """One tick: fold the snapshot into the minute bars (bad quotes left out), then in this order: the daily
    loss limit marked to market (halt and flatten), the kill switch (flatten), the exits (never blocked),
    and the planned strategies' entries through the risk governor. Updates ctx (state, trail, pending)."""
    out = TickDecision()
    bar = _fold_snapshot(ctx, out)
    if bar is None:
        return out
    _note_drift(ctx, out)
    _note_foreign(ctx, out)
    closes = bar.close.tolist()
    marks = dict(
        zip(ctx.state.symbols, zip(bar.low.tolist(), bar.high.tolist(), closes, strict=True), strict=True)
    )
    last = dict(zip(ctx.state.symbols, closes, strict=True))
    if _loss_limit_flattens(ctx, marks, last, out) or _kill_switch_flattens(ctx, marks, out):
        if ctx.structure is not None:  # its legs are on their way out: the structure says why
            structure_flattened(ctx, ctx.halted or out.halt or (ctx.kill.why if ctx.kill else "flatten"), out)
        return out
    if ctx.structure is not None:
        ctx.leg_stops = leg_stops(ctx, ctx.structure)
    out.intents.extend(exits_for(ctx, marks))
    if ctx.structure is not None:  # the day's multi-leg structure instead of the strategies' signals
        allowed = ctx.plan is not None and ctx.plan.enabled and not ctx.halted
        allowed = allowed and not (ctx.kill is not None and ctx.kill.engaged)
        busy = {i.symbol for i in out.intents}

        def leg_exits(c: TickContext, only: set[str], why: str) -> list[OrderIntent]:
            return exits_for(c, marks, only=only - busy, reason=why)

        structure_step(ctx, ctx.structure, last, out, allowed, leg_exits)
    elif ctx.plan is not None and ctx.plan.enabled:
        _entries(ctx, bar, out)
    return out


def _note_drift(ctx: TickContext, out: TickDecision) -> None:
    """The book against the broker's positions (tron.domain.drift): ctx.drift updated, each new or changed
    difference an event (an ERROR: it alerts), and each that ended."""
    if ctx.broker_qty is None and not ctx.drift:  # the broker not read, nothing seen: nothing to compare
        ctx.drift = {}
        return
    now = drift.compare(ctx)
    new, ended = drift.changes(ctx.drift, now)
    ctx.drift = now
    for s, (ours, theirs) in new.items():
        out.events.append(
            {
                "event": "drift",
                "symbol": s,
                "book": ours,
                "broker": theirs,
                "reason": f"the book holds {ours}, the broker {theirs}: no entries on it, exits clamped to "
                "the broker's quantity",
            }
        )
    for s in ended:
        out.events.append({"event": "drift_resolved", "symbol": s, "reason": "the book and the broker agree"})


def _note_foreign(ctx: TickContext, out: TickDecision) -> None:
    """Orders TRON did not place working on its symbols (a manual limit in the Kite app, a GTT's order):
    ctx.foreign updated from this tick's read (kept when the broker was not read), each new one an event (an
    ERROR), and each that stopped working; entries on those symbols wait (see _entries)."""
    if ctx.working is None and not ctx.foreign:  # not read, none seen: nothing to report
        ctx.foreign = {}
        return
    now = ctx.foreign if ctx.working is None else ctx.working
    for s, what in sorted(now.items()):
        if s not in ctx.foreign:
            out.events.append({"event": "foreign_order", "symbol": s, "reason": f"{what}: no entries on it"})
    for s in sorted(set(ctx.foreign) - set(now)):
        out.events.append(
            {"event": "foreign_order_gone", "symbol": s, "reason": "no order of another works on it"}
        )
    ctx.foreign = dict(now)


def _fold_snapshot(ctx: TickContext, out: TickDecision) -> Bar | None:
    """The bar the snapshot completes (None for the day's first); a bad quote never enters it."""
    if ctx.snapshot is None:
        raise ValueError("decide needs the tick's snapshot")
    ctx.snapshot, bad = ctx.snapshot.usable()
    if bad:
        shown = sorted(bad)[:10]
        out.events.append(
            {
                "event": "bad_quotes",
                "count": len(bad),
                "symbols": shown,
                "reason": "bad quote(s) left out, marked at the last good price: "
                + "; ".join(f"{s}: {bad[s]}" for s in shown),
            }
        )
    return ctx.state.apply(ctx.snapshot)


def _loss_limit_flattens(ctx: TickContext, marks: Marks, last: dict[str, float], out: TickDecision) -> bool:
    """Marked to market at the daily loss limit (the account's: every asset's realised net counts): halt
    entries for the day and exit every position. On a day halted at its loss limit, every tick exits again
    what is still open (a flatten exit that was rejected or filled only in part)."""
    plan = ctx.plan
    if plan is None:
        return False
    if ctx.halted is not None:
        if not ctx.halted.startswith(LOSS_LIMIT_HALT) or not ctx.book.positions:
            return False
        out.intents = exits_for(ctx, marks, only=set(ctx.book.positions), reason=ctx.halted)
        return True
    mtm = ctx.book.net + ctx.book.unrealized(last) + ctx.others_net
    if not loss_limit_breached(plan.risk, mtm):
        return False
    out.halt = f"{LOSS_LIMIT_HALT} ₹{plan.risk.loss_limit} breached (marked to market ₹{mtm})"
    out.intents = exits_for(ctx, marks, only=set(ctx.book.positions), reason=out.halt)
    out.events.append({"event": "halt", "reason": out.halt})
    return True


def _kill_switch_flattens(ctx: TickContext, marks: Marks, out: TickDecision) -> bool:
    """The user's kill switch with flatten: every position exits now (entries stop in _entries)."""
    if ctx.kill is None or not ctx.kill.engaged or not ctx.kill.flatten:
        return False
    out.intents = exits_for(ctx, marks, only=set(ctx.book.positions), reason=ctx.kill.why)
    return True


def _entries(ctx: TickContext, bar: Bar, out: TickDecision) -> None:
    """The planned strategies' signals, each turned into an entry and sized, through the governor; approved
    entries count against the next ones of the same tick."""
    assert ctx.plan is not None and ctx.snapshot is not None
    stale_cutoff = ctx.now - STALE_AFTER
    stale = sorted(s for s, q in ctx.snapshot.quotes.items() if q.ts < stale_cutoff)
    if stale:
        out.events.append(
            {
                "event": "stale_quotes",
                "count": len(stale),
                "symbols": stale[:5],
                "reason": f"{len(stale)} quote(s) older than {STALE_AFTER}: no entries on them",
            }
        )
    plan = ctx.plan
    signals = strategies.evaluate(plan.strategies, ctx.state, bar, min_agreement=plan.min_agreement)
    if not signals:
        return
    ex = exposure(ctx)
    views = {
        direction_of(ctx.instruments.get(s), 1 if p.qty > 0 else -1) for s, p in ctx.book.positions.items()
    } | {p.direction for p in ctx.pending.values() if p.purpose == Purpose.ENTRY}
    for sig in signals:
        entry = entry_for(ctx, sig)
        if entry is None:
            continue
        if isinstance(entry, str):
            _refuse(out, sig.symbol, sig.strategy, entry)
            continue
        quote = ctx.snapshot.quotes.get(entry.inst.symbol)
        if quote is None:
            continue
        if quote.ts < stale_cutoff:
            _refuse(out, entry.inst.symbol, sig.strategy, f"stale quote from {quote.ts.isoformat()}")
            continue
        if entry.inst.symbol in ctx.drift:
            _refuse(out, entry.inst.symbol, sig.strategy, "the broker's position differs from the book")
            continue
        if (why := ctx.frozen.get(entry.inst.symbol) or ctx.foreign.get(entry.inst.symbol)) is not None:
            _refuse(out, entry.inst.symbol, sig.strategy, why)
            continue
        intent = _approve(ctx, sig, entry, ex, views, out)
        if intent is not None:
            out.intents.append(intent)
            if entry.direction:
                views.add(entry.direction)


def _refuse(out: TickDecision, symbol: str, strategy: str, reason: str) -> None:
    out.events.append({"event": "entry_refused", "symbol": symbol, "strategy": strategy, "reason": reason})


def _approve(
    ctx: TickContext, sig: Signal, entry: Entry, ex: Exposure, views: set[int], out: TickDecision
) -> OrderIntent | None:
    """Size the entry and ask the governor; the entry intent (counted in `ex` and ctx.pending), or None with
    the refusal as an event."""
    assert ctx.plan is not None
    risk, inst = ctx.plan.risk, entry.inst
    price, side = entry.price, entry.side
    dist = max(entry.dist, 2 * float(inst.tick_size))  # the stop stays at least a tick away when on the grid
    # On the tick grid, rounded towards the entry: the stop never adds risk, the target never runs away.
    stop = float(to_tick(price - side.sign * dist, inst.tick_size, up=side is Side.BUY))
    slip = risk.slippage(inst.segment, stop)
    headroom = min(risk.loss_limit + ex.realized_net - ex.open_worst_loss, asset_headroom(risk, ex))
    risk_pct, kelly_note = risk_pct_with_kelly(
        risk.risk_per_trade_pct, ctx.stats.get(sig.strategy), risk.kelly, risk.kelly_min_trades
    )
    qty = size_by_risk(
        capital=risk.capital,
        risk_per_trade_pct=risk_pct,
        max_position_pct=risk.max_position_pct,
        price=price,
        stop_distance=dist,
        lot_size=inst.lot_size,
        headroom=headroom * HEADROOM_SHARE,
        slippage=float(slip),
        unit_exposure=float(exposure_value(risk, inst.segment, 1, price)),
        room=risk.capital - ex.capital_used,
    )
    cap = ctx.guardrails.qty_cap(inst, price) if ctx.guardrails is not None else None
    qty = qty if cap is None else min(qty, cap // inst.lot_size * inst.lot_size)
    worst, cand = ZERO, Candidate()  # worked out where a rule reads them (most entries are refused earlier)
    refusal: str | None
    if ctx.guardrails is not None and not ctx.guardrails.allows(ctx.asset.value, inst.symbol):
        refusal = f"{inst.symbol} is not on the {ctx.asset} allowlist (guardrails)"
    elif qty == 0 and cap is not None and cap < inst.lot_size:
        refusal = f"the guardrails allow at most {cap} of {inst.symbol}, under its lot of {inst.lot_size}"
    elif qty == 0:
        one = worst_loss_of_entry(inst, side, inst.lot_size, price, stop, ctx.day, slip, ctx.charged)
        refusal = (
            "size rounds to zero"
            + (f" ({kelly_note})" if kelly_note else "")
            + f": {f'a lot of {inst.lot_size}' if inst.lot_size > 1 else 'one unit'} loses ₹{one} at "
            "its stop and slippage band, "
            f"₹{max(headroom, ZERO):.2f} left under the loss limit, "
            f"₹{risk.capital * risk_pct / 100:.2f} risk per trade"
        )
    elif entry.direction and -entry.direction in views:
        refusal = f"an opposing option position on {ctx.underlying} is open or in flight"
    else:  # entry_refusal's rules, the loss limits last: only they need the worst case
        cand = Candidate(
            inst.sector,
            exposure_value(risk, inst.segment, qty, price),
            margin_required(risk, inst.segment, side.value, qty, price),
        )
        refusal = rule_refusal(
            risk,
            ex,
            symbol=inst.symbol,
            confidence=sig.confidence,
            at=ctx.now.time(),
            halted=ctx.halted or (ctx.kill.why if ctx.kill is not None and ctx.kill.engaged else None),
            candidate=cand,
        )
        if refusal is None:
            worst = worst_loss_of_entry(inst, side, qty, price, stop, ctx.day, slip, ctx.charged)
            refusal = loss_refusal(risk, ex, worst)
    if refusal:
        _refuse(out, inst.symbol, sig.strategy, refusal)
        return None
    target = float(  # on the grid as the stop (above), worked out once the entry is approved
        to_tick(price + side.sign * dist * TARGET_ATR / STOP_ATR, inst.tick_size, up=side is Side.SELL)
    )
    reason = entry.note or sig.reason
    intent = _intent(
        ctx,
        inst,
        side,
        qty,
        Purpose.ENTRY,
        sig.strategy,
        reason + (f"; {kelly_note}" if kelly_note else ""),
        stop=round(stop, 2),
        target=round(target, 2),
        atr=round(dist / STOP_ATR, 4),
        price=price,
    )
    reserve(ex, inst.symbol, worst, cand)
    ctx.pending[intent.intent_id] = pending_entry(intent.intent_id, inst.symbol, worst, cand, entry.direction)
    return intent
