"""What NSE, Zerodha and Kite accept in an order in 2026, and the prices their protections allow: checked by
the settings, the Kite broker and the simulator alike (sources: ../shared/reference/live-trading.md §1.1)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

MAX_MODIFICATIONS = 25  # per order, as Kite allows; then cancel and place anew


def check_market_protection(value: int) -> int:
    """Kite's market protection of a MARKET (or SL-M) order: -1 (Kite's automatic protection) or a
    percentage 1–100. 0 is refused here, as Kite refuses it since April 2026."""
    if value == -1 or 0 < value <= 100:
        return value
    raise ValueError(
        f"market_protection must be -1 (automatic) or 1–100 (%), got {value}: "
        "Kite rejects MARKET orders with market_protection 0"
    )


def on_tick(price: Decimal, tick: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """A price on the tick grid, in paise (tick 0 leaves it at paise)."""
    if tick <= 0:
        return price.quantize(Decimal("0.01"), rounding=rounding)
    return ((price / tick).to_integral_value(rounding=rounding) * tick).quantize(Decimal("0.01"))


def auto_protection_pct(ltp: Decimal, is_option: bool) -> Decimal:
    """The percentage Kite applies for market_protection -1 (an approximation of Zerodha's published bands:
    equity and futures 2% up to ₹100, 1% up to ₹1000, 0.5% above; options 5% below ₹10, 3% to ₹100, 2% to
    ₹500, 1% above)."""
    if is_option:
        if ltp < 10:
            return Decimal(5)
        if ltp <= 100:
            return Decimal(3)
        if ltp <= 500:
            return Decimal(2)
        return Decimal(1)
    if ltp <= 100:
        return Decimal(2)
    if ltp <= 1000:
        return Decimal(1)
    return Decimal("0.5")


def protection_price(side: str, ltp: Decimal, pct: Decimal, tick: Decimal) -> Decimal:
    """The worst price a protected market order may fill at: LTP ± pct, inside the band on the tick grid.
    A negative pct is Kite's automatic protection (auto_protection_pct, equity and futures bands)."""
    if side == "BUY":
        return on_tick(ltp * (1 + pct / 100), tick, ROUND_FLOOR)
    return on_tick(ltp * (1 - pct / 100), tick, ROUND_CEILING)


def sl_gap_limit(trigger: Decimal, is_option: bool) -> Decimal:
    """How far an SL order's limit may be from its trigger (the exchange's permissible range): equity and
    futures 3% (₹1.5 up to a ₹50 trigger), options 20% (₹10 up to ₹50)."""
    if is_option:
        return trigger * Decimal("0.20") if trigger > 50 else Decimal(10)
    return trigger * Decimal("0.03") if trigger > 50 else Decimal("1.5")


def lpp_band(ltp: Decimal, is_option: bool, is_future: bool) -> tuple[Decimal, Decimal] | None:
    """NSE's limit price protection around the last price, for F&O limit prices (SL limits and the limit a
    protected MARKET order becomes included): options ±40% above ₹50 (±₹20 up to ₹50), index futures ±3%.
    None for equities (their circuit limits apply instead)."""
    if is_option:
        if ltp > 50:
            return ltp * Decimal("0.6"), ltp * Decimal("1.4")
        return max(ltp - 20, Decimal(0)), ltp + 20
    if is_future:
        width = ltp * Decimal("0.03")
        return ltp - width, ltp + width
    return None
