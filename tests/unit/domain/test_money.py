"""tron.domain.money: prices on the tick grid."""

from __future__ import annotations

from decimal import Decimal

from tron.domain.money import to_tick


def test_prices_go_on_the_tick_grid() -> None:
    assert to_tick(101.33, Decimal("0.05")) == Decimal("101.35")
    assert to_tick(101.324, Decimal("0.05")) == Decimal("101.30")
    assert to_tick(101.31, Decimal("0.05"), up=True) == Decimal("101.35")
    assert to_tick(101.34, Decimal("0.05"), up=False) == Decimal("101.30")
