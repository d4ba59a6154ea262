"""A SPAN-like margin for a basket of index options and futures on one underlying, so a hedged structure
(spread, iron condor, covered call) needs far less than its legs margined one by one.

SPAN part: the basket's worst loss over NSE's 16 scenarios — the underlying moved by 0, ±1/3, ±2/3, ±1 of the
price scan range (PSR), each with implied volatility up and down by the volatility scan range (VSR), plus the
two extreme moves of ±2 × PSR at unchanged volatility, counted at 35 % — each option repriced with
Black–Scholes (:func:`tron.domain.options.price`) at its own days to expiry, a future moved with the
underlying. From the worst loss the net premium the basket pays is taken off (that cash is collected as
``premium``); a basket of long options alone has SPAN 0.

Exposure margin: 2 % of notional (spot × |qty|) on each short option and 2 % of contract value on each future
(NSE's rate for index derivatives); none on long options. ``total = span + exposure + premium``; so a basket
needs max(worst scenario loss, net debit) + exposure.

The parameters are NSE Clearing's for index derivatives ("SPAN Risk Parameters", nseclearing.in, updated
04-07-2024): PSR = 6 σ (daily EWMA volatility) scaled by √2 for a two-day margin period of risk, subject to a
minimum of 9.3 % of the underlying price (:func:`price_scan_range`; at NIFTY's usual 0.7–1 % daily σ the floor
binds, so 9.3 % is the default); VSR = 25 % of the annualised volatility, at least 4 volatility points.

Approximations, honestly: the scenarios reprice from each leg's own implied vol (no SPAN risk-parameter file,
no smile shift); all legs share one underlying and move together, so futures and options of different
expiries offset fully (no calendar spread charge, NSE's 1.75 % of the far month); no short option minimum
charge; no extra 2 % extreme-loss margin on short options on expiry day; vol down is floored at half the
leg's vol; futures move in proportion to spot (their basis kept)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tron.domain import options
from tron.domain.money import dec, paise

KINDS: tuple[str, ...] = ("CE", "PE", "FUT")
INDEX_PSR_FLOOR = 0.093  # NSE Clearing: index derivatives' PSR is at least 9.3 % of the underlying
PSR_SIGMAS = 6.0  # … else 6 σ of daily returns
MPOR_SCALE = math.sqrt(2.0)  # … scaled up by √2 (two-day margin period of risk)
VSR_FRACTION = 0.25  # volatility scan range: 25 % of the annualised volatility …
VSR_FLOOR = 0.04  # … at least 4 volatility points
VOL_DOWN_FLOOR = 0.5  # vol down never below half the leg's vol (our choice; SPAN has no rule)
PRICE_STEPS = (0.0, 1 / 3, -1 / 3, 2 / 3, -2 / 3, 1.0, -1.0)  # fractions of the PSR
EXTREME_MULTIPLE = 2.0  # NSE's extreme moves: ±2 × PSR …
EXTREME_COVER = 0.35  # … of which 35 % of the loss counts
EXPOSURE_PCT = 0.02  # exposure margin on index derivatives: 2 % of notional / contract value
DEFAULT_RATE = 0.065
DEFAULT_VOL = 0.15  # a NIFTY-like implied vol for a premium that cannot be inverted


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class MarginLeg:
    """One leg: ``kind`` CE, PE or FUT; ``strike`` (0 for FUT); ``days`` calendar days to expiry; ``qty``
    signed units (+ long, − short); ``price`` the premium or futures price it trades at; ``vol`` the option's
    implied vol as a decimal (ignored for FUT). ValueError on anything out of range or not a number."""

    kind: str
    strike: float
    days: float
    qty: int
    price: float
    vol: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be CE, PE or FUT, got {self.kind!r}")
        if self.is_option and not (_finite(self.strike) and self.strike > 0):
            raise ValueError(f"strike must be a positive number for an option, got {self.strike!r}")
        if not (_finite(self.days) and self.days >= 0):
            raise ValueError(f"days must be a number >= 0, got {self.days!r}")
        if not isinstance(self.qty, int) or isinstance(self.qty, bool):
            raise ValueError(f"qty must be a whole number of units, got {self.qty!r}")
        if not (_finite(self.price) and self.price >= 0):
            raise ValueError(f"price must be a number >= 0, got {self.price!r}")
        if not (_finite(self.vol) and self.vol >= 0):
            raise ValueError(f"vol must be a number >= 0, got {self.vol!r}")

    @property
    def is_option(self) -> bool:
        return self.kind != "FUT"

    @property
    def carries_risk(self) -> bool:
        """A short option or any future: what drives SPAN (long options risk only their premium)."""
        return self.qty != 0 and (not self.is_option or self.qty < 0)


@dataclass(frozen=True)
class BasketMargin:
    """A basket's margin in rupees, each part rounded to paise; ``total = span + exposure + premium``."""

    span: Decimal
    exposure: Decimal
    premium: Decimal
    total: Decimal


@dataclass(frozen=True)
class Scenario:
    """The underlying moved by ``move`` (a fraction of spot), vol shifted by ``vol_dir`` × VSR, and the share
    of the loss that counts."""

    move: float
    vol_dir: int
    weight: float = 1.0


def implied_vol_or(
    kind: str,
    spot: float,
    strike: float,
    days: float,
    rate: float,
    premium: float,
    fallback: float = DEFAULT_VOL,
) -> float:
    """The premium's Black–Scholes implied vol (:func:`tron.domain.options.implied_volatility`), or
    ``fallback`` when it has none: no time left, a premium outside the no-arbitrage bounds, a bad input."""
    try:
        return options.implied_volatility(kind, spot, strike, days, rate, premium)
    except ValueError:
        return fallback


def price_scan_range(daily_sigma: float | None = None) -> float:
    """NSE's PSR for index derivatives as a fraction of the underlying: max(6 σ √2, 9.3 %); the floor alone
    when σ (daily EWMA volatility of returns) is not known."""
    if daily_sigma is None:
        return INDEX_PSR_FLOOR
    if not (_finite(daily_sigma) and daily_sigma >= 0):
        raise ValueError(f"daily_sigma must be a number >= 0, got {daily_sigma!r}")
    return max(PSR_SIGMAS * MPOR_SCALE * daily_sigma, INDEX_PSR_FLOOR)


def scenarios(psr: float) -> list[Scenario]:
    """SPAN's 16 scenarios: 7 price steps × vol up/down, and the two extreme moves at 35 %."""
    out = [Scenario(step * psr, vol_dir) for step in PRICE_STEPS for vol_dir in (1, -1)]
    out += [Scenario(sign * EXTREME_MULTIPLE * psr, 0, EXTREME_COVER) for sign in (1, -1)]
    return out


def _shifted_vol(vol: float, vol_dir: int) -> float:
    scan = max(VSR_FLOOR, VSR_FRACTION * vol)
    if vol_dir > 0:
        return vol + scan
    if vol_dir < 0:
        return max(vol - scan, VOL_DOWN_FLOOR * vol)
    return vol


def _change(leg: MarginLeg, spot: float, rate: float, sc: Scenario) -> float:
    """One unit's value change in a scenario (theoretical value then minus theoretical value now)."""
    moved = spot * (1.0 + sc.move)
    if not leg.is_option:
        return leg.price * sc.move
    now = options.price(leg.kind, spot, leg.strike, leg.days, rate, leg.vol)
    then = options.price(leg.kind, moved, leg.strike, leg.days, rate, _shifted_vol(leg.vol, sc.vol_dir))
    return then - now


def scenario_losses(legs: Sequence[MarginLeg], spot: float, rate: float, psr: float) -> list[float]:
    """The basket's weighted loss (positive = a loss) in each of :func:`scenarios`."""
    return [
        sc.weight * -math.fsum(leg.qty * _change(leg, spot, rate, sc) for leg in legs if leg.qty)
        for sc in scenarios(psr)
    ]


def _check(spot: float, rate: float, psr: float) -> None:
    if not (_finite(spot) and spot > 0):
        raise ValueError(f"spot must be a positive number, got {spot!r}")
    if not _finite(rate):
        raise ValueError(f"rate must be a finite number, got {rate!r}")
    if not (_finite(psr) and 0 < psr < 1 / EXTREME_MULTIPLE):
        raise ValueError(f"psr must be a fraction of spot in (0, 0.5), got {psr!r}")


def _exposure(legs: Iterable[MarginLeg], spot: float) -> Decimal:
    pct = dec(EXPOSURE_PCT)
    total = Decimal(0)
    for leg in legs:
        if leg.carries_risk:
            base = dec(spot) if leg.is_option else dec(leg.price)
            total += pct * base * abs(leg.qty)
    return paise(total)


def basket_margin(
    legs: Sequence[MarginLeg], spot: float, rate: float = DEFAULT_RATE, psr: float = INDEX_PSR_FLOOR
) -> BasketMargin:
    """The margin of a basket of option and futures legs on one underlying at ``spot`` (see the module's
    note). ``psr`` is the price scan range as a fraction of spot (:func:`price_scan_range`). An empty basket
    needs nothing. ValueError for a spot that is not positive, a rate or psr that is not a number."""
    _check(spot, rate, psr)
    premium = paise(max(sum((dec(x.price) * x.qty for x in legs if x.is_option), Decimal(0)), Decimal(0)))
    span = paise(Decimal(0))
    if any(leg.carries_risk for leg in legs):
        worst = max(scenario_losses(legs, spot, rate, psr))
        span = paise(max(dec(worst) - premium, Decimal(0)))
    exposure = _exposure(legs, spot)
    return BasketMargin(span, exposure, premium, span + exposure + premium)
