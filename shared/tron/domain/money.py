"""Money and prices: Decimal rupees, rounded to paise as the broker rounds; prices on the tick grid."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

PAISA = Decimal("0.01")
RUPEE = Decimal("1")
ZERO = Decimal("0")


def dec(value: float | int | str | Decimal) -> Decimal:
    """A Decimal from a float without binary noise (via its shortest repr)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def paise(value: Decimal) -> Decimal:
    """Rounded to paise, half up."""
    return value.quantize(PAISA, rounding=ROUND_HALF_UP)


def rupees(value: Decimal) -> Decimal:
    """Rounded to whole rupees, half up (STT)."""
    return value.quantize(RUPEE, rounding=ROUND_HALF_UP)


def to_tick(price: float | Decimal, tick: Decimal, *, up: bool | None = None) -> Decimal:
    """Round a price onto the instrument's tick grid (nearest, or up/down when asked)."""
    p = dec(price)
    steps = p / tick
    if up is None:
        n = steps.quantize(RUPEE, rounding=ROUND_HALF_UP)
    else:
        n = steps.to_integral_value(rounding="ROUND_CEILING" if up else "ROUND_FLOOR")
    return paise(n * tick)
