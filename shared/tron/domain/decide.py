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
from tron.domain.contracts import ContractRules, days_to_expiry, implied_vol, option_delta, pick_option
from tron.domain.exits import ExitRules, exit_reason, update_best
from tron.domain.models import Asset, Instrument, OrderIntent, Position, Purpose, Side, Snapshot, intent_id
from tron.domain.money import ZERO, D, to_tick
from tron.domain.plan import AssetPlan
from tron.domain.risk import (
    Candidate,
    Exposure,
    KillSwitch,
    RiskLimits,
    asset_headroom,
    entry_refusal,
    exposure_value,
    loss_limit_breached,
    margin_required,
)
from tron.domain.session import SessionState
from tron.domain.sizing import StrategyStats, risk_pct_with_kelly, size_by_risk
from tron.domain.strategies import Signal

STOP_ATR = 2.0
TARGET_ATR = 3.0
EXIT_RULES = ExitRules()
# A 1-minute ATR is tiny: the stop is at least this % of price (for options: of the underlying, then
# mapped to the premium by the option's delta). The ATR stored on the position (for the trailing stop) is
# then the stop distance / STOP_ATR. Stocks move more than the index, so their floor is wider.
MIN_STOP_PCT = {Asset.STOCKS: 0.4, Asset.FUTURES: 0.1, Asset.OPTIONS: 0.1}
MIN_PREMIUM_STOP = 0.5  # rupees: an option stop is at least this far (ten ticks)
MAX_PREMIUM_STOP_SHARE = 0.5  # and at most half the premium
MIN_PREMIUM = 2.0  # rupees: cheaper options are not bought (no room for a stop)
STALE_AFTER = timedelta(minutes=2)


@dataclass
class Pending:
    """An intent the tick claimed whose outcome is not yet in the book."""

    intent_id: str
    symbol: str
    purpose: str
    worst_loss: str = "0"
    exposure: str = "0"  # what the entry uses of the asset's capital
    margin: str = "0"
    sector: str = ""
    direction: int = 0  # options: +1 a call, −1 a put (a view on the underlying)

    def to_doc(self) -> dict[str, Any]:
        return {
            "intent_id": self.intent_id,
            "symbol": self.symbol,
            "purpose": self.purpose,
            "worst_loss": self.worst_loss,
            "exposure": self.exposure,
            "margin": self.margin,
            "sector": self.sector,
            "direction": self.direction,
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
    kill: KillSwitch | None = None  # the user's kill switch as the tick read it
    margin_elsewhere: Decimal = ZERO  # margin of the other assets' open positions
    others_net: Decimal = ZERO  # the other assets' realised net P&L today (the loss limit is account-wide)
    others_worst: Decimal = ZERO  # what the other assets' open positions lose at their stops
    stats: dict[str, StrategyStats] = field(default_factory=dict)  # realised statistics per strategy
    underlying: str | None = None  # options: the symbol whose signals pick calls or puts (the future)
    spot_symbol: str | None = None  # options: the index, for strikes
    contract: ContractRules = field(default_factory=ContractRules)


@dataclass
class TickDecision:
    intents: list[OrderIntent] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    halt: str | None = None  # a reason to halt entries for the rest of the day


def worst_loss_of_entry(
    inst: Instrument, side: Side, qty: int, price: float, stop: float, day: date, slip: Decimal = ZERO
) -> Decimal:
    """Loss if the entry fills at price and exits at its stop, `slip` rupees per unit beyond it (the band
    the governor reserves: fills beyond the decided price and beyond the stop), with both orders' charges."""
    loss = (D(abs(price - stop)) + slip) * qty
    c_in = order_charges(inst.segment, side, D(price), qty, day).total
    c_out = order_charges(inst.segment, side.opposite, D(stop), qty, day).total
    return (loss + c_in + c_out).quantize(Decimal("0.01"))


def direction_of(inst: Instrument | None, qty_sign: int) -> int:
    """The view an option position takes on its underlying: a long call +1, a long put −1 (0 otherwise)."""
    if inst is None or inst.option_type not in ("CE", "PE"):
        return 0
    return qty_sign * (1 if inst.option_type == "CE" else -1)


def position_worst_loss(p: Position, day: date, limits: RiskLimits | None = None) -> Decimal:
    """What an open position loses if its stop is hit and filled the limits' slippage band beyond it, with
    the exit's charges (0 without a stop)."""
    if p.stop is None:
        return ZERO
    loss = max(ZERO, (p.avg_price - D(p.stop)) * p.qty)
    slip = limits.slippage(p.segment, p.stop) * abs(p.qty) if limits is not None else ZERO
    return loss + slip + order_charges(p.segment, exit_side(p), D(p.stop), abs(p.qty), day).total


def exposure(ctx: TickContext) -> Exposure:
    """The day so far as the governor sees it. The loss limit is account-wide: the other assets' realised
    net and open worst case count too (their entries still in flight do not: a small, documented gap)."""
    limits = ctx.plan.risk if ctx.plan is not None else None
    ex = Exposure(
        realized_net=ctx.book.net + ctx.others_net,
        open_worst_loss=ctx.others_worst,
        others_net=ctx.others_net,
        others_worst=ctx.others_worst,
        entries_today=ctx.book.entries,
        entries_by_symbol=dict(ctx.book.entries_by_symbol),
        margin_used=ctx.margin_elsewhere,
    )
    for s, p in ctx.book.positions.items():
        ex.symbols_busy.add(s)
        ex.open_positions += 1
        inst = ctx.instruments.get(s)
        if limits is not None:
            used = exposure_value(limits, p.segment, p.qty, p.avg_price)
            ex.capital_used += used
            sector = inst.sector if inst else ""
            if sector:
                ex.by_sector[sector] = ex.by_sector.get(sector, ZERO) + used
            side = "BUY" if p.qty > 0 else "SELL"
            ex.margin_used += margin_required(limits, p.segment, side, p.qty, p.avg_price)
        ex.open_worst_loss += position_worst_loss(p, ctx.day, limits)
    for pend in ctx.pending.values():
        ex.symbols_busy.add(pend.symbol)
        if pend.purpose == Purpose.ENTRY:
            ex.open_positions += 1
            ex.entries_today += 1
            ex.entries_by_symbol[pend.symbol] = ex.entries_by_symbol.get(pend.symbol, 0) + 1
            ex.open_worst_loss += D(pend.worst_loss)
            ex.capital_used += D(pend.exposure)
            ex.margin_used += D(pend.margin)
            if pend.sector:
                ex.by_sector[pend.sector] = ex.by_sector.get(pend.sector, ZERO) + D(pend.exposure)
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


@dataclass(frozen=True)
class Entry:
    """A signal turned into something to buy or sell: the instrument, its price, stop distance and view."""

    inst: Instrument
    side: Side
    price: float
    dist: float
    direction: int = 0
    note: str = ""


def _entry_for(ctx: TickContext, sig: Signal) -> Entry | str | None:
    """What to trade on a signal (None: not this asset's signal; a string: why it cannot be traded).

    Stocks and futures trade the signal's own instrument. Options buy a call on a bullish signal of the
    underlying and a put on a bearish one, at the strike the contract rules pick; the stop distance on the
    underlying is mapped to the premium by the option's delta."""
    floor = MIN_STOP_PCT[ctx.asset] / 100 * sig.price
    dist = max(STOP_ATR * sig.atr, floor)
    if ctx.asset is not Asset.OPTIONS:
        inst = ctx.instruments.get(sig.symbol)
        if inst is None or inst.segment == "index":  # an index is followed, not traded
            return None
        return Entry(inst, sig.side, sig.price, dist)
    if sig.symbol != ctx.underlying:
        return None
    assert ctx.snapshot is not None
    spot_q = ctx.snapshot.quotes.get(ctx.spot_symbol or "")
    if spot_q is None:
        return f"no quote for the index {ctx.spot_symbol}"
    spot = spot_q.last
    kind = "CE" if sig.side is Side.BUY else "PE"
    chain = [i for i in ctx.instruments.values() if i.option_type == kind and i.strike]
    if not chain:
        return f"no {kind} listed"
    expiry = chain[0].expiry
    assert expiry is not None
    days = days_to_expiry(ctx.now, expiry)
    atm = min(chain, key=lambda i: abs((i.strike or 0) - spot))
    atm_q = ctx.snapshot.quotes.get(atm.symbol)
    vol = implied_vol(kind, spot, atm.strike or spot, days, atm_q.last) if atm_q else 0.15
    inst = pick_option(chain, kind, spot, ctx.contract, days, vol)
    if inst is None:
        return f"the {ctx.contract.strike} {kind} strike is not listed around spot {spot:.2f}"
    q = ctx.snapshot.quotes.get(inst.symbol)
    if q is None or q.last <= 0:
        return f"no quote for {inst.symbol}"
    if q.last < MIN_PREMIUM:
        return f"{inst.symbol} premium {q.last:.2f} below ₹{MIN_PREMIUM:g}: too little to place a stop under"
    d = abs(option_delta(kind, spot, inst.strike or spot, days, vol))
    prem_dist = min(max(d * dist, MIN_PREMIUM_STOP), MAX_PREMIUM_STOP_SHARE * q.last)
    note = f"{kind} {inst.strike:g} (delta {d:.2f}, IV {vol:.1%}) on {sig.symbol} {sig.side}: {sig.reason}"
    return Entry(inst, Side.BUY, q.last, prem_dist, 1 if kind == "CE" else -1, note)


def decide(ctx: TickContext) -> TickDecision:
    out = TickDecision()
    if ctx.snapshot is None:
        raise ValueError("decide needs the tick's snapshot")
    ctx.snapshot, bad = ctx.snapshot.usable()  # a bad quote never enters bars, marks or entries
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
    bar = ctx.state.apply(ctx.snapshot)
    if bar is None:
        return out
    idx = {s: i for i, s in enumerate(ctx.state.symbols)}
    marks = {s: (float(bar.low[i]), float(bar.high[i])) for s, i in idx.items()}
    last = {s: float(bar.close[i]) for s, i in idx.items()}

    # 1. The loss limit, marked to market: halt entries and flatten.
    plan = ctx.plan
    if plan is not None and ctx.halted is None:
        mtm = ctx.book.net + ctx.book.unrealized(last) + ctx.others_net
        if loss_limit_breached(plan.risk, mtm):
            out.halt = f"daily loss limit ₹{plan.risk.loss_limit} breached (marked to market ₹{mtm})"
            out.intents = exits_for(ctx, marks, only=set(ctx.book.positions), reason=out.halt)
            out.events.append({"event": "halt", "reason": out.halt})
            return out

    # 1b. The user's kill switch: no entries; with flatten, every position is closed now.
    kill = ctx.kill if ctx.kill is not None and ctx.kill.engaged else None
    if kill is not None and kill.flatten:
        out.intents = exits_for(ctx, marks, only=set(ctx.book.positions), reason=kill.why)
        return out

    # 2. Exits first; they are never blocked.
    out.intents.extend(exits_for(ctx, marks))

    # 3. Entries from the planned strategies, through the governor.
    if plan is None or not plan.enabled:
        return out
    halted = ctx.halted or (kill.why if kill else None)
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
    views = {
        direction_of(ctx.instruments.get(s), 1 if p.qty > 0 else -1) for s, p in ctx.book.positions.items()
    } | {p.direction for p in ctx.pending.values() if p.purpose == Purpose.ENTRY}
    signals = strategies.evaluate(plan.strategies, ctx.state, bar, min_agreement=plan.min_agreement)
    for sig in signals:
        entry = _entry_for(ctx, sig)
        if entry is None:
            continue
        if isinstance(entry, str):
            out.events.append(
                {"event": "entry_refused", "symbol": sig.symbol, "strategy": sig.strategy, "reason": entry}
            )
            continue
        inst = entry.inst
        quote = ctx.snapshot.quotes.get(inst.symbol)
        if quote is None:
            continue
        if quote.ts < stale_cutoff:
            out.events.append(
                {
                    "event": "entry_refused",
                    "symbol": inst.symbol,
                    "strategy": sig.strategy,
                    "reason": f"stale quote from {quote.ts.isoformat()}",
                }
            )
            continue
        risk = plan.risk
        price, side = entry.price, entry.side
        dist = max(
            entry.dist, 2 * float(inst.tick_size)
        )  # the stop stays at least a tick away when on the grid
        # On the tick grid, rounded towards the entry: the stop never adds risk, the target never runs away.
        stop = float(to_tick(price - side.sign * dist, inst.tick_size, up=side is Side.BUY))
        target = float(
            to_tick(price + side.sign * dist * TARGET_ATR / STOP_ATR, inst.tick_size, up=side is Side.SELL)
        )
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
            headroom=headroom * Decimal("0.9"),
            slippage=float(slip),
            unit_exposure=float(exposure_value(risk, inst.segment, 1, price)),
            room=risk.capital - ex.capital_used,
        )
        worst = worst_loss_of_entry(inst, side, qty, price, stop, ctx.day, slip) if qty else ZERO
        cand = Candidate(
            inst.sector,
            exposure_value(risk, inst.segment, qty, price),
            margin_required(risk, inst.segment, side.value, qty, price),
        )
        refusal: str | None
        if qty == 0:
            one = worst_loss_of_entry(inst, side, inst.lot_size, price, stop, ctx.day, slip)
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
        else:
            refusal = entry_refusal(
                risk,
                ex,
                symbol=inst.symbol,
                confidence=sig.confidence,
                worst_loss=worst,
                at=ctx.now.time(),
                halted=halted,
                candidate=cand,
            )
        if refusal:
            out.events.append(
                {"event": "entry_refused", "symbol": inst.symbol, "strategy": sig.strategy, "reason": refusal}
            )
            continue
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
        out.intents.append(intent)
        ex.symbols_busy.add(inst.symbol)
        ex.open_positions += 1
        ex.entries_today += 1
        ex.entries_by_symbol[inst.symbol] = ex.entries_by_symbol.get(inst.symbol, 0) + 1
        ex.open_worst_loss += worst
        ex.capital_used += cand.exposure
        ex.margin_used += cand.margin
        if cand.sector:
            ex.by_sector[cand.sector] = ex.by_sector.get(cand.sector, ZERO) + cand.exposure
        if entry.direction:
            views.add(entry.direction)
        ctx.pending[intent.intent_id] = Pending(
            intent.intent_id,
            inst.symbol,
            Purpose.ENTRY,
            str(worst),
            str(cand.exposure),
            str(cand.margin),
            cand.sector,
            entry.direction,
        )
    return out
