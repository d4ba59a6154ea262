"""tron.domain.exits: the trailing stop, the best price, the time stop."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from tests.support.days import at
from tron.domain.exits import ExitRules, effective_stop, exit_reason, update_best
from tron.domain.models import Position
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)
RULES = ExitRules(trail_activate_atr=1.5, trail_atr=0.8, max_hold_minutes=150)


def pos(qty: int, stop: float, target: float, atr: float = 2.0, opened: str = "10:00") -> Position:
    hh, mm = opened.split(":")
    return Position(
        "A", qty, Decimal("100"), "orb", ist(DAY, time(int(hh), int(mm))).isoformat(), stop, target, atr
    )


def test_the_trailing_stop_activates_at_1_5_atr_and_trails_0_8_atr() -> None:
    p = pos(10, stop=96, target=110)
    assert effective_stop(p, 102.9, RULES) == 96  # +1.45 ATR: not yet
    assert effective_stop(p, 103.0, RULES) == 103.0 - 1.6  # +1.5 ATR: trails at best − 0.8 ATR
    assert effective_stop(p, 106.0, RULES) == 106.0 - 1.6
    s = pos(-10, stop=104, target=90)
    assert effective_stop(s, 97.0, RULES) == 97.0 + 1.6
    assert exit_reason(p, 104.3, 105, 106.0, at(10, 30), RULES) == "trailing stop 104.40 touched"


def test_the_best_price_moves_only_after_the_check() -> None:
    p = pos(10, stop=96, target=110)
    best = update_best(p, 99, 101, None)
    assert best == 101
    assert exit_reason(p, 100.5, 104, best, at(10, 5), RULES) is None  # this bar's high does not tighten
    assert update_best(p, 100.5, 104, best) == 104


def test_the_time_stop() -> None:
    p = pos(10, stop=96, target=110, opened="10:00")
    assert exit_reason(p, 99, 101, None, at(12, 29), RULES) is None
    assert exit_reason(p, 99, 101, None, at(12, 30), RULES) == "time stop after 150 minutes"
