"""Black–Scholes (no dividends) prices, greeks, implied volatility and strike selection for index options.

Conventions: T = days / 365; rate and vol are decimals (0.065, 0.15); vega per 1 volatility point (/100),
theta per calendar day (/365), rho per 1 % rate (/100). The normal CDF uses math.erfc (accurate in the
tails). Option types are "CE" (call) and "PE" (put)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

OptionType = Literal["CE", "PE"]
OPTION_TYPES: tuple[str, ...] = ("CE", "PE")
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def norm_cdf(x: float) -> float:
    """The standard normal CDF, via math.erfc (accurate in the tails)."""
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_pdf(x: float) -> float:
    """The standard normal density."""
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@dataclass(frozen=True)
class Greeks:
    """An option's price and greeks, in the module's units."""

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float


def _check(option_type: str, spot: float, strike: float, days: float, vol: float) -> None:
    if option_type not in OPTION_TYPES:
        raise ValueError(f"option type must be CE or PE, got {option_type!r}")
    if not (spot > 0 and math.isfinite(spot)):
        raise ValueError(f"spot must be positive, got {spot}")
    if not (strike > 0 and math.isfinite(strike)):
        raise ValueError(f"strike must be positive, got {strike}")
    if not (days >= 0 and math.isfinite(days)):
        raise ValueError(f"days must be >= 0, got {days}")
    if not (vol >= 0 and math.isfinite(vol)):
        raise ValueError(f"vol must be >= 0, got {vol}")


def greeks(option_type: str, spot: float, strike: float, days: float, rate: float, vol: float) -> Greeks:
    """Price and greeks. With days = 0 or vol = 0 the limits are returned (price = discounted intrinsic).

    ValueError for an option type other than CE/PE, a spot or strike that is not positive, or days or vol
    negative or not finite.
    """
    _check(option_type, spot, strike, days, vol)
    t = days / 365.0
    disc = math.exp(-rate * t)
    call = option_type == "CE"
    if t == 0.0 or vol == 0.0:
        fwd_itm = spot - strike * disc
        itm = fwd_itm > 0 if call else fwd_itm < 0
        price = max(fwd_itm, 0.0) if call else max(-fwd_itm, 0.0)
        delta = (1.0 if call else -1.0) if itm else 0.0
        theta = rho = 0.0
        if itm and t > 0:
            sign = 1.0 if call else -1.0
            theta = -sign * rate * strike * disc / 365.0
            rho = sign * t * strike * disc / 100.0
        return Greeks(price, delta, 0.0, 0.0, theta, rho)
    sq = vol * math.sqrt(t)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * t) / sq
    d2 = d1 - sq
    pdf1 = norm_pdf(d1)
    gamma = pdf1 / (spot * sq)
    vega = spot * pdf1 * math.sqrt(t) / 100.0
    decay = -spot * pdf1 * vol / (2.0 * math.sqrt(t))
    if call:
        price = spot * norm_cdf(d1) - strike * disc * norm_cdf(d2)
        delta = norm_cdf(d1)
        theta = (decay - rate * strike * disc * norm_cdf(d2)) / 365.0
        rho = t * strike * disc * norm_cdf(d2) / 100.0
    else:
        price = strike * disc * norm_cdf(-d2) - spot * norm_cdf(-d1)
        delta = norm_cdf(d1) - 1.0
        theta = (decay + rate * strike * disc * norm_cdf(-d2)) / 365.0
        rho = -t * strike * disc * norm_cdf(-d2) / 100.0
    return Greeks(price, delta, gamma, vega, theta, rho)


def price(option_type: str, spot: float, strike: float, days: float, rate: float, vol: float) -> float:
    """The Black–Scholes premium (:func:`greeks`)."""
    return greeks(option_type, spot, strike, days, rate, vol).price


def delta(option_type: str, spot: float, strike: float, days: float, rate: float, vol: float) -> float:
    """Delta: 0…1 for a call, −1…0 for a put (:func:`greeks`)."""
    return greeks(option_type, spot, strike, days, rate, vol).delta


def gamma(option_type: str, spot: float, strike: float, days: float, rate: float, vol: float) -> float:
    """Gamma (:func:`greeks`)."""
    return greeks(option_type, spot, strike, days, rate, vol).gamma


def vega(option_type: str, spot: float, strike: float, days: float, rate: float, vol: float) -> float:
    """Vega per 1 volatility point (:func:`greeks`)."""
    return greeks(option_type, spot, strike, days, rate, vol).vega


def theta(option_type: str, spot: float, strike: float, days: float, rate: float, vol: float) -> float:
    """Theta per calendar day (:func:`greeks`)."""
    return greeks(option_type, spot, strike, days, rate, vol).theta


def rho(option_type: str, spot: float, strike: float, days: float, rate: float, vol: float) -> float:
    """Rho per 1 % rate (:func:`greeks`)."""
    return greeks(option_type, spot, strike, days, rate, vol).rho


def premium_bounds(
    option_type: str, spot: float, strike: float, days: float, rate: float
) -> tuple[float, float]:
    """No-arbitrage (lower, upper) bounds of a European premium: a premium must lie in [lower, upper)."""
    _check(option_type, spot, strike, days, 0.0)
    kd = strike * math.exp(-rate * days / 365.0)
    if option_type == "CE":
        return max(spot - kd, 0.0), spot
    return max(kd - spot, 0.0), kd


def implied_volatility(
    option_type: str,
    spot: float,
    strike: float,
    days: float,
    rate: float,
    premium: float,
    *,
    tol: float = 1e-12,
    max_vol: float = 100.0,
) -> float:
    """The Black–Scholes volatility that reproduces a premium (safeguarded Newton inside a bisection
    bracket). Raises ValueError when the premium is outside the no-arbitrage bounds or days is 0.
    A premium equal to the lower bound (pure intrinsic) gives 0.0."""
    _check(option_type, spot, strike, days, 0.0)
    if days <= 0:
        raise ValueError("implied volatility needs days > 0")
    if not math.isfinite(premium):
        raise ValueError(f"premium must be finite, got {premium}")
    lower, upper = premium_bounds(option_type, spot, strike, days, rate)
    scale = max(abs(premium), 1e-300)
    if premium < lower - 1e-12 * max(lower, 1.0):
        raise ValueError(
            f"premium {premium} is below the no-arbitrage lower bound {lower:.6f} (intrinsic value)"
        )
    if premium >= upper:
        raise ValueError(f"premium {premium} is at or above the no-arbitrage upper bound {upper:.6f}")
    if premium <= lower:
        return 0.0

    def f(v: float) -> float:
        return price(option_type, spot, strike, days, rate, v) - premium

    lo, hi = 0.0, 1.0
    while f(hi) < 0:
        lo, hi = hi, hi * 2.0
        if hi > max_vol:
            raise ValueError(f"premium {premium} needs a volatility above {max_vol}")
    t = days / 365.0
    guess = math.sqrt(2.0 * abs(math.log(spot / strike) + rate * t) / t)
    v = guess if lo < guess < hi else 0.5 * (lo + hi)
    for _ in range(200):
        fv = f(v)
        if abs(fv) <= tol * scale:
            return v
        if fv > 0:
            hi = v
        else:
            lo = v
        if hi - lo <= 1e-15 * max(hi, 1.0):
            return 0.5 * (lo + hi)
        vg = vega(option_type, spot, strike, days, rate, v) * 100.0
        step_ok = False
        if vg > 0:
            nv = v - fv / vg
            if lo < nv < hi:
                v, step_ok = nv, True
        if not step_ok:
            v = 0.5 * (lo + hi)
    return v


def atm_strike(spot: float, step: float) -> float:
    """The strike on the step grid nearest to spot (halves round up)."""
    if not step > 0:
        raise ValueError(f"step must be positive, got {step}")
    if not spot > 0:
        raise ValueError(f"spot must be positive, got {spot}")
    return round(math.floor(spot / step + 0.5) * step, 8)


def otm_strike(spot: float, step: float, n: int, option_type: str) -> float:
    """The strike n steps out of the money from the ATM strike (n = 0 is ATM; calls up, puts down)."""
    if option_type not in OPTION_TYPES:
        raise ValueError(f"option type must be CE or PE, got {option_type!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    atm = atm_strike(spot, step)
    k = atm + n * step if option_type == "CE" else atm - n * step
    if k <= 0:
        raise ValueError(f"{n} steps below ATM {atm} is not a positive strike")
    return round(k, 8)


def strike_by_delta(
    spot: float,
    strikes: Sequence[float],
    target_delta: float,
    option_type: str,
    days: float,
    rate: float,
    vol: float | Mapping[float, float],
) -> float:
    """The strike whose |delta| is nearest |target_delta| (so 0.25 and -0.25 both mean a 25-delta put).
    ``vol`` is one volatility or a strike → volatility mapping (a smile). Ties go to the lower strike."""
    if not strikes:
        raise ValueError("strikes must not be empty")
    target = abs(target_delta)
    if not 0 < target <= 1:
        raise ValueError(f"target delta must be in (0, 1] in absolute value, got {target_delta}")
    best: tuple[float, float] | None = None
    for k in sorted(strikes):
        v = vol[k] if isinstance(vol, Mapping) else vol
        dist = abs(abs(delta(option_type, spot, k, days, rate, v)) - target)
        if best is None or dist < best[0]:
            best = (dist, k)
    assert best is not None
    return best[1]
