"""The stop that rests at the broker for each open position (so a position stays protected when TRON is not
running): the protect intent that places it when an entry fills, the limit of an SL stop, and when the
trailing stop moves it (a trail intent) or an exit must go at once instead.

Stocks and futures rest an SL-M with market protection (or an SL, a setting); options an SL (exchanges no
longer take SL-M for options) whose limit is inside both the exchange's trigger-to-limit range and Kite's
protection band (tron.domain.order_rules)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tron.domain.models import OrderIntent, Position, Purpose, RestingStop, Side
from tron.domain.money import dec
from tron.domain.order_rules import auto_protection_pct, on_tick, sl_gap_limit

STOP_ORDER_TYPES = ("SL-M", "SL")


def stop_order_type(segment: str, preferred: str = "SL-M") -> str:
    """The stop order a segment rests: options always SL, else the preferred type."""
    if preferred not in STOP_ORDER_TYPES:
        raise ValueError(f"a resting stop is SL-M or SL, got {preferred!r}")
    return "SL" if segment == "options" else preferred


def sl_limit(side: Side, trigger: Decimal, tick: Decimal, is_option: bool) -> Decimal:
    """An SL stop's limit: beyond the trigger (lower for a sell stop) by the smaller of the exchange's
    permissible gap and Kite's protection band at that price, at least one tick, on the tick grid inside
    both."""
    gap = min(sl_gap_limit(trigger, is_option), trigger * auto_protection_pct(trigger, is_option) / 100)
    gap = max(gap, tick)
    if side is Side.SELL:
        return max(on_tick(trigger - gap, tick, ROUND_CEILING), tick)
    return on_tick(trigger + gap, tick, ROUND_FLOOR)


def stop_prices(
    side: Side, order_type: str, trigger: float, tick: Decimal, segment: str
) -> tuple[float, float | None]:
    """The trigger on the tick grid (rounded away from the market: a sell stop down, a buy stop up, so it
    never sits tighter than the book's) and the limit an SL needs (None for SL-M)."""
    t = on_tick(dec(trigger), tick, ROUND_FLOOR if side is Side.SELL else ROUND_CEILING)
    limit = sl_limit(side, t, tick, segment == "options") if order_type == "SL" else None
    return float(t), None if limit is None else float(limit)


def protect_id(entry_id: str, version: int = 1) -> str:
    """The protect intent of an entry: its id plus S and a version (a new one only on cancel and replace),
    so its broker tag is deterministic."""
    return f"{entry_id}-S{version}"


def protect_intent(
    entry: OrderIntent, pos: Position, now: datetime, preferred: str = "SL-M", version: int = 1
) -> OrderIntent | None:
    """The intent that rests ``pos``'s stop at the broker after ``entry`` filled: the filled quantity on the
    closing side at the book's stop; None for a position without a stop, or whose stop is below one tick (a
    cheap option with a wide stop: no price can trigger it, and the exchange refuses it)."""
    if pos.stop is None or pos.qty == 0:
        return None
    side = Side.SELL if pos.qty > 0 else Side.BUY
    order_type = stop_order_type(entry.segment, preferred)
    trigger, limit = stop_prices(side, order_type, pos.stop, entry.tick_size, entry.segment)
    if trigger < float(entry.tick_size):
        return None
    return OrderIntent(
        intent_id=protect_id(entry.intent_id, version),
        day=entry.day,
        asset=entry.asset,
        symbol=entry.symbol,
        exchange=entry.exchange,
        side=side,
        qty=abs(pos.qty),
        purpose=Purpose.PROTECT,
        strategy=pos.strategy,
        reason=f"stop {trigger:.2f} resting at the broker",
        decided_at=now,
        segment=entry.segment,
        tick_size=entry.tick_size,
        product=entry.product,
        order_type=order_type,
        trigger=trigger,
        limit=limit,
        lot=entry.lot,
    )


def tighter(pos: Position, stop: RestingStop, wanted: float, tick: Decimal) -> float | None:
    """The trigger to move the resting stop to, if the wanted one (the trailing stop) is at least a tick
    tighter than what the broker holds; else None."""
    side = Side.SELL if pos.qty > 0 else Side.BUY
    trigger, _ = stop_prices(side, stop.order_type, wanted, tick, pos.segment)
    better = trigger - stop.trigger if side is Side.SELL else stop.trigger - trigger
    return trigger if better >= float(tick) - 1e-9 else None


def crossed(side: Side, trigger: float, last: float) -> bool:
    """A stop trigger the last price has already reached: Kite refuses such a modification, so the position
    exits at once instead."""
    return last <= trigger if side is Side.SELL else last >= trigger
