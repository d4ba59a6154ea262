"""Builders of domain values that several unit modules share: quotes, an entry on stock A, daily bars, the
risk limits of a ₹10 lakh account, and a hypothesis strategy for rupee amounts."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from tests.support.days import TRADING_DAY, at
from tron.domain.models import Asset, DailyBar, OrderIntent, Purpose, Quote, Side
from tron.domain.risk import RiskLimits

LIM = RiskLimits(capital=Decimal("1000000"), account_capital=Decimal("1000000"))

money = st.decimals(min_value=0, max_value=50_000, places=2)


def q(
    sym: str, ts: datetime, last: float, vol: int, hi: float | None = None, lo: float | None = None
) -> Quote:
    return Quote(sym, ts, last, last - 0.05, last + 0.05, vol, 100.0, hi or last, lo or last, 99.0)


def stock_intent(side: Side, qty: int, purpose: Purpose, sym: str = "A") -> OrderIntent:
    """An intent on NSE decided at 10:00 on TRADING_DAY by orb, stop 95, target 110."""
    return OrderIntent(
        f"{sym}-{side}-{purpose}-{qty}",
        TRADING_DAY,
        Asset.STOCKS,
        sym,
        "NSE",
        side,
        qty,
        purpose,
        "orb",
        "",
        at(10, 0),
        stop=95.0,
        target=110.0,
    )


def daily_bars(closes: list[float], range_pct: float, gaps: float = 0.0) -> list[DailyBar]:
    """Daily bars ending the day before TRADING_DAY: each closes as given, its range range_pct of the close,
    opening at the previous close (or gaps away from its own close)."""
    out = []
    for i, c in enumerate(closes):
        o = c * (1 - gaps) if gaps else (closes[i - 1] if i else c)
        half = c * range_pct / 200
        out.append(
            DailyBar(
                TRADING_DAY - timedelta(days=len(closes) - i), o, max(o, c) + half, min(o, c) - half, c, 1
            )
        )
    return out
