"""tron.domain.order_rules: market protection is never zero."""

from __future__ import annotations

import pytest

from tron.domain.order_rules import check_market_protection


def test_market_protection_zero_is_never_configurable() -> None:
    for bad in (0, -2, 101):
        with pytest.raises(ValueError, match="market_protection"):
            check_market_protection(bad)
    assert check_market_protection(5) == 5
