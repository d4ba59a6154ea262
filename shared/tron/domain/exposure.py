"""What the day has at risk, as the governor counts it: each entry's and position's loss at its stop (with
the slippage band and charges), and the day's exposure from the book and the intents in flight."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tron.domain.book import exit_side
from tron.domain.charges import total_charges
from tron.domain.context import Pending, TickContext
from tron.domain.models import Instrument, Position, Purpose, Side
from tron.domain.money import ZERO, dec
from tron.domain.risk import Candidate, Exposure, RiskLimits, exposure_value, margin_required


def worst_loss_of_entry(
    inst: Instrument,
    side: Side,
    qty: int,
    price: float,
    stop: float,
    day: date,
    slip: Decimal = ZERO,
    charged: bool = True,
) -> Decimal:
    """Loss if the entry fills at price and exits at its stop, `slip` rupees per unit beyond it (the band
    the governor reserves: fills beyond the decided price and beyond the stop), with both orders' charges
    (unless ``charged`` is False)."""
    loss = (dec(abs(price - stop)) + slip) * qty
    c_in = total_charges(inst.segment, side, dec(price), qty, day, charged)
    c_out = total_charges(inst.segment, side.opposite, dec(stop), qty, day, charged)
    return (loss + c_in + c_out).quantize(Decimal("0.01"))


def direction_of(inst: Instrument | None, qty_sign: int) -> int:
    """The view an option position takes on its underlying: a long call +1, a long put −1 (0 otherwise)."""
    if inst is None or inst.option_type not in ("CE", "PE"):
        return 0
    return qty_sign * (1 if inst.option_type == "CE" else -1)


def position_worst_loss(
    p: Position, day: date, limits: RiskLimits | None = None, charged: bool = True
) -> Decimal:
    """What an open position loses if its stop is hit and filled the limits' slippage band beyond it, with
    the exit's charges unless ``charged`` is False (0 without a stop)."""
    if p.stop is None:
        return ZERO
    loss = max(ZERO, (p.avg_price - dec(p.stop)) * p.qty)
    slip = limits.slippage(p.segment, p.stop) * abs(p.qty) if limits is not None else ZERO
    return loss + slip + total_charges(p.segment, exit_side(p), dec(p.stop), abs(p.qty), day, charged)


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
        ex.open_worst_loss += position_worst_loss(p, ctx.day, limits, ctx.charged)
    for pend in ctx.pending.values():
        ex.symbols_busy.add(pend.symbol)
        if pend.purpose == Purpose.ENTRY:
            ex.open_positions += 1
            ex.entries_today += 1
            ex.entries_by_symbol[pend.symbol] = ex.entries_by_symbol.get(pend.symbol, 0) + 1
            ex.open_worst_loss += dec(pend.worst_loss)
            ex.capital_used += dec(pend.exposure)
            ex.margin_used += dec(pend.margin)
            if pend.sector:
                ex.by_sector[pend.sector] = ex.by_sector.get(pend.sector, ZERO) + dec(pend.exposure)
    return ex


def reserve(ex: Exposure, symbol: str, worst: Decimal, cand: Candidate) -> None:
    """Count an approved entry in the exposure, so the next candidate of the same tick sees it."""
    ex.symbols_busy.add(symbol)
    ex.open_positions += 1
    ex.entries_today += 1
    ex.entries_by_symbol[symbol] = ex.entries_by_symbol.get(symbol, 0) + 1
    ex.open_worst_loss += worst
    ex.capital_used += cand.exposure
    ex.margin_used += cand.margin
    if cand.sector:
        ex.by_sector[cand.sector] = ex.by_sector.get(cand.sector, ZERO) + cand.exposure


def pending_entry(intent_id: str, symbol: str, worst: Decimal, cand: Candidate, direction: int) -> Pending:
    """An approved entry as the tick keeps it in flight (its worst case, exposure and margin count)."""
    return Pending(
        intent_id,
        symbol,
        Purpose.ENTRY,
        str(worst),
        str(cand.exposure),
        str(cand.margin),
        cand.sector,
        direction,
    )
