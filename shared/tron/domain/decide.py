"""The tick's decision, as one pure function: (plan, state, book, snapshot, time) → (intents, events).

The live tick, the paper run, the replay of a recorded day and the backtester all call this function; only
the adapters around it differ."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tron.domain import strategies
from tron.domain.book import Book, exit_side
from tron.domain.charges import order_charges
from tron.domain.exits import ExitRules, exit_reason, update_best
from tron.domain.models import Asset, Instrument, OrderIntent, Purpose, Side, Snapshot, intent_id
from tron.domain.money import ZERO, D
from tron.domain.plan import AssetPlan
from tron.domain.risk import Exposure, entry_refusal, loss_limit_breached
from tron.domain.session import SessionState
from tron.domain.sizing import size_by_risk

STOP_ATR = 2.0
TARGET_ATR = 3.0
EXIT_RULES = ExitRules()
MIN_STOP_PCT = 0.4  # a 1-minute ATR is tiny: the stop is at least this % of price; the ATR used for
# the stop, target and trailing stop (stored on the position) is then the stop distance / STOP_ATR
STALE_AFTER = timedelta(minutes=2)


@dataclass
class Pending:
    """An intent the tick claimed whose outcome is not yet in the book."""

    intent_id: str
    symbol: str
    purpose: str
    worst_loss: str = "0"

    def to_doc(self) -> dict[str, str]:
        return {
            "intent_id": self.intent_id,
            "symbol": self.symbol,
            "purpose": self.purpose,
            "worst_loss": self.worst_loss,
        }


@dataclass
class TickContext:
    asset: Asset
    day: date
    now: datetime
    plan: AssetPlan | None
    halted: str | None
    instruments: dict[str, Instrument]
    state: SessionState
    book: Book
    pending: dict[str, Pending]
    snapshot: Snapshot | None  # None outside a tick (the square-off)
    trail: dict[str, float] = field(default_factory=dict)  # best price since entry, per open position


@dataclass
class TickDecision:
    intents: list[OrderIntent] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    halt: str | None = None  # a reason to halt entries for the rest of the day


def worst_loss_of_entry(
    inst: Instrument, side: Side, qty: int, price: float, stop: float, day: date
) -> Decimal:
    """Loss if the entry fills at price and exits at its stop, with both orders' charges."""
    loss = D(abs(price - stop)) * qty
    c_in = order_charges(inst.segment, side, D(price), qty, day).total
    c_out = order_charges(inst.segment, side.opposite, D(stop), qty, day).total
    return (loss + c_in + c_out).quantize(Decimal("0.01"))


def exposure(ctx: TickContext) -> Exposure:
    ex = Exposure(
        realized_net=ctx.book.net,
        entries_today=ctx.book.entries,
        entries_by_symbol=dict(ctx.book.entries_by_symbol),
    )
    for s, p in ctx.book.positions.items():
        ex.symbols_busy.add(s)
        ex.open_positions += 1
        if p.stop is not None:
            ex.open_worst_loss += max(ZERO, (p.avg_price - D(p.stop)) * p.qty)
        inst = ctx.instruments.get(s)
        if inst and p.stop is not None:
            ex.open_worst_loss += order_charges(
                inst.segment, exit_side(p), D(p.stop), abs(p.qty), ctx.day
            ).total
    for pend in ctx.pending.values():
        ex.symbols_busy.add(pend.symbol)
        if pend.purpose == Purpose.ENTRY:
            ex.open_positions += 1
            ex.entries_today += 1
            ex.entries_by_symbol[pend.symbol] = ex.entries_by_symbol.get(pend.symbol, 0) + 1
            ex.open_worst_loss += D(pend.worst_loss)
    return ex


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
        **kw,
    )


def exits_for(
    ctx: TickContext,
    marks: dict[str, tuple[float, float]],
    purpose: Purpose = Purpose.EXIT,
    only: set[str] | None = None,
    reason: str | None = None,
) -> list[OrderIntent]:
    """Exit intents for open positions whose stop, trailing stop, target or time stop fired on the bar
    (marks: symbol → (low, high)), or for every position in `only` with the given reason. Never one for a
    symbol with an exit in flight. Updates the trailing state of the positions it looks at."""
    busy = {p.symbol for p in ctx.pending.values() if p.purpose != Purpose.ENTRY}
    out = []
    for s, pos in sorted(ctx.book.positions.items()):
        if s in busy or s not in ctx.instruments:
            continue
        why = reason if only is not None and s in only else None
        if why is None and s in marks:
            low, high = marks[s]
            why = exit_reason(pos, low, high, ctx.trail.get(s), ctx.now, EXIT_RULES)
            ctx.trail[s] = update_best(pos, low, high, ctx.trail.get(s))
        if why:
            out.append(
                _intent(ctx, ctx.instruments[s], exit_side(pos), abs(pos.qty), purpose, pos.strategy, why)
            )
    return out


def decide(ctx: TickContext) -> TickDecision:
    out = TickDecision()
    if ctx.snapshot is None:
        raise ValueError("decide needs the tick's snapshot")
    bar = ctx.state.apply(ctx.snapshot)
    if bar is None:
        return out
    idx = {s: i for i, s in enumerate(ctx.state.symbols)}
    marks = {s: (float(bar.low[i]), float(bar.high[i])) for s, i in idx.items()}
    last = {s: float(bar.close[i]) for s, i in idx.items()}

    # 1. The loss limit, marked to market: halt entries and flatten.
    plan = ctx.plan
    if plan is not None and ctx.halted is None:
        mtm = ctx.book.net + ctx.book.unrealized(last)
        if loss_limit_breached(plan.risk, mtm):
            out.halt = f"daily loss limit ₹{plan.risk.loss_limit} breached (marked to market ₹{mtm})"
            out.intents = exits_for(ctx, marks, only=set(ctx.book.positions), reason=out.halt)
            out.events.append({"event": "halt", "reason": out.halt})
            return out

    # 2. Exits first; they are never blocked.
    out.intents.extend(exits_for(ctx, marks))

    # 3. Entries from the planned strategies, through the governor.
    if plan is None or not plan.enabled:
        return out
    halted = ctx.halted
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
    ex = exposure(ctx)
    signals = strategies.evaluate(plan.strategies, ctx.state, bar)
    for sig in signals:
        inst = ctx.instruments.get(sig.symbol)
        quote = ctx.snapshot.quotes.get(sig.symbol)
        if inst is None or quote is None:
            continue
        if quote.ts < stale_cutoff:
            out.events.append(
                {
                    "event": "entry_refused",
                    "symbol": sig.symbol,
                    "strategy": sig.strategy,
                    "reason": f"stale quote from {quote.ts.isoformat()}",
                }
            )
            continue
        dist = max(STOP_ATR * sig.atr, MIN_STOP_PCT / 100 * sig.price)
        stop = sig.price - sig.side.sign * dist
        target = sig.price + sig.side.sign * dist * TARGET_ATR / STOP_ATR
        headroom = plan.risk.loss_limit + ex.realized_net - ex.open_worst_loss
        qty = size_by_risk(
            capital=plan.risk.capital,
            risk_per_trade_pct=plan.risk.risk_per_trade_pct,
            max_position_pct=plan.risk.max_position_pct,
            price=sig.price,
            stop_distance=dist,
            lot_size=inst.lot_size,
            headroom=headroom * Decimal("0.9"),
        )
        worst = worst_loss_of_entry(inst, sig.side, qty, sig.price, stop, ctx.day) if qty else ZERO
        refusal = (
            "size rounds to zero"
            if qty == 0
            else entry_refusal(
                plan.risk,
                ex,
                symbol=sig.symbol,
                confidence=sig.confidence,
                worst_loss=worst,
                at=ctx.now.time(),
                halted=halted,
            )
        )
        if refusal:
            out.events.append(
                {"event": "entry_refused", "symbol": sig.symbol, "strategy": sig.strategy, "reason": refusal}
            )
            continue
        intent = _intent(
            ctx,
            inst,
            sig.side,
            qty,
            Purpose.ENTRY,
            sig.strategy,
            sig.reason,
            stop=round(stop, 2),
            target=round(target, 2),
            atr=round(dist / STOP_ATR, 4),
        )
        out.intents.append(intent)
        ex.symbols_busy.add(sig.symbol)
        ex.open_positions += 1
        ex.entries_today += 1
        ex.entries_by_symbol[sig.symbol] = ex.entries_by_symbol.get(sig.symbol, 0) + 1
        ex.open_worst_loss += worst
        ctx.pending[intent.intent_id] = Pending(intent.intent_id, sig.symbol, Purpose.ENTRY, str(worst))
    return out
