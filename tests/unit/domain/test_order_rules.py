"""tron.domain.order_rules: market protection, protection prices, SL gaps and LPP bands, worked by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tron.domain.order_rules import (
    auto_protection_pct,
    check_market_protection,
    lpp_band,
    protection_price,
    sl_gap_limit,
)


def test_market_protection_zero_is_never_configurable() -> None:
    for bad in (0, -2, 101):
        with pytest.raises(ValueError, match="market_protection"):
            check_market_protection(bad)
    assert check_market_protection(5) == 5


def test_protection_prices_and_the_automatic_bands() -> None:
    assert protection_price("BUY", Decimal("100"), Decimal("2"), Decimal("0.05")) == Decimal("102.00")
    assert protection_price("SELL", Decimal("100.03"), Decimal("1"), Decimal("0.05")) == Decimal("99.05")
    assert auto_protection_pct(Decimal("50"), False) == 2
    assert auto_protection_pct(Decimal("500"), False) == 1
    assert auto_protection_pct(Decimal("2500"), False) == Decimal("0.5")
    assert auto_protection_pct(Decimal("5"), True) == 5 and auto_protection_pct(Decimal("80"), True) == 3


def test_sl_limits_stay_within_the_exchanges_gap_and_lpp() -> None:
    assert sl_gap_limit(Decimal("1000"), False) == Decimal("30.00")  # 3% for equity and futures
    assert sl_gap_limit(Decimal("40"), False) == Decimal("1.5")  # ₹1.5 up to a ₹50 trigger
    assert sl_gap_limit(Decimal("200"), True) == Decimal("40.00")  # 20% for options
    assert sl_gap_limit(Decimal("30"), True) == 10
    assert lpp_band(Decimal("26000"), False, True) == (
        Decimal("25220.00"),
        Decimal("26780.00"),
    )  # futures ±3%
    assert lpp_band(Decimal("200"), True, False) == (Decimal("120.0"), Decimal("280.0"))  # options ±40%
    assert lpp_band(Decimal("30"), True, False) == (Decimal(10), Decimal(50))  # ±₹20 up to ₹50
    assert lpp_band(Decimal("1000"), False, False) is None  # equity: circuit limits instead
