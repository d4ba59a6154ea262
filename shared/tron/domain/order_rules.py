"""What the broker accepts in an order, as NSE, Zerodha and Kite state it in 2026 (the settings and the Kite
broker both check here)."""

from __future__ import annotations


def check_market_protection(value: int) -> int:
    """Kite's market protection of a MARKET (or SL-M) order: -1 (Kite's automatic protection) or a
    percentage 1–100. 0 is refused here, as Kite refuses it since April 2026."""
    if value == -1 or 0 < value <= 100:
        return value
    raise ValueError(
        f"market_protection must be -1 (automatic) or 1–100 (%), got {value}: "
        "Kite rejects MARKET orders with market_protection 0"
    )
