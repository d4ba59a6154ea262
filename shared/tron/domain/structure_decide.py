"""A multi-leg structure through the day, one tick at a time (:func:`structure_step`): entered in its window,
bought legs (the hedges) first and the sold legs once the hedges filled; held with each leg's own stop and
target (resting at the broker like any position's) and the combined MTM stop and target; exited at its exit
time, at the MTM limits, when its legs are all closed, or unwound when a leg could not be entered: sold legs
first, the hedges once the sold legs are flat. So the account never holds a sold option its hedge does not
cover, entering or leaving.

The structure's state is a JSON-ready mapping kept in the asset's tick state (ctx.structures); each leg's
entry is an ordinary entry intent with a deterministic id, so exactly-once holds per leg."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tron.domain.context import TickContext, TickDecision
from tron.domain.contracts import RATE, days_to_expiry
from tron.domain.exposure import exposure, pending_entry
from tron.domain.models import Instrument, OrderIntent, Purpose, Side, intent_id
from tron.domain.money import ZERO, dec, paise, to_tick
from tron.domain.risk import Candidate, entry_refusal
from tron.domain.span import MarginLeg, basket_margin, implied_vol_or
from tron.domain.structures import (
    HeldLeg,
    PlannedLeg,
    StructureSpec,
    expiry_for,
    pick_strike,
    structure_greeks,
    structure_worst_loss,
)

_MONTHLY = re.compile(r"^[A-Z&-]+\d{2}(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d+(\.\d+)?(CE|PE)$")
ExitsFor = Callable[[TickContext, set[str], str], list[OrderIntent]]


@dataclass(frozen=True)
class LegState:
    """Where a leg is: waiting (its entry not sent), pending, open, closed (it filled, then exited) or failed
    (its entry was refused or rejected)."""

    status: str
    qty: int = 0  # held now (signed)


def leg_state(ctx: TickContext, leg: dict[str, Any]) -> LegState:
    pos = ctx.book.positions.get(leg["symbol"])
    if pos is not None and pos.qty:
        return LegState("open", pos.qty)
    if not leg.get("entry_id"):
        return LegState("waiting")
    if leg["entry_id"] in ctx.pending:
        return LegState("pending")
    if ctx.book.entries_by_symbol.get(leg["symbol"], 0) > int(leg.get("fills_before", 0)):
        return LegState("closed")
    return LegState("failed")


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
            opened = _open(ctx, spec, out)
            if opened is not None:
                ctx.structures.append(opened)
        return
    if cur["phase"] == "closed":
        return
    states = [leg_state(ctx, leg) for leg in cur["legs"]]
    _mark(ctx, cur, states, last)
    if cur["phase"] in ("hedging", "entering"):
        _entering(ctx, spec, cur, states, out, entries_allowed)
    if cur["phase"] == "open":
        _holding(ctx, spec, cur, states)
    if cur["phase"] == "exiting":
        _exiting(ctx, cur, states, out, exits_for)


# ---------------------------------------------------------------------------------------------- entering
def _open(ctx: TickContext, spec: StructureSpec, out: TickDecision) -> dict[str, Any] | None:
    """Pick each leg's contract, size it and ask the governor for the whole structure; the structure's state
    with its hedges' entries sent (all legs at once when it has no hedge), or None with the refusal."""
    assert ctx.snapshot is not None and ctx.plan is not None
    quotes = ctx.snapshot.quotes
    spot_q = quotes.get(ctx.spot_symbol or "")
    if spot_q is None:
        _refuse(out, spec.name, f"no quote for the index {ctx.spot_symbol}")
        return None
    spot = spot_q.last
    options = [i for i in ctx.instruments.values() if i.option_type in ("CE", "PE") and i.expiry]
    listed = sorted({i.expiry for i in options if i.expiry})
    premiums = {s: q.last for s, q in quotes.items()}
    planned: list[PlannedLeg] = []
    for n, leg in enumerate(spec.legs):
        try:
            expiry = expiry_for(leg.expiry, listed, _monthly(options), ctx.day, spec.expiry_day)
        except ValueError as e:
            _refuse(out, spec.name, f"leg {n + 1}: {e}")
            return None
        chain = [i for i in options if i.expiry == expiry]
        inst = pick_strike(leg, chain, premiums, spot, ctx.now)
        q = quotes.get(inst.symbol) if inst is not None else None
        if inst is None or q is None or q.last <= 0:
            _refuse(
                out, spec.name, f"leg {n + 1}: no {leg.option_type} of {expiry} for {leg.strike.to_doc()}"
            )
            return None
        qty = leg.lots * inst.lot_size
        cap = ctx.guardrails.qty_cap(inst, q.last) if ctx.guardrails is not None else None
        if cap is not None and qty > cap:
            _refuse(out, spec.name, f"leg {n + 1}: {qty} of {inst.symbol} is over the guardrails' {cap}")
            return None
        stop = None
        if leg.sl is not None:
            dist = max(leg.sl.of(q.last), 2 * float(inst.tick_size))
            stop = float(to_tick(q.last - leg.side.sign * dist, inst.tick_size, up=leg.side is Side.BUY))
        planned.append(PlannedLeg(inst, leg.side, qty, q.last, stop))
    risk = ctx.plan.risk
    slip = {p.inst.symbol: risk.slippage(p.inst.segment, p.stop or p.premium) for p in planned}
    try:
        worst = structure_worst_loss(planned, ctx.day, slip)
    except ValueError as e:
        _refuse(out, spec.name, f"naked short refused: {e}")
        return None
    margin = structure_margin(planned, spot, ctx.now)
    ex = exposure(ctx)
    cand = Candidate("Index", margin, margin)
    halted = ctx.halted or (ctx.kill.why if ctx.kill is not None and ctx.kill.engaged else None)
    refusal = entry_refusal(
        risk,
        ex,
        symbol=spec.name,
        confidence=1.0,
        worst_loss=worst,
        at=ctx.now.time(),
        halted=halted,
        candidate=cand,
    )
    if refusal is None and (busy := [p.inst.symbol for p in planned if p.inst.symbol in ex.symbols_busy]):
        refusal = f"{', '.join(busy)} already held or in flight"
    if refusal:
        _refuse(out, spec.name, f"{refusal} (worst case ₹{worst}, margin ₹{margin})")
        return None
    number = len(ctx.structures) + 1
    state: dict[str, Any] = {
        "id": f"{spec.name}-{number}",
        "template": spec.name,
        "phase": "hedging" if any(p.side is Side.BUY for p in planned) else "entering",
        "entry_time": ctx.now.isoformat(),
        "exit_time": None,
        "exit_reason": None,
        "worst": str(worst),
        "margin": str(margin),
        "base_realized": str(ctx.book.realized),
        "mtm": "0",
        "max_adverse": "0",
        "path": [],
        "legs": [
            {
                "n": n,
                "symbol": p.inst.symbol,
                "side": p.side.value,
                "type": p.inst.option_type,
                "strike": p.inst.strike,
                "expiry": p.inst.expiry.isoformat() if p.inst.expiry else None,
                "qty": p.qty,
                "premium": p.premium,
                "stop": p.stop,
                "target": _target(spec, n, p),
                "entry_id": None,
                "fills_before": ctx.book.entries_by_symbol.get(p.inst.symbol, 0),
            }
            for n, p in enumerate(planned)
        ],
    }
    first = Side.BUY if state["phase"] == "hedging" else Side.SELL
    for leg, p in zip(state["legs"], planned, strict=True):
        if p.side is first:
            _send(ctx, spec, state, leg, p.inst, p.qty, out)
    out.events.append(
        {
            "event": "structure_entered",
            "symbol": state["id"],
            "reason": f"{spec.name}: {', '.join(f'{p.side} {p.qty} {p.inst.symbol}' for p in planned)}; "
            f"worst case ₹{worst}, margin ₹{margin}",
        }
    )
    return state


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


def _target(spec: StructureSpec, n: int, p: PlannedLeg) -> float | None:
    move = spec.legs[n].target
    if move is None:
        return None
    dist = move.of(p.premium)
    price = max(p.premium + p.side.sign * dist, float(p.inst.tick_size))
    return float(to_tick(price, p.inst.tick_size, up=p.side is Side.SELL))


def _send(
    ctx: TickContext,
    spec: StructureSpec,
    state: dict[str, Any],
    leg: dict[str, Any],
    inst: Instrument,
    qty: int,
    out: TickDecision,
) -> None:
    """The leg's entry intent (the structure's id as its strategy, so its id is the leg's own), counted in
    flight with its share of the structure's worst case and margin."""
    side = Side(leg["side"])
    strategy = state["id"]
    intent = OrderIntent(
        intent_id=intent_id(ctx.day, ctx.asset, strategy, inst.symbol, Purpose.ENTRY, ctx.now),
        day=ctx.day,
        asset=ctx.asset,
        symbol=inst.symbol,
        exchange=inst.exchange,
        side=side,
        qty=qty,
        purpose=Purpose.ENTRY,
        strategy=strategy,
        reason=f"{spec.name} leg {leg['n'] + 1}: {side} {leg['type']} {leg['strike']:g}",
        decided_at=ctx.now,
        stop=leg["stop"],
        target=leg["target"],
        segment=inst.segment,
        tick_size=inst.tick_size,
        price=leg["premium"],
    )
    leg["entry_id"] = intent.intent_id
    leg["qty"] = qty
    out.intents.append(intent)
    n = len(state["legs"])
    worst, margin = paise(dec(state["worst"]) / n), paise(dec(state["margin"]) / n)
    share = Candidate("Index", margin, margin)
    ctx.pending[intent.intent_id] = pending_entry(intent.intent_id, inst.symbol, worst, share, 0)


def _entering(
    ctx: TickContext,
    spec: StructureSpec,
    cur: dict[str, Any],
    states: list[LegState],
    out: TickDecision,
    entries_allowed: bool,
) -> None:
    """Hedges first: once every bought leg is settled, the sold legs go (sized down to what the hedges
    filled); a leg that failed unwinds the structure; all open: the structure is held."""
    legs = cur["legs"]
    buys = [i for i, leg in enumerate(legs) if leg["side"] == "BUY"]
    sells = [i for i, leg in enumerate(legs) if leg["side"] == "SELL"]
    if any(states[i].status == "pending" for i in range(len(legs))):
        return
    failed = [i for i in range(len(legs)) if states[i].status in ("failed", "closed")]
    if failed:
        names = ", ".join(legs[i]["symbol"] for i in failed)
        _start_exit(ctx, cur, f"leg {names} not entered: the structure unwound", out)
        return
    if cur["phase"] == "hedging":
        if not entries_allowed:
            _start_exit(ctx, cur, "entries stopped before the sold legs: the hedges unwound", out)
            return
        filled = min((abs(states[i].qty) / legs[i]["qty"] for i in buys), default=1.0)
        insts = ctx.instruments
        for i in sells:
            inst = insts[legs[i]["symbol"]]
            qty = int(legs[i]["qty"] * filled) // inst.lot_size * inst.lot_size
            if qty == 0:
                _start_exit(ctx, cur, "the hedges filled too little to cover a lot: unwound", out)
                return
            _send(ctx, spec, cur, legs[i], inst, qty, out)
        cur["phase"] = "entering"
        return
    if all(s.status == "open" for s in states):
        cur["phase"] = "open"


# ---------------------------------------------------------------------------------------------- holding
def _mark(ctx: TickContext, cur: dict[str, Any], states: list[LegState], last: dict[str, float]) -> None:
    """The structure's gross MTM (realised since it entered plus its open legs at the minute's close), the
    worst it has been, its path, and the greeks of what it holds."""
    open_pnl = ZERO
    held = []
    for leg, st in zip(cur["legs"], states, strict=True):
        pos = ctx.book.positions.get(leg["symbol"])
        if st.status != "open" or pos is None:
            continue
        mark = last.get(leg["symbol"])
        if mark is not None:
            open_pnl += (dec(mark) - pos.avg_price) * pos.qty
            held.append(HeldLeg(ctx.instruments[leg["symbol"]], pos.qty, mark))
    mtm = paise(ctx.book.realized - dec(cur["base_realized"]) + open_pnl)
    cur["mtm"] = str(mtm)
    cur["max_adverse"] = str(min(dec(cur["max_adverse"]), mtm))
    cur["path"].append([f"{ctx.now:%H:%M}", float(mtm)])
    spot = last.get(ctx.spot_symbol or "")
    if held and spot and all(st.status == "open" for st in states):  # the whole structure's
        cur["greeks"] = structure_greeks(held, spot, ctx.now).to_doc()


def _holding(ctx: TickContext, spec: StructureSpec, cur: dict[str, Any], states: list[LegState]) -> None:
    mtm = dec(cur["mtm"])
    why = None
    if all(s.status in ("closed", "failed") for s in states):
        why = "every leg closed at its own stop or target"
    elif ctx.now.time() >= spec.exit:
        why = f"exit time {spec.exit:%H:%M}"
    elif spec.mtm_sl is not None and mtm <= -spec.mtm_sl:
        why = f"MTM stop ₹{spec.mtm_sl} hit (MTM ₹{mtm})"
    elif spec.mtm_target is not None and mtm >= spec.mtm_target:
        why = f"MTM target ₹{spec.mtm_target} reached (MTM ₹{mtm})"
    if why is not None:
        cur["phase"], cur["exit_reason"] = "exiting", why


def _start_exit(ctx: TickContext, cur: dict[str, Any], why: str, out: TickDecision) -> None:
    cur["phase"], cur["exit_reason"] = "exiting", why
    out.events.append({"event": "structure_exit", "symbol": cur["id"], "reason": why})


def _exiting(
    ctx: TickContext, cur: dict[str, Any], states: list[LegState], out: TickDecision, exits_for: ExitsFor
) -> None:
    """Sold legs out first; the bought ones once no sold leg is held or entering; closed when none is held."""
    legs = cur["legs"]
    live = [i for i, s in enumerate(states) if s.status in ("open", "pending")]
    if not live:
        cur["phase"], cur["exit_time"] = "closed", ctx.now.isoformat()
        out.events.append({"event": "structure_closed", "symbol": cur["id"], "reason": cur["exit_reason"]})
        return
    shorts = {
        legs[i]["symbol"]
        for i in live
        if states[i].qty < 0 or (legs[i]["side"] == "SELL" and states[i].status == "pending")
    }
    wave = shorts or {legs[i]["symbol"] for i in live}
    ready = {s for s in wave if s in ctx.book.positions}
    if ready:
        out.intents.extend(exits_for(ctx, ready, cur["exit_reason"] or "structure exit"))


def _monthly(options: list[Instrument]) -> date | None:
    """The nearest monthly expiry listed: Kite spells a monthly option NIFTY26DEC26000CE, a weekly one
    NIFTY26D0826000CE."""
    monthly = sorted(i.expiry for i in options if i.expiry and _MONTHLY.match(i.symbol))
    return monthly[0] if monthly else None


def _refuse(out: TickDecision, name: str, reason: str) -> None:
    out.events.append({"event": "entry_refused", "symbol": name, "strategy": name, "reason": reason})
