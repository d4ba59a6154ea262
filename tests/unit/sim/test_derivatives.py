"""tron.sim.derivatives: Kite's F&O symbols and the vectorized Black–Scholes."""

from __future__ import annotations

from datetime import date

import numpy as np

from tron.domain import options
from tron.sim.derivatives import bs_price, future_symbol, option_symbol


def test_kite_symbol_formats() -> None:
    assert future_symbol(date(2026, 12, 29)) == "NIFTY26DECFUT"
    assert option_symbol(date(2025, 12, 2), 26000, "CE", monthly=False) == "NIFTY25D0226000CE"
    assert option_symbol(date(2026, 10, 6), 25500, "PE", monthly=False) == "NIFTY26O0625500PE"
    assert option_symbol(date(2026, 1, 13), 25500, "PE", monthly=False) == "NIFTY2611325500PE"
    assert option_symbol(date(2026, 12, 29), 26000, "CE", monthly=True) == "NIFTY26DEC26000CE"


def test_vectorized_black_scholes_is_the_domain_formula() -> None:
    spots = np.array([30000.0, 31700.0, 33000.0])
    days = np.array([0.2, 3.0, 30.0])
    vols = np.array([0.1, 0.15, 0.3])
    for kind in ("CE", "PE"):
        got = bs_price(kind, spots, 31700.0, days, vols)
        want = [
            options.price(kind, s, 31700.0, d, 0.065, v) for s, d, v in zip(spots, days, vols, strict=True)
        ]
        assert np.allclose(got, want, atol=1e-8)
