"""Black–Scholes against py_vollib (an independent implementation), plus property tests."""

from __future__ import annotations

import itertools
import math
import warnings

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tron.domain import options

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes import black_scholes as vl_price
    from py_vollib.black_scholes.greeks import analytical as vl
    from py_vollib.black_scholes.implied_volatility import implied_volatility as vl_iv

SPOT = 24000.0
STRIKES = [12000.0, 18000.0, 22000.0, 23950.0, 24000.0, 24050.0, 26000.0, 30000.0, 40000.0]
DAYS = [1.0, 7.0, 30.0, 365.0]
RATES = [0.0, 0.065]
VOLS = [0.05, 0.15, 0.6]
GRID = list(itertools.product(["CE", "PE"], STRIKES, DAYS, RATES, VOLS))


def _flag(t: str) -> str:
    return "c" if t == "CE" else "p"


@pytest.mark.parametrize(("typ", "k", "days", "r", "v"), GRID)
def test_price_and_greeks_match_py_vollib(typ, k, days, r, v):
    t = days / 365.0
    g = options.greeks(typ, SPOT, k, days, r, v)
    f = _flag(typ)
    assert g.price == pytest.approx(vl_price(f, SPOT, k, t, r, v), abs=1e-6)
    assert g.delta == pytest.approx(vl.delta(f, SPOT, k, t, r, v), abs=1e-6)
    assert g.gamma == pytest.approx(vl.gamma(f, SPOT, k, t, r, v), abs=1e-6)
    assert g.vega == pytest.approx(vl.vega(f, SPOT, k, t, r, v), abs=1e-6)
    assert g.theta == pytest.approx(vl.theta(f, SPOT, k, t, r, v), abs=1e-6)
    assert g.rho == pytest.approx(vl.rho(f, SPOT, k, t, r, v), abs=1e-6)


def _resolvable(typ: str, k: float, days: float, r: float, v: float) -> bool:
    """IV is only identifiable when the premium carries time value the float can resolve."""
    g = options.greeks(typ, SPOT, k, days, r, v)
    lower, _ = options.premium_bounds(typ, SPOT, k, days, r)
    return g.vega >= 1e-3 and g.price - lower >= 1e-4


IV_GRID = [p for p in GRID if _resolvable(*p)]


def test_iv_grid_still_covers_wings():
    assert len(IV_GRID) > 100
    assert any(k <= 18000 for _, k, *_ in IV_GRID) and any(k >= 30000 for _, k, *_ in IV_GRID)


@pytest.mark.parametrize(("typ", "k", "days", "r", "v"), IV_GRID)
def test_implied_volatility_matches_py_vollib(typ, k, days, r, v):
    g = options.greeks(typ, SPOT, k, days, r, v)
    ours = options.implied_volatility(typ, SPOT, k, days, r, g.price)
    theirs = vl_iv(g.price, SPOT, k, days / 365.0, r, _flag(typ))
    assert ours == pytest.approx(theirs, abs=1e-6)
    assert ours == pytest.approx(v, abs=1e-6)


def test_hull_example():
    # Hull 17.x: S 49, K 50, r 5 %, t 0.3846 y, σ 20 % → call ≈ 2.40, vega ≈ 0.121 per vol point
    g = options.greeks("CE", 49, 50, 0.3846 * 365, 0.05, 0.2)
    assert g.price == pytest.approx(2.40, abs=0.01)
    assert g.vega == pytest.approx(0.121, abs=0.001)


def test_iv_outside_bounds_raises():
    with pytest.raises(ValueError, match="lower bound"):
        options.implied_volatility("CE", 24000, 23000, 7, 0.065, 900.0)  # below intrinsic 1000+
    with pytest.raises(ValueError, match="upper bound"):
        options.implied_volatility("CE", 24000, 23000, 7, 0.065, 24000.0)
    with pytest.raises(ValueError, match="upper bound"):
        options.implied_volatility("PE", 24000, 25000, 7, 0.0, 25000.0)
    with pytest.raises(ValueError, match="days"):
        options.implied_volatility("PE", 24000, 25000, 0, 0.0, 1000.0)


def test_degenerate_inputs():
    assert options.price("CE", 100, 90, 0, 0.05, 0.2) == pytest.approx(10.0)
    assert options.price("PE", 100, 90, 0, 0.05, 0.2) == 0.0
    g = options.greeks("PE", 100, 110, 30, 0.0, 0.0)
    assert (g.price, g.delta, g.gamma, g.vega) == (pytest.approx(10.0), -1.0, 0.0, 0.0)
    for bad in (dict(spot=0), dict(strike=-1), dict(days=-1), dict(vol=-0.1)):
        kw = {"spot": 100.0, "strike": 100.0, "days": 10.0, "rate": 0.0, "vol": 0.2, **bad}
        with pytest.raises(ValueError):
            options.greeks("CE", **kw)
    with pytest.raises(ValueError):
        options.greeks("XX", 100, 100, 10, 0, 0.2)


def test_strike_helpers():
    assert options.atm_strike(24024.9, 50) == 24000
    assert options.atm_strike(24025, 50) == 24050
    assert options.atm_strike(51234, 100) == 51200
    assert options.otm_strike(24010, 50, 0, "CE") == 24000
    assert options.otm_strike(24010, 50, 2, "CE") == 24100
    assert options.otm_strike(24010, 50, 2, "PE") == 23900
    with pytest.raises(ValueError):
        options.otm_strike(24010, 50, -1, "CE")
    strikes = [23000 + 50 * i for i in range(41)]
    k = options.strike_by_delta(24000, strikes, 0.25, "CE", 7, 0.065, 0.13)
    deltas = {s: options.delta("CE", 24000, s, 7, 0.065, 0.13) for s in strikes}
    assert abs(deltas[k] - 0.25) == min(abs(d - 0.25) for d in deltas.values())
    assert k > 24000
    kp = options.strike_by_delta(24000, strikes, -0.25, "PE", 7, 0.065, 0.13)
    assert kp == options.strike_by_delta(24000, strikes, 0.25, "PE", 7, 0.065, 0.13)
    assert kp < 24000
    smile = {s: 0.13 + 0.00001 * abs(s - 24000) for s in strikes}
    assert options.strike_by_delta(24000, strikes, 0.5, "CE", 7, 0.065, smile) in (24000, 24050)


finite = dict(allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    s=st.floats(50, 100_000, **finite),
    moneyness=st.floats(0.5, 2.0, **finite),
    days=st.floats(0.5, 730, **finite),
    r=st.floats(-0.01, 0.15, **finite),
    v=st.floats(0.01, 2.0, **finite),
)
def test_put_call_parity(s, moneyness, days, r, v):
    k = s * moneyness
    c = options.price("CE", s, k, days, r, v)
    p = options.price("PE", s, k, days, r, v)
    assert c - p == pytest.approx(s - k * math.exp(-r * days / 365.0), abs=1e-9 * max(s, k))


@settings(max_examples=200, deadline=None)
@given(
    typ=st.sampled_from(["CE", "PE"]),
    s=st.floats(50, 100_000, **finite),
    moneyness=st.floats(0.7, 1.4, **finite),
    days=st.floats(1, 365, **finite),
    r=st.floats(0.0, 0.1, **finite),
    v=st.floats(0.03, 1.5, **finite),
)
def test_iv_roundtrip(typ, s, moneyness, days, r, v):
    k = s * moneyness
    g = options.greeks(typ, s, k, days, r, v)
    lower, _ = options.premium_bounds(typ, s, k, days, r)
    # Require resolvable time value: the premium must move measurably with vol.
    assume(g.vega * 100 > 1e-6 * s and g.price - lower > 1e-7 * s)
    assert options.implied_volatility(typ, s, k, days, r, g.price) == pytest.approx(v, abs=1e-6)
