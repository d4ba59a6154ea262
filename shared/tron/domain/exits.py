"""When an open position exits: its stop, its target, a trailing stop, or a time stop, checked on each
minute bar's low and high (:func:`exit_reason`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tron.domain.models import Position


@dataclass(frozen=True)
class ExitRules:
    """The trailing stop's activation and distance (in ATRs of the position) and the time stop."""

    trail_activate_atr: float = 1.5
    trail_atr: float = 0.8
    max_hold_minutes: int | None = 150  # None: no time stop


def effective_stop(pos: Position, best: float | None, rules: ExitRules) -> float | None:
    """The stop in force: the position's own, tightened by the trailing stop once ``best`` (the best price
    since entry) is ``trail_activate_atr`` ATRs in the position's favour, to ``trail_atr`` ATRs behind
    ``best``. It only ever tightens; None without a stop, the position's stop without ``best`` or an ATR."""
    if pos.stop is None:
        return None
    if best is None or not pos.atr:
        return pos.stop
    entry = float(pos.avg_price)
    if pos.qty > 0 and best - entry >= rules.trail_activate_atr * pos.atr:
        return max(pos.stop, best - rules.trail_atr * pos.atr)
    if pos.qty < 0 and entry - best >= rules.trail_activate_atr * pos.atr:
        return min(pos.stop, best + rules.trail_atr * pos.atr)
    return pos.stop


def exit_reason(
    pos: Position,
    low: float,
    high: float,
    best: float | None,
    now: datetime,
    rules: ExitRules,
    check_stop: bool = True,
) -> str | None:
    """Why the position exits on a bar with this ``low`` and ``high``, or None; checked in order: the
    (trailing) stop touched (unless ``check_stop`` is False: the stop rests at the broker), the target
    reached, the time stop (held ``max_hold_minutes`` or more).

    ``best`` is the best price before this bar: the caller updates it after the checks
    (:func:`update_best`), so a bar's own high never tightens the stop that bar's low is tested against
    (no intrabar look-ahead).
    """
    stop = effective_stop(pos, best, rules) if check_stop else None
    trailing = stop is not None and stop != pos.stop
    kind = "trailing stop" if trailing else "stop"
    if stop is not None and (low <= stop if pos.qty > 0 else high >= stop):
        return f"{kind} {stop:.2f} touched"
    if pos.target is not None and (high >= pos.target if pos.qty > 0 else low <= pos.target):
        return f"target {pos.target:.2f} reached"
    held = now - datetime.fromisoformat(pos.opened_at)
    if rules.max_hold_minutes is not None and held >= timedelta(minutes=rules.max_hold_minutes):
        return f"time stop after {rules.max_hold_minutes} minutes"
    return None


def update_best(pos: Position, low: float, high: float, best: float | None) -> float:
    """The best price since entry after this bar: the highest high of a long, the lowest low of a short
    (starting from the average price)."""
    if best is None:
        best = float(pos.avg_price)
    return max(best, high) if pos.qty > 0 else min(best, low)
