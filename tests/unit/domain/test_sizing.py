"""tron.domain.sizing: size by risk within the caps, whole lots, margin-sized futures; half-Kelly from realised
statistics and the closed trades they come from."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.domain import money
from tron.domain.risk import RiskLimits, exposure_value
from tron.domain.sizing import StrategyStats, closed_trades, half_kelly_pct, risk_pct_with_kelly, size_by_risk


def test_sizing_by_risk_and_caps() -> None:
    kw = dict(capital=Decimal("1000000"), risk_per_trade_pct=Decimal("0.25"), max_position_pct=Decimal("15"))
    assert size_by_risk(**kw, price=1000, stop_distance=5) == 150  # 2500 / 5 = 500, capped at 150000/1000
    assert size_by_risk(**kw, price=100, stop_distance=5) == 500
    assert size_by_risk(**kw, price=100, stop_distance=5, headroom=Decimal("1000")) == 200
    assert size_by_risk(**kw, price=100, stop_distance=5, lot_size=65) == 455
    assert size_by_risk(**kw, price=100, stop_distance=0) == 0


# ------------------------------------------------------------------------------------------ half-Kelly
def test_half_kelly_from_realised_statistics() -> None:
    s = StrategyStats()
    for net in ("300", "300", "-200", "-200", "-200"):
        s = s.add(Decimal(net))
    assert (s.trades, s.wins, s.win_rate, s.payoff) == (5, 2, 0.4, 1.5)
    assert half_kelly_pct(s) == Decimal("0.0")  # W − (1−W)/R = 0.4 − 0.6/1.5 = 0: no edge
    good = StrategyStats(40, 24, Decimal("24000"), Decimal("8000"))  # W 0.6, R 2 → f 0.4, half 20%
    assert half_kelly_pct(good) == Decimal("20.0")
    assert risk_pct_with_kelly(Decimal("0.25"), good, True, 20) == (Decimal("0.25"), None)  # capped
    thin = StrategyStats(40, 21, Decimal("21000"), Decimal("19000"))  # W .525, R 1 → f .05, half 2.5%
    assert risk_pct_with_kelly(Decimal("5"), thin, True, 20)[0] == Decimal("2.5")
    bad = StrategyStats(40, 10, Decimal("5000"), Decimal("30000"))
    pct, note = risk_pct_with_kelly(Decimal("0.25"), bad, True, 20)
    assert pct == 0 and note and "half-Kelly" in note
    assert risk_pct_with_kelly(Decimal("0.25"), bad, True, 41) == (Decimal("0.25"), None)  # too few trades
    assert risk_pct_with_kelly(Decimal("0.25"), bad, False, 20) == (Decimal("0.25"), None)  # off


def test_closed_trades_net_of_both_orders_charges() -> None:
    def doc(iid: str, sym: str, side: str, qty: int, at_: str, realized: str, charges: str) -> dict[str, Any]:
        return {
            "intent_id": iid,
            "symbol": sym,
            "side": side,
            "strategy": "orb",
            "fill": {"qty": qty, "at": at_, "realized": realized, "charges": {"total": charges}},
        }

    fills = [
        doc("1", "A", "BUY", 10, "10:00", "0", "5"),
        doc("2", "A", "SELL", 10, "10:30", "100", "6"),
        doc("3", "B", "SELL", 5, "10:05", "0", "2"),
        doc("4", "B", "BUY", 5, "11:00", "-50", "3"),
    ]
    assert closed_trades(fills) == [("orb", Decimal("89")), ("orb", Decimal("-55"))]


# ------------------------------------------------------------------------------------------ sizing
def test_futures_size_by_margin_in_whole_lots() -> None:
    lim = RiskLimits(
        capital=Decimal("300000"), risk_per_trade_pct=Decimal("1"), max_position_pct=Decimal("100")
    )
    per_unit = float(exposure_value(lim, "futures", 1, 24000))  # ₹2,880 of margin per unit
    q = size_by_risk(
        capital=lim.capital,
        risk_per_trade_pct=lim.risk_per_trade_pct,
        max_position_pct=lim.max_position_pct,
        price=24000,
        stop_distance=24,
        lot_size=65,
        unit_exposure=per_unit,
    )
    assert q == 65  # ₹3,000 / 24 = 125 units → 1 lot; margin 1 lot ₹187,200 ≤ ₹300,000
    assert (
        size_by_risk(
            capital=lim.capital,
            risk_per_trade_pct=lim.risk_per_trade_pct,
            max_position_pct=lim.max_position_pct,
            price=24000,
            stop_distance=24,
            lot_size=65,
            unit_exposure=per_unit,
            room=Decimal("150000"),  # the rest of the allocation is in use: not even one lot fits
        )
        == 0
    )


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
