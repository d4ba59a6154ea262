"""A multi-leg structure through the day, one tick at a time (:func:`structure_step`): entered in its window,
bought legs (the hedges) first and the sold legs once no hedge is still to fill; held with each leg's own
stop, target and trailing stop (resting at the broker like any position's stop), the other legs' stops
moved to cost after a stop, re-entries, the combined MTM stop and target and the profit lock; exited at its
exit time, at the MTM limits, when its legs are all closed, or unwound when a leg could not be entered: sold
legs first, the hedges once no sold leg is held. So the account never holds a sold option its hedge does
not cover, entering or leaving.

The structure's state is a JSON-ready mapping kept in the asset's tick state (ctx.structures); each leg's
entry is an ordinary entry intent with a deterministic id, so exactly-once holds per leg."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tron.domain.charges import total_charges
from tron.domain.context import TickContext, TickDecision
from tron.domain.contracts import RATE, days_to_expiry
from tron.domain.exposure import exposure, pending_entry
from tron.domain.live import Guardrails
from tron.domain.models import Instrument, OrderIntent, Position, Purpose, Quote, Side, intent_id
from tron.domain.money import ZERO, dec, paise, to_tick
from tron.domain.risk import Candidate, entry_refusal
from tron.domain.span import MarginLeg, basket_margin, implied_vol_or
from tron.domain.structures import (
    HeldLeg,
    LegSpec,
    PlannedLeg,
    StructureSpec,
    expiry_for,
    pick_strike,
    structure_greeks,
    structure_worst_loss,
)

_MONTHLY = re.compile(r"^[A-Z&-]+\d{2}(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d+(\.\d+)?(CE|PE)$")
ExitsFor = Callable[[TickContext, set[str], str], list[OrderIntent]]
LIVE = ("open", "pending")


def leg_state(ctx: TickContext, leg: dict[str, Any]) -> str:
    """Where a leg is: waiting (its entry not sent), pending, open, closed (it filled, then exited), failed
    (its entry was refused or rejected) or dropped (it will not enter)."""
    pos = ctx.book.positions.get(leg["symbol"])
    if leg.get("dropped"):
        return "dropped"
    if leg.get("done"):
        return "closed"
    if not leg.get("entry_id"):
        return "waiting"
    if pos is not None and pos.qty and pos.strategy == leg["structure"]:
        return "open"
    if leg["entry_id"] in ctx.pending:
        return "pending"
    if ctx.book.entries_by_symbol.get(leg["symbol"], 0) > int(leg.get("fills_before", 0)):
        return "closed"
    return "failed"


def structure_step(
    ctx: TickContext,
    spec: StructureSpec,
    last: dict[str, float],
    out: TickDecision,
    entries_allowed: bool,
    exits_for: ExitsFor,
) -> None:
    """One minute of the day's structure (ctx.structures updated in place; intents and events to ``out``).
    ``last``: the minute's close per symbol; ``exits_for(ctx, symbols, reason)``: the exits of those open
    positions (the tick's own, which never duplicates one in flight)."""
    now = ctx.now.time()
    cur = ctx.structures[-1] if ctx.structures else None
    if cur is None:
        if entries_allowed and spec.entry <= now < spec.window_end:
            opened = _open(ctx, spec, last, out)
            if opened is not None:
                ctx.structures.append(opened)
        return
    if cur["phase"] == "closed":
        return
    states = [leg_state(ctx, leg) for leg in cur["legs"]]
    _note_closed(ctx, spec, cur, states, last, out)
    states = [leg_state(ctx, leg) for leg in cur["legs"]]
    _mark(ctx, cur, states, last)
    if cur["phase"] == "open":
        _holding(ctx, spec, cur, states, out)
    if cur["phase"] == "open":
        _enter_waiting(ctx, spec, cur, states, last, out, entries_allowed)
    if cur["phase"] == "exiting":
        _exiting(ctx, cur, [leg_state(ctx, leg) for leg in cur["legs"]], out, exits_for)


def structure_flattened(ctx: TickContext, why: str, out: TickDecision) -> None:
    """The loss limit or the kill switch is flattening every position (sold legs first, in the tick's own
    exits): the day's structure is exiting for that reason, and closed once none of its legs is held."""
    cur = ctx.structures[-1] if ctx.structures else None
    if cur is None or cur["phase"] == "closed":
        return
    if cur["phase"] == "open":
        _start_exit(ctx, cur, why, out)
    _exiting(ctx, cur, [leg_state(ctx, leg) for leg in cur["legs"]], out, lambda *_: [])


def leg_stops(ctx: TickContext, spec: StructureSpec) -> dict[str, float]:
    """The stop each open leg of the day's structure has now, where it is tighter than the one it entered
    with: trailed (the leg's ``trail``, from the best premium before this bar) or moved to cost. The tick
    moves the resting stop there, or exits at once when the price is already through it."""
    cur = ctx.structures[-1] if ctx.structures else None
    if cur is None or cur["phase"] == "closed":
        return {}
    out = {}
    for leg in cur["legs"]:
        pos = ctx.book.positions.get(leg["symbol"])
        if pos is None or pos.stop is None or leg_state(ctx, leg) != "open":
            continue
        wanted = [pos.stop]
        if leg.get("cost"):
            wanted.append(float(pos.avg_price))
        rule = spec.legs[leg["n"]].trail
        best = ctx.trail.get(leg["symbol"])
        if rule is not None and best is not None and rule.every.of(float(pos.avg_price)) > 0:
            entry, sign = float(pos.avg_price), (1 if pos.qty > 0 else -1)
            steps = math.floor(max((best - entry) * sign, 0.0) / rule.every.of(entry))
            wanted.append(pos.stop + sign * steps * rule.by.of(entry))
        stop = max(wanted) if pos.qty > 0 else min(wanted)
        if stop != pos.stop:
            out[leg["symbol"]] = float(to_tick(stop, dec(pos.tick_size), up=pos.qty < 0))
    return out


# ---------------------------------------------------------------------------------------------- entering
def _open(
    ctx: TickContext, spec: StructureSpec, last: dict[str, float], out: TickDecision
) -> dict[str, Any] | None:
    """Pick each leg's contract, size it and ask the governor for the whole structure; the structure's state
    with its first entries sent (the hedges, or every sold leg when it has none; a wait-and-trade leg waits),
    or None with the refusal."""
    assert ctx.snapshot is not None and ctx.plan is not None
    picked = structure_legs(
        spec, ctx.instruments, ctx.snapshot.quotes, ctx.spot_symbol, ctx.now, ctx.guardrails
    )
    if isinstance(picked, str):
        _refuse(out, spec.name, picked)
        return None
    planned, spot = picked
    risk = ctx.plan.risk
    slip = {p.inst.symbol: risk.slippage(p.inst.segment, p.stop or p.premium) for p in planned}
    try:
        worst = structure_worst_loss(planned, ctx.day, slip, ctx.charged)
    except ValueError as e:
        _refuse(out, spec.name, f"naked short refused: {e}")
        return None
    if ctx.broker_margin is None:
        margin = structure_margin(planned, spot, ctx.now)
    else:  # the broker's own answer for this basket, and what the account has
        margin, available = ctx.broker_margin
        if margin > available:
            _refuse(
                out, spec.name, f"the broker's basket margin ₹{margin} exceeds the ₹{available} available"
            )
            return None
    ex = exposure(ctx)
    refusal = entry_refusal(
        risk,
        ex,
        symbol=spec.name,
        confidence=1.0,
        worst_loss=worst,
        at=ctx.now.time(),
        halted=ctx.halted or (ctx.kill.why if ctx.kill is not None and ctx.kill.engaged else None),
        candidate=Candidate("Index", margin, margin),
    )
    if refusal is None and (busy := [p.inst.symbol for p in planned if p.inst.symbol in ex.symbols_busy]):
        refusal = f"{', '.join(busy)} already held or in flight"
    if refusal:
        _refuse(out, spec.name, f"{refusal} (worst case ₹{worst}, margin ₹{margin})")
        return None
    sid = f"{spec.name}-{len(ctx.structures) + 1}"
    state: dict[str, Any] = {
        "id": sid,
        "template": spec.name,
        "phase": "open",
        "entry_time": ctx.now.isoformat(),
        "exit_time": None,
        "exit_reason": None,
        "worst": str(worst),
        "margin": str(margin),
        "base_realized": str(ctx.book.realized),
        "realized_seen": str(ctx.book.realized),
        "mtm": "0",
        "peak": "0",
        "max_adverse": "0",
        "floor": None,
        "path": [],
        "legs": [_leg_doc(sid, n, p, spec, ctx) for n, p in enumerate(planned)],
    }
    _enter_waiting(ctx, spec, state, ["waiting"] * len(planned), last, out, True)
    out.events.append(
        {
            "event": "structure_entered",
            "symbol": sid,
            "reason": f"{spec.name}: {', '.join(f'{p.side} {p.qty} {p.inst.symbol}' for p in planned)}; "
            f"worst case ₹{worst}, margin ₹{margin}",
        }
    )
    return state


def structure_legs(
    spec: StructureSpec,
    instruments: Mapping[str, Instrument],
    quotes: Mapping[str, Quote],
    spot_symbol: str | None,
    now: datetime,
    guardrails: Guardrails | None,
) -> tuple[list[PlannedLeg], float] | str:
    """Each leg's contract (its expiry and strike rule over the listed chain), quantity, premium and stop,
    with the spot they were picked at; or why the structure cannot be built now. The tick asks the broker
    for this basket's margin before deciding (tron.services.tick)."""
    spot_q = quotes.get(spot_symbol or "")
    if spot_q is None:
        return f"no quote for the index {spot_symbol}"
    spot = spot_q.last
    options = [i for i in instruments.values() if i.option_type in ("CE", "PE") and i.expiry]
    listed = sorted({i.expiry for i in options if i.expiry})
    premiums = {s: q.last for s, q in quotes.items()}
    planned: list[PlannedLeg] = []
    for n, leg in enumerate(spec.legs):
        try:
            expiry = expiry_for(leg.expiry, listed, _monthly(options), now.date(), spec.expiry_day)
        except ValueError as e:
            return f"leg {n + 1}: {e}"
        chain = [i for i in options if i.expiry == expiry]
        inst = pick_strike(leg, chain, premiums, spot, now)
        q = quotes.get(inst.symbol) if inst is not None else None
        if inst is None or q is None or q.last <= 0:
            return f"leg {n + 1}: no {leg.option_type} of {expiry} for {leg.strike.to_doc()}"
        qty = leg.lots * inst.lot_size
        cap = guardrails.qty_cap(inst, q.last) if guardrails is not None else None
        if cap is not None and qty > cap:
            return f"leg {n + 1}: {qty} of {inst.symbol} is over the guardrails' {cap}"
        planned.append(PlannedLeg(inst, leg.side, qty, q.last, _stop(leg, leg.side, q.last, inst)))
    return planned, spot


def _stop(leg: LegSpec, side: Side, premium: float, inst: Instrument) -> float | None:
    if leg.sl is None:
        return None
    dist = max(leg.sl.of(premium), 2 * float(inst.tick_size))
    return float(to_tick(premium - side.sign * dist, inst.tick_size, up=side is Side.BUY))


def _target(leg: LegSpec, side: Side, premium: float, inst: Instrument) -> float | None:
    if leg.target is None:
        return None
    price = max(premium + side.sign * leg.target.of(premium), float(inst.tick_size))
    return float(to_tick(price, inst.tick_size, up=side is Side.SELL))


def _leg_doc(sid: str, n: int, p: PlannedLeg, spec: StructureSpec, ctx: TickContext) -> dict[str, Any]:
    return {
        "structure": sid,
        "n": n,
        "symbol": p.inst.symbol,
        "side": p.side.value,
        "type": p.inst.option_type,
        "strike": p.inst.strike,
        "expiry": p.inst.expiry.isoformat() if p.inst.expiry else None,
        "qty": p.qty,
        "premium": p.premium,  # when the structure entered: a wait-and-trade leg's reference
        "entry_id": None,
        "fills_before": ctx.book.entries_by_symbol.get(p.inst.symbol, 0),
        "waiting": "wait" if spec.legs[n].wait is not None else "entry",
        "reentries": 0,
    }


def structure_margin(legs: list[PlannedLeg], spot: float, now: datetime) -> Decimal:
    """The margin the broker blocks for the legs together (tron.domain.span: SPAN-like scenarios over the
    basket, so a hedged structure needs far less than a naked one)."""
    margin_legs = []
    for p in legs:
        k, kind = p.inst.strike or 0.0, p.inst.option_type
        days = days_to_expiry(now, p.inst.expiry) if p.inst.expiry else 0.0
        vol = implied_vol_or(kind, spot, k, days, RATE, p.premium)
        margin_legs.append(MarginLeg(kind, k, days, p.qty * p.side.sign, p.premium, vol))
    return basket_margin(margin_legs, spot).total


def _enter_waiting(
    ctx: TickContext,
    spec: StructureSpec,
    cur: dict[str, Any],
    states: list[str],
    last: dict[str, float],
    out: TickDecision,
    entries_allowed: bool,
) -> None:
    """Send the entries whose moment has come: first entries, wait-and-trade legs whose premium moved,
    re-entries (at once, back at cost, or reversed). A sold leg goes only once no bought leg is waiting or
    filling (its hedge is held), sized down to what the hedges filled."""
    legs = cur["legs"]
    hedging = any(
        leg["side"] == "BUY" and states[i] in ("waiting", "pending") and leg["waiting"] != "wait"
        for i, leg in enumerate(legs)
    )
    hedge_share = _hedge_share(ctx, cur)
    late = spec.reentry is not None and ctx.now.time() >= spec.reentry.until
    for i, leg in enumerate(legs):
        if states[i] != "waiting" or not entries_allowed:
            continue
        if late and leg["reentries"]:
            leg["dropped"] = f"no re-entry after {spec.reentry.until:%H:%M}"  # type: ignore[union-attr]
            continue
        side = Side(leg["side"])
        if (side is Side.SELL and hedging) or not _due(spec, leg, last):
            continue
        inst = ctx.instruments[leg["symbol"]]
        qty = (
            leg["qty"] if side is Side.BUY else int(leg["qty"] * hedge_share) // inst.lot_size * inst.lot_size
        )
        if qty == 0:
            leg["dropped"] = "the hedges filled too little to cover a lot"
            continue
        price = last.get(leg["symbol"], leg["premium"])
        rule = spec.legs[leg["n"]]
        stop = None if leg["waiting"] == "reverse" else _stop(rule, side, price, inst)
        target = None if leg["waiting"] == "reverse" else _target(rule, side, price, inst)
        if leg["waiting"] != "entry" and (why := _leg_refusal(ctx, leg, inst, side, qty, price, stop)):
            leg["dropped"] = why
            _refuse(out, cur["id"], f"{leg['symbol']}: {why}")
            continue
        _send(ctx, spec, cur, leg, inst, side, qty, price, stop, target, out)


def _hedge_share(ctx: TickContext, cur: dict[str, Any]) -> float:
    """The least share of its quantity a first-entry hedge filled (1 without hedges)."""
    shares = [
        abs(ctx.book.positions[leg["symbol"]].qty) / leg["qty"]
        for leg in cur["legs"]
        if leg["side"] == "BUY" and leg.get("entry_id") and leg["symbol"] in ctx.book.positions
    ]
    return min([1.0, *shares])


def _due(spec: StructureSpec, leg: dict[str, Any], last: dict[str, float]) -> bool:
    """Whether a waiting leg enters now: a first entry at once; a wait-and-trade leg once its premium moved
    far enough from the reference; a re-entry at once, or at cost once the premium is back at its last
    entry."""
    price = last.get(leg["symbol"])
    if leg["waiting"] in ("entry", "immediate", "reverse"):
        return True
    if price is None:
        return False
    if leg["waiting"] == "wait":
        w = spec.legs[leg["n"]].wait
        assert w is not None
        move = w.move.of(leg["premium"])
        return price >= leg["premium"] + move if w.up else price <= leg["premium"] - move
    back = float(leg["cost_of"])  # at cost: back to the price the leg last entered at
    return price <= back if leg["side"] == "SELL" else price >= back


def _leg_refusal(
    ctx: TickContext,
    leg: dict[str, Any],
    inst: Instrument,
    side: Side,
    qty: int,
    price: float,
    stop: float | None,
) -> str | None:
    """The governor on a leg entering after the structure did (wait and trade, re-entry): its own stop's
    worst case against the loss limit; a sold leg must have a stop or a hedge."""
    assert ctx.plan is not None
    risk = ctx.plan.risk
    if stop is None and side is Side.SELL and not _covered(ctx, leg):
        return "a sold leg without a stop and without its hedge held"
    if stop is None:
        worst = dec(price) * qty if side is Side.BUY else ZERO
    else:
        worst = (abs(dec(price) - dec(stop)) + risk.slippage(inst.segment, stop)) * qty
    worst += total_charges(inst.segment, side, dec(price), qty, ctx.day, ctx.charged)
    return entry_refusal(
        risk,
        exposure(ctx),
        symbol=inst.symbol,
        confidence=1.0,
        worst_loss=paise(worst),
        at=ctx.now.time(),
        halted=ctx.halted or (ctx.kill.why if ctx.kill is not None and ctx.kill.engaged else None),
    )


def _covered(ctx: TickContext, leg: dict[str, Any]) -> bool:
    held = ctx.book.positions
    return any(
        o is not leg and o["side"] == "BUY" and o["type"] == leg["type"] and o["symbol"] in held
        for o in ctx.structures[-1]["legs"]
    )


def _send(
    ctx: TickContext,
    spec: StructureSpec,
    cur: dict[str, Any],
    leg: dict[str, Any],
    inst: Instrument,
    side: Side,
    qty: int,
    price: float,
    stop: float | None,
    target: float | None,
    out: TickDecision,
) -> None:
    """The leg's entry intent (the structure's id as its strategy, so its id is the leg's own) with its stop
    and target, counted in flight with its share of the structure's worst case and margin."""
    intent = OrderIntent(
        intent_id=intent_id(ctx.day, ctx.asset, cur["id"], inst.symbol, Purpose.ENTRY, ctx.now),
        day=ctx.day,
        asset=ctx.asset,
        symbol=inst.symbol,
        exchange=inst.exchange,
        side=side,
        qty=qty,
        purpose=Purpose.ENTRY,
        strategy=cur["id"],
        reason=f"{spec.name} leg {leg['n'] + 1}: {side} {leg['type']} {leg['strike']:g}"
        + ("" if leg["waiting"] == "entry" else f" ({leg['waiting'].replace('_', ' ')})"),
        decided_at=ctx.now,
        stop=stop,
        target=target,
        segment=inst.segment,
        tick_size=inst.tick_size,
        lot=inst.lot_size,
        price=price,
    )
    leg.update(entry_id=intent.intent_id, qty=qty)
    out.intents.append(intent)
    n = len(cur["legs"])
    worst, margin = paise(dec(cur["worst"]) / n), paise(dec(cur["margin"]) / n)
    share = Candidate("Index", margin, margin)
    ctx.pending[intent.intent_id] = pending_entry(intent.intent_id, inst.symbol, worst, share, 0)


# ---------------------------------------------------------------------------------------------- holding
def _note_closed(
    ctx: TickContext,
    spec: StructureSpec,
    cur: dict[str, Any],
    states: list[str],
    last: dict[str, float],
    out: TickDecision,
) -> None:
    """Legs that closed since the last minute, while the structure is held: by their stop when they lost,
    by their target when they gained (the realised P&L the book gained meanwhile; one leg at a time is
    exact). A stop moves the other legs' stops to cost (``move_sl_to_cost``); either may bring a re-entry."""
    realized = ctx.book.realized
    gained = realized - dec(cur["realized_seen"])
    cur["realized_seen"] = str(realized)
    closing = [
        leg for leg, st in zip(cur["legs"], states, strict=True) if st == "closed" and leg.get("seen_open")
    ]
    for leg in cur["legs"]:
        leg["seen_open"] = leg_state(ctx, leg) == "open"
    if cur["phase"] != "open":
        for leg in closing:
            leg["done"] = True
        return
    for leg in closing:
        leg["done"] = True
        leg["closed_by"] = "stop" if gained < 0 else "target"
        if leg["closed_by"] == "stop" and spec.move_sl_to_cost:
            for other in cur["legs"]:
                if other is not leg and leg_state(ctx, other) == "open":
                    other["cost"] = True
        _reenter(ctx, spec, cur, leg, out)


def _reenter(
    ctx: TickContext, spec: StructureSpec, cur: dict[str, Any], leg: dict[str, Any], out: TickDecision
) -> None:
    r = spec.reentry
    if r is None or ctx.now.time() >= r.until or leg["reentries"] >= r.max:
        return
    if r.on != "any" and (r.on == "sl") != (leg["closed_by"] == "stop"):
        return
    side = leg["side"]
    if r.mode == "reverse":
        if side == "BUY":  # a bought leg reversed would be a naked sold one
            return
        side = "BUY"
    entered = leg.get("entry_price") or leg["premium"]
    again = {
        **{k: leg[k] for k in ("structure", "n", "symbol", "type", "strike", "expiry", "premium")},
        "side": side,
        "qty": leg["qty"],
        "entry_id": None,
        "fills_before": ctx.book.entries_by_symbol.get(leg["symbol"], 0),
        "waiting": r.mode,
        "cost_of": float(entered),
        "reentries": leg["reentries"] + 1,
    }
    cur["legs"].append(again)
    out.events.append(
        {
            "event": "structure_reentry",
            "symbol": cur["id"],
            "reason": f"{leg['symbol']} closed by its {leg['closed_by']}: re-entry {again['reentries']} of "
            f"{r.max} ({r.mode.replace('_', ' ')})",
        }
    )


def _mark(ctx: TickContext, cur: dict[str, Any], states: list[str], last: dict[str, float]) -> None:
    """The structure's gross MTM (realised since it entered plus its open legs at the minute's close), its
    peak and the worst it has been, its path, and the greeks of what it holds while whole."""
    open_pnl = ZERO
    held = []
    for leg, st in zip(cur["legs"], states, strict=True):
        pos: Position | None = ctx.book.positions.get(leg["symbol"])
        if st != "open" or pos is None:
            continue
        leg.setdefault("entry_price", float(pos.avg_price))
        mark = last.get(leg["symbol"])
        if mark is not None:
            open_pnl += (dec(mark) - pos.avg_price) * pos.qty
            held.append(HeldLeg(ctx.instruments[leg["symbol"]], pos.qty, mark))
    mtm = paise(ctx.book.realized - dec(cur["base_realized"]) + open_pnl)
    cur["mtm"] = str(mtm)
    cur["peak"] = str(max(dec(cur["peak"]), mtm))
    cur["max_adverse"] = str(min(dec(cur["max_adverse"]), mtm))
    cur["path"].append([f"{ctx.now:%H:%M}", float(mtm)])
    spot = last.get(ctx.spot_symbol or "")
    first = [
        st
        for leg, st in zip(cur["legs"], states, strict=True)
        if leg["reentries"] == 0 and not leg.get("dropped")
    ]
    if held and spot and all(st == "open" for st in first):
        cur["greeks"] = structure_greeks(held, spot, ctx.now).to_doc()


def _holding(
    ctx: TickContext, spec: StructureSpec, cur: dict[str, Any], states: list[str], out: TickDecision
) -> None:
    """Whether the structure exits now, and why: a first leg that failed, its legs all done, the exit
    time, the MTM stop or target, the profit lock."""
    margin = dec(cur["margin"])
    mtm, peak = dec(cur["mtm"]), dec(cur["peak"])
    failed = [
        leg["symbol"]
        for leg, st in zip(cur["legs"], states, strict=True)
        if st == "failed" and leg["reentries"] == 0
    ]
    floor = _floor(spec, cur, peak, margin)
    why = None
    if failed:
        why = f"leg {', '.join(failed)} not entered: the structure unwound"
    elif all(st in ("closed", "failed", "dropped") for st in states):
        why = "every leg closed at its own stop or target"
    elif ctx.now.time() >= spec.exit:
        why = f"exit time {spec.exit:%H:%M}"
    elif spec.mtm_sl is not None and mtm <= -spec.mtm_sl.of(margin):
        why = f"MTM stop ₹{spec.mtm_sl.of(margin)} hit (MTM ₹{mtm})"
    elif spec.mtm_target is not None and mtm >= spec.mtm_target.of(margin):
        why = f"MTM target ₹{spec.mtm_target.of(margin)} reached (MTM ₹{mtm})"
    elif floor is not None and mtm <= floor:
        why = f"profit lock ₹{floor} hit (MTM ₹{mtm}, peak ₹{peak})"
    if why is not None:
        _start_exit(ctx, cur, why, out)


def _floor(spec: StructureSpec, cur: dict[str, Any], peak: Decimal, margin: Decimal) -> Decimal | None:
    """The profit lock's floor once the MTM's peak reached ``at``: ``keep``, raised by ``by`` for every
    ``every`` the peak went beyond ``at`` (lock and trail)."""
    lock = spec.lock
    if lock is None or peak < lock.at.of(margin):
        return None
    floor = lock.keep.of(margin)
    if lock.every is not None and lock.by is not None and lock.every.of(margin) > 0:
        steps = int((peak - lock.at.of(margin)) / lock.every.of(margin))
        floor += steps * lock.by.of(margin)
    cur["floor"] = str(floor)
    return floor


def _start_exit(ctx: TickContext, cur: dict[str, Any], why: str, out: TickDecision) -> None:
    cur["phase"], cur["exit_reason"] = "exiting", why
    for leg in cur["legs"]:
        if not leg.get("entry_id") and not leg.get("dropped"):
            leg["dropped"] = "the structure exited first"
    out.events.append({"event": "structure_exit", "symbol": cur["id"], "reason": why})


def _exiting(
    ctx: TickContext, cur: dict[str, Any], states: list[str], out: TickDecision, exits_for: ExitsFor
) -> None:
    """Sold legs out first; the bought ones once no sold leg is held or entering; closed when none is held."""
    legs = cur["legs"]
    live = [i for i, st in enumerate(states) if st in LIVE]
    if not live:
        cur["phase"], cur["exit_time"] = "closed", ctx.now.isoformat()
        out.events.append({"event": "structure_closed", "symbol": cur["id"], "reason": cur["exit_reason"]})
        return
    held = ctx.book.positions
    shorts = {
        legs[i]["symbol"]
        for i in live
        if (states[i] == "open" and held[legs[i]["symbol"]].qty < 0)
        or (states[i] == "pending" and legs[i]["side"] == "SELL")
    }
    wave = shorts or {legs[i]["symbol"] for i in live}
    ready = {s for s in wave if s in held}
    if ready:
        out.intents.extend(exits_for(ctx, ready, cur["exit_reason"] or "structure exit"))


def _monthly(options: list[Instrument]) -> date | None:
    """The nearest monthly expiry listed: Kite spells a monthly option NIFTY26DEC26000CE, a weekly one
    NIFTY26D0826000CE."""
    monthly = sorted(i.expiry for i in options if i.expiry and _MONTHLY.match(i.symbol))
    return monthly[0] if monthly else None


def _refuse(out: TickDecision, name: str, reason: str) -> None:
    out.events.append({"event": "entry_refused", "symbol": name, "strategy": name, "reason": reason})
