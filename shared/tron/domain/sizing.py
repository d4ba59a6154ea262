"""Position sizing: risk per trade over the stop distance, capped by position size and loss headroom."""

from __future__ import annotations

import math
from decimal import Decimal


def size_by_risk(
    *,
    capital: Decimal,
    risk_per_trade_pct: Decimal,
    max_position_pct: Decimal,
    price: float,
    stop_distance: float,
    lot_size: int = 1,
    headroom: Decimal | None = None,
) -> int:
    """Whole lots such that a stop-out loses at most risk_per_trade (and at most the headroom left under the
    daily loss limit), and the position is at most max_position_pct of capital. 0 means no trade."""
    if price <= 0 or stop_distance <= 0 or lot_size <= 0:
        return 0
    risk_budget = float(capital * risk_per_trade_pct / 100)
    if headroom is not None:
        risk_budget = min(risk_budget, float(headroom))
    if risk_budget <= 0:
        return 0
    by_risk = math.floor(risk_budget / stop_distance)
    by_size = math.floor(float(capital * max_position_pct / 100) / price)
    qty = min(by_risk, by_size)
    return (qty // lot_size) * lot_size
