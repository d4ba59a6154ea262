"""Exits (trailing and time stops) and property-based checks of the governor and sizing."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tron.domain.exits import ExitRules, effective_stop, exit_reason, update_best
from tron.domain.models import Position
from tron.domain.risk import Exposure, RiskLimits, entry_refusal
from tron.domain.sizing import size_by_risk
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)
RULES = ExitRules(trail_activate_atr=1.5, trail_atr=0.8, max_hold_minutes=150)


def pos(qty: int, stop: float, target: float, atr: float = 2.0, opened: str = "10:00") -> Position:
    hh, mm = opened.split(":")
    return Position(
        "A", qty, Decimal("100"), "orb", ist(DAY, time(int(hh), int(mm))).isoformat(), stop, target, atr
    )


def at(h: int, m: int) -> datetime:
    return ist(DAY, time(h, m))


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


money = st.decimals(min_value=0, max_value=50_000, places=2)


@settings(max_examples=300, deadline=None)
@given(
    realized=st.decimals(min_value=-20_000, max_value=20_000, places=2),
    open_loss=money,
    worst=money,
    limit=st.decimals(min_value=100, max_value=20_000, places=2),
)
def test_no_approved_entry_can_breach_the_loss_limit_in_its_worst_case(
    realized, open_loss, worst, limit
) -> None:
    lim = RiskLimits(daily_loss_limit=limit, daily_loss_limit_pct=Decimal("100"))
    ex = Exposure(realized_net=realized, open_worst_loss=open_loss)
    refusal = entry_refusal(
        lim, ex, symbol="A", confidence=0.9, worst_loss=worst, at=time(10, 0), halted=None
    )
    if refusal is None:
        assert realized - open_loss - worst >= -lim.loss_limit


@settings(max_examples=300, deadline=None)
@given(reason=st.sampled_from(["halted", "cutoff", "busy", "count"]))
def test_entries_are_refused_whatever_the_money_when_a_rule_says_no(reason) -> None:
    lim = RiskLimits()
    kw = {"symbol": "A", "confidence": 0.9, "worst_loss": Decimal("1"), "at": time(10, 0), "halted": None}
    ex = Exposure()
    if reason == "halted":
        kw["halted"] = "kill switch"
    elif reason == "cutoff":
        kw["at"] = time(15, 5)
    elif reason == "busy":
        ex.symbols_busy.add("A")
    else:
        ex.entries_today = lim.max_trades_per_day
    assert entry_refusal(lim, ex, **kw) is not None


@settings(max_examples=500, deadline=None)
@given(
    price=st.floats(min_value=1, max_value=50_000),
    dist=st.floats(min_value=0.01, max_value=5_000),
    lot=st.sampled_from([1, 25, 30, 60, 65, 75, 120]),
    headroom=money,
)
def test_sized_quantities_are_whole_lots_within_risk_and_size(price, dist, lot, headroom) -> None:
    capital = Decimal("1000000")
    q = size_by_risk(
        capital=capital,
        risk_per_trade_pct=Decimal("0.25"),
        max_position_pct=Decimal("15"),
        price=price,
        stop_distance=dist,
        lot_size=lot,
        headroom=headroom,
    )
    assert q >= 0 and q % lot == 0
    assert q * dist <= float(min(capital * Decimal("0.0025"), headroom)) + 1e-6
    assert q * price <= float(capital) * 0.15 + 1e-6
