"""tron.domain.span, the SPAN-like basket margin: the sanity cases a NIFTY option seller meets (short straddle,
strangle, iron condor, spreads, a long option, a short future), linearity in lots, hedges never costing margin,
leg order not mattering, and bad input refused."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

import pytest

from tron.domain import options
from tron.domain.span import (
    DEFAULT_VOL,
    EXPOSURE_PCT,
    INDEX_PSR_FLOOR,
    BasketMargin,
    MarginLeg,
    basket_margin,
    implied_vol_or,
    price_scan_range,
)

SPOT = 26_000.0
LOT = 65
DAYS = 7.0
IV = 0.13
RATE = 0.065
NOTIONAL = SPOT * LOT  # one lot: ₹16.9 lakh


def opt(kind: str, strike: float, qty: int, vol: float = IV, days: float = DAYS) -> MarginLeg:
    """An option leg at its Black–Scholes premium."""
    px = options.price(kind, SPOT, strike, days, RATE, vol)
    return MarginLeg(kind=kind, strike=strike, days=days, qty=qty, price=px, vol=vol)


def fut(qty: int, days: float = 20.0) -> MarginLeg:
    return MarginLeg(kind="FUT", strike=0.0, days=days, qty=qty, price=SPOT * math.exp(RATE * days / 365))


def straddle(lots: int = 1) -> list[MarginLeg]:
    return [opt("CE", SPOT, -LOT * lots), opt("PE", SPOT, -LOT * lots)]


def strangle(width: float = 300) -> list[MarginLeg]:
    return [opt("CE", SPOT + width, -LOT), opt("PE", SPOT - width, -LOT)]


def iron_condor() -> list[MarginLeg]:
    return [
        opt("CE", SPOT + 200, -LOT),
        opt("PE", SPOT - 200, -LOT),
        opt("CE", SPOT + 400, LOT),
        opt("PE", SPOT - 400, LOT),
    ]


def margin(legs: list[MarginLeg]) -> BasketMargin:
    return basket_margin(legs, SPOT, RATE)


def short_exposure(legs: int = 1, lots: int = 1) -> Decimal:
    """2% of the notional of `legs` short option legs of `lots` lots each."""
    return Decimal(str(EXPOSURE_PCT)) * Decimal(str(SPOT)) * LOT * lots * legs


# ------------------------------------------------------------------------------------------------ sanity cases
def test_short_atm_straddle_needs_10_to_16_percent_of_notional() -> None:
    m = margin(straddle())
    assert 0.10 * NOTIONAL <= float(m.total) <= 0.16 * NOTIONAL
    assert m.exposure == short_exposure(legs=2)  # 2% of spot × qty on each short leg
    assert m.premium == 0 and m.span > 0
    assert m.total == m.span + m.exposure + m.premium
    assert all(x == x.quantize(Decimal("0.01")) for x in (m.span, m.exposure, m.premium, m.total))


def test_a_strangle_needs_less_than_the_straddle() -> None:
    assert margin(strangle(300)).total < margin(straddle()).total
    assert margin(strangle(300)).exposure == short_exposure(legs=2)


def test_iron_condor_needs_far_less_than_the_straddle_and_no_more_than_its_wings() -> None:
    ic, naked = margin(iron_condor()), margin(straddle())
    assert ic.total < Decimal("0.4") * naked.total
    assert ic.span <= 200 * LOT  # a 200-point wing: the most one side can lose
    assert ic.total <= 200 * LOT + short_exposure(legs=2)
    assert ic.premium == 0  # a credit structure pays no net premium


def test_a_long_option_needs_its_premium_and_nothing_else() -> None:
    leg = opt("CE", SPOT, LOT)
    m = margin([leg])
    assert m.span == 0 and m.exposure == 0
    assert m.premium == m.total == (Decimal(str(leg.price)) * LOT).quantize(Decimal("0.01"))


def test_a_bull_call_spread_needs_about_its_max_loss() -> None:
    long_ce, short_ce = opt("CE", SPOT, LOT), opt("CE", SPOT + 200, -LOT)
    m = margin([long_ce, short_ce])
    max_loss = Decimal(str((long_ce.price - short_ce.price) * LOT))  # the net debit
    assert m.span + m.premium <= max_loss + Decimal("0.01")
    assert m.premium == max_loss.quantize(Decimal("0.01"))
    assert m.exposure == short_exposure(legs=1)
    assert m.total < margin([short_ce]).total / 3


def test_a_short_future_needs_its_price_scan_plus_exposure() -> None:
    leg = fut(-LOT)
    value = leg.price * LOT
    m = margin([leg])
    assert 0.10 * value <= float(m.total) <= 0.14 * value
    assert float(m.span) == pytest.approx(INDEX_PSR_FLOOR * value, abs=0.01)
    assert float(m.exposure) == pytest.approx(0.02 * value, abs=0.01)
    assert m.premium == 0
    assert margin([fut(LOT)]).total == m.total  # long or short: the same symmetric scan


def test_a_covered_short_call_is_cheaper_than_the_naked_future() -> None:
    assert margin([fut(LOT), opt("CE", SPOT + 300, -LOT)]).span < margin([fut(LOT)]).span


def test_price_scan_range_is_six_sigma_root_two_with_nses_floor() -> None:
    assert price_scan_range(0.005) == INDEX_PSR_FLOOR == 0.093
    assert price_scan_range(0.015) == pytest.approx(6 * math.sqrt(2) * 0.015)
    wide = basket_margin([fut(-LOT)], SPOT, RATE, psr=price_scan_range(0.015))
    assert wide.span > margin([fut(-LOT)]).span


def test_implied_vol_or_inverts_a_premium_and_falls_back_when_it_cannot() -> None:
    px = options.price("PE", SPOT, SPOT - 200, DAYS, RATE, 0.17)
    assert implied_vol_or("PE", SPOT, SPOT - 200, DAYS, RATE, px) == pytest.approx(0.17)
    assert implied_vol_or("PE", SPOT, SPOT - 200, 0.0, RATE, px) == DEFAULT_VOL  # no time left
    assert implied_vol_or("CE", SPOT, SPOT, DAYS, RATE, 2 * SPOT, fallback=0.2) == 0.2  # above the bound


# ------------------------------------------------------------------------------------------------ properties
@pytest.mark.parametrize("structure", [straddle, strangle, iron_condor])
def test_margin_is_linear_and_increasing_in_lots(structure: Callable[[], list[MarginLeg]]) -> None:
    one = margin(structure())
    previous = Decimal(0)
    for n in (1, 2, 5, 10):
        legs = [MarginLeg(x.kind, x.strike, x.days, x.qty * n, x.price, x.vol) for x in structure()]
        m = margin(legs)
        assert m.total > previous
        assert abs(m.total - one.total * n) <= Decimal("0.01") * 3 * n  # paise rounding only
        previous = m.total


def test_more_short_lots_need_more_margin() -> None:
    totals = [margin([opt("PE", SPOT - 100, -LOT * n)]).total for n in range(1, 6)]
    assert totals == sorted(totals) and len(set(totals)) == len(totals)


def test_a_long_only_basket_is_its_premium() -> None:
    legs = [opt("CE", SPOT + 100, LOT), opt("PE", SPOT - 100, 2 * LOT), opt("CE", SPOT - 500, LOT)]
    m = margin(legs)
    paid = sum((Decimal(str(x.price)) * x.qty for x in legs), Decimal(0))
    assert m.span == 0 and m.exposure == 0
    assert m.total == m.premium == paid.quantize(Decimal("0.01"))


@pytest.mark.parametrize("kind", ["CE", "PE"])
@pytest.mark.parametrize("short_offset", [-300, -100, 0, 100, 300])
@pytest.mark.parametrize("wing", [50, 100, 200, 500, 1000])
@pytest.mark.parametrize("vol", [0.09, 0.13, 0.25])
def test_a_farther_long_option_never_raises_a_short_options_margin(
    kind: str, short_offset: float, wing: float, vol: float
) -> None:
    sign = 1 if kind == "CE" else -1
    short = opt(kind, SPOT + sign * short_offset, -LOT, vol)
    hedge = opt(kind, short.strike + sign * wing, LOT, vol)
    assert margin([short, hedge]).total <= margin([short]).total


def test_the_order_of_the_legs_does_not_matter() -> None:
    legs = [*iron_condor(), fut(LOT), opt("PE", SPOT, -2 * LOT)]
    assert margin(legs) == margin(list(reversed(legs))) == margin(legs[2:] + legs[:2])


def test_an_empty_basket_needs_nothing() -> None:
    assert margin([]) == BasketMargin(Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("spot", [0.0, -1.0, math.nan, math.inf])
def test_a_bad_spot_is_refused(spot: float) -> None:
    with pytest.raises(ValueError, match="spot must be a positive number"):
        basket_margin(straddle(), spot)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"kind": "XX"}, "kind must be CE, PE or FUT"),
        ({"strike": 0.0}, "strike must be a positive number"),
        ({"strike": math.nan}, "strike must be a positive number"),
        ({"days": -1.0}, "days must be a number >= 0"),
        ({"days": math.nan}, "days must be a number >= 0"),
        ({"price": math.nan}, "price must be a number >= 0"),
        ({"price": -5.0}, "price must be a number >= 0"),
        ({"vol": math.nan}, "vol must be a number >= 0"),
        ({"vol": -0.1}, "vol must be a number >= 0"),
        ({"qty": 1.5}, "qty must be a whole number"),
    ],
)
def test_a_bad_leg_is_refused(kw: dict[str, object], message: str) -> None:
    base: dict[str, object] = dict(kind="CE", strike=SPOT, days=DAYS, qty=-LOT, price=200.0, vol=IV)
    with pytest.raises(ValueError, match=message):
        MarginLeg(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "message"), [({"rate": math.nan}, "rate"), ({"psr": 0.0}, "psr")])
def test_bad_parameters_are_refused(kw: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        basket_margin(straddle(), SPOT, **kw)
