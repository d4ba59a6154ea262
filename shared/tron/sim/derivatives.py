"""NIFTY futures and options for the simulated market, derived from the generated index path: the contracts
listed on a day (:func:`contracts`) and their minute bars (:func:`derive`). Everything is deterministic by
the seed.

Options are priced by Black–Scholes on the index's minute bars with a volatility that moves during the day,
the day's ATM implied-vol path (:func:`iv_path`, the constants ``IV_*``), plus a static smile for the strike
(:func:`smile`). The path, in log vol, minute by minute:

- its level, the day's base, is the index's realized volatility (20 daily returns) with the premium of
  implied over realized NIFTY usually carries (``IV_PREMIUM``, ×1.105);
- it opens above the base (``IV_OPEN_PREMIUM`` ± ``IV_OPEN_NOISE``, ×1.16 more) and reverts to it, an
  Ornstein–Uhlenbeck step a minute (half-life ``IV_HALF_LIFE`` minutes), so by the close it sits near the
  base. This is the market's intraday decay: Black–Scholes' clock is calendar time, so only a quarter of a
  day passes in the session while the session carries most of the day's variance; the vol priced at the
  open bleeds out through the day (and is back at the next open);
- it moves against the index (``IV_SPOT_BETA``: −5 × the index's minute log return) and has its own noise
  (``IV_VOL_OF_VOL``), so falling days bid the vol and rallies soften it;
- now and then it spikes (``IV_JUMPS_PER_DAY``, +16 % to +49 %), and the spike lifts the level for the rest
  of the session;
- it stays in ``IV_BAND`` (8 %–45 %).

So a short ATM straddle earns its decay on most days and loses on trending days, on volatile days, and on
the spike days (from 09:20 to 15:15 on the nearest expiry, on four seeds over 200 days each: about 31 % losing
days, a positive mean; tests/unit/sim/test_derivatives.py).

Not modelled: a term structure (every contract of the day, both expiries, is priced on the one path; only
the smile shapes strikes) — in particular the expiring contract carries no expiry-day vol premium, so
expiry-day straddles lose more often than the market's (about half of them); event days (budget, policy,
results: no scheduled vol bid or crush); skew dynamics (the smile does not steepen in a selloff); vol
memory across days (each day opens from its own realized vol; a spike is forgotten overnight); jumps in the
index with the vol spikes; pinning and gamma flows near expiry; any feedback from options to the index.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from tron.domain.calendar import TradingCalendar
from tron.domain.expiries import expiries, monthly_expiry
from tron.domain.timeutil import ist

UNDERLYING = "NIFTY"
LOT_SIZE = 65  # NIFTY from the January 2026 series (kite-and-nse.md)
STRIKE_STEP = 50
STRIKES_EACH_SIDE = 10
RATE = 0.065  # the carry and the option pricing rate
TICK = 0.05
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKLY_MONTH_CODE = "123456789OND"
EXPIRY_TIME = time(15, 30)

# The intraday ATM implied-vol path (:func:`iv_path`), in log vol per minute step.
IV_BAND = (0.08, 0.45)  # the plausible band of an index's implied vol
IV_PREMIUM = 0.10  # log premium of implied over realized: the day's base, the level the path reverts to
IV_OPEN_PREMIUM = 0.15  # the open's extra log premium over the base, bled out during the session
IV_OPEN_NOISE = 0.04  # its day-to-day spread
IV_HALF_LIFE = 120.0  # minutes for a deviation from the level to halve
IV_SPOT_BETA = 5.0  # log-vol change per unit minute log return of the index, with the opposite sign
IV_VOL_OF_VOL = 0.002  # the path's own noise per minute (≈ 4 % over a session)
IV_JUMPS_PER_DAY = 0.08  # rare spikes: about one day in twelve
IV_JUMP = (0.15, 0.40)  # a spike's size in log vol (+16 % to +49 %)


@dataclass(frozen=True)
class Contract:
    symbol: str
    kind: str  # FUT | CE | PE
    expiry: date
    strike: float = 0.0

    @property
    def segment(self) -> str:
        return "futures" if self.kind == "FUT" else "options"


def future_symbol(expiry: date) -> str:
    return f"{UNDERLYING}{expiry:%y}{MONTHS[expiry.month - 1]}FUT"


def option_symbol(expiry: date, strike: float, kind: str, monthly: bool) -> str:
    """Kite's tradingsymbol of a NIFTY option: monthly NIFTY26DEC26000CE, weekly NIFTY25D0226000CE."""
    k = f"{strike:.0f}" if float(strike).is_integer() else f"{strike:g}"
    if monthly:
        return f"{UNDERLYING}{expiry:%y}{MONTHS[expiry.month - 1]}{k}{kind}"
    return f"{UNDERLYING}{expiry:%y}{WEEKLY_MONTH_CODE[expiry.month - 1]}{expiry:%d}{k}{kind}"


def is_monthly(expiry: date, calendar: TradingCalendar) -> bool:
    return monthly_expiry(UNDERLYING, expiry.year, expiry.month, calendar) == expiry


def futures_expiries(day: date, calendar: TradingCalendar, n: int = 2) -> list[date]:
    """The monthly expiries on or after day: the current contract, then the next."""
    out: list[date] = []
    y, m = day.year, day.month
    while len(out) < n:
        e = monthly_expiry(UNDERLYING, y, m, calendar)
        if e >= day:
            out.append(e)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def option_expiries(day: date, calendar: TradingCalendar, n: int = 2) -> list[date]:
    return expiries(UNDERLYING, day, day + timedelta(days=45), "all", calendar)[:n]


def contracts(day: date, prev_index_close: float, calendar: TradingCalendar) -> list[Contract]:
    """The NIFTY futures and options listed on a day (futures first), as Kite's instruments dump would show
    them (exchange NFO).

    Futures: the current and the next monthly contract (``NIFTY26DECFUT``). Options: CE and PE of the two
    nearest expiries (weekly or monthly), strikes every 50 points, ±10 strikes around the previous close's
    ATM; Kite symbols ``NIFTY25D0226000CE`` (weekly: yy, month code 1-9/O/N/D, dd) and
    ``NIFTY26DEC26000CE`` (the month's last expiry).
    """
    out = [Contract(future_symbol(e), "FUT", e) for e in futures_expiries(day, calendar)]
    atm = math.floor(prev_index_close / STRIKE_STEP + 0.5) * STRIKE_STEP
    strikes = [atm + i * STRIKE_STEP for i in range(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1)]
    for e in option_expiries(day, calendar):
        monthly = is_monthly(e, calendar)
        for k in strikes:
            for kind in ("CE", "PE"):
                out.append(Contract(option_symbol(e, k, kind, monthly), kind, e, float(k)))
    return out


def smile(base_vol: float | np.ndarray, spot: float | np.ndarray, strike: float) -> np.ndarray:
    """A small NIFTY-like skew around the ATM vol ``base_vol`` (a level or the intraday path, elementwise
    with ``spot``): puts (strikes below spot) richer, far strikes richer."""
    m = np.log(strike / np.asarray(spot, dtype=float))
    return np.maximum(0.05, base_vol - 0.6 * m + 10.0 * m * m)


def realized_vol(closes: np.ndarray) -> float:
    """Annualized close-to-close volatility, kept in a plausible band for an index."""
    r = np.diff(np.log(closes))
    vol = float(np.std(r, ddof=1) * math.sqrt(252)) if len(r) > 1 else 0.14
    return min(max(vol, 0.08), 0.45)


def iv_path(day: date, index_open: float, index_close: np.ndarray, base_vol: float, seed: int) -> np.ndarray:
    """The day's ATM implied vol at 09:15 and at the end of each minute (``len(index_close) + 1`` values),
    around ``base_vol`` (the level it reverts to), from the index's open and minute closes.

    Log vol is log(base_vol) + J + y: y opens at ``IV_OPEN_PREMIUM`` ± ``IV_OPEN_NOISE`` and steps each
    minute as y ← φ·y − β·r + ν·ε (an Ornstein–Uhlenbeck step, φ = ½^(1/``IV_HALF_LIFE``), β
    ``IV_SPOT_BETA``, r the index's minute log return, ν ``IV_VOL_OF_VOL``, ε standard normal); J, zero at
    the open, rises by a spike (``IV_JUMP``, about ``IV_JUMPS_PER_DAY`` a day) and stays for the rest of the
    day. Clipped to ``IV_BAND``. Deterministic by seed and day; vectorized over the minutes.
    """
    n = len(index_close)
    r = np.random.default_rng([seed, zlib.crc32(b"iv-path"), day.toordinal()])
    y0 = IV_OPEN_PREMIUM + IV_OPEN_NOISE * r.standard_normal()
    noise = IV_VOL_OF_VOL * r.standard_normal(n)
    spikes = np.where(r.random(n) < IV_JUMPS_PER_DAY / n, r.uniform(*IV_JUMP, n), 0.0)
    rets = np.diff(np.log(np.concatenate([[index_open], np.asarray(index_close, dtype=float)])))
    u = noise - IV_SPOT_BETA * rets
    # y_j = φ^(j+1)·y0 + Σ_{s≤j} φ^(j−s)·u_s, as a scaled cumulative sum (φ^-n stays small: n/half-life ≈ 3)
    phi = 0.5 ** (1.0 / IV_HALF_LIFE)
    pw = phi ** np.arange(n)
    y = pw * (phi * y0 + np.cumsum(u / pw))
    x = np.concatenate([[y0], y + np.cumsum(spikes)])
    return np.clip(base_vol * np.exp(x), *IV_BAND)


def implied_level(closes: np.ndarray) -> float:
    """The day's base ATM implied vol: the realized vol of ``closes`` with NIFTY's premium of implied over
    realized (``IV_PREMIUM``), in ``IV_BAND``."""
    return min(realized_vol(closes) * math.exp(IV_PREMIUM), IV_BAND[1])


_erfc = np.frompyfunc(math.erfc, 1, 1)


def _ncdf(x: np.ndarray) -> np.ndarray:
    # frompyfunc's stubs allow a scalar; over an array it returns an object array
    return 0.5 * np.asarray(_erfc(-x / math.sqrt(2.0))).astype(float)


def bs_price(kind: str, spot: np.ndarray, strike: float, days: np.ndarray, vol: np.ndarray) -> np.ndarray:
    """Black–Scholes as tron.domain.options.price (T = days/365, no dividends), over arrays."""
    t = np.maximum(days, 0.0) / 365.0
    disc = np.exp(-RATE * t)
    sq = vol * np.sqrt(t)
    live = sq > 0
    safe = np.where(live, sq, 1.0)
    d1 = (np.log(spot / strike) + (RATE + 0.5 * vol * vol) * t) / safe
    d2 = d1 - safe
    if kind == "CE":
        px = spot * _ncdf(d1) - strike * disc * _ncdf(d2)
        intrinsic = np.maximum(spot - strike * disc, 0.0)
    else:
        px = strike * disc * _ncdf(-d2) - spot * _ncdf(-d1)
        intrinsic = np.maximum(strike * disc - spot, 0.0)
    return np.where(live, np.maximum(px, 0.0), intrinsic)


def days_to_expiry(at: datetime, expiry: date) -> float:
    """Calendar days (fractional) from an instant to the contract's 15:30 IST expiry."""
    end = ist(expiry, EXPIRY_TIME)
    return (end - at).total_seconds() / 86400.0


def _tick(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(x / TICK) * TICK, TICK)


@dataclass
class DerivArrays:
    contracts: list[Contract]
    prev_close: np.ndarray
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray
    spread: np.ndarray
    atm_iv: np.ndarray  # (minutes + 1,): the ATM implied vol at 09:15, then at each minute's end


def derive(
    day: date,
    index_ohlc: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    prev_index_close: float,
    prev_day: date,
    vol_history: np.ndarray,
    calendar: TradingCalendar,
    seed: int,
) -> DerivArrays:
    """Minute bars of every listed contract from the index's minute bars (arrays of MINUTES).

    Futures: fair value = index × e^(r·T) with T to the contract's 15:30 expiry, plus a small,
    mean-reverting basis of a few ticks. Options: Black–Scholes (:func:`bs_price`, the formula of
    ``tron.domain.options``) on the index's minute open/high/low/close, on the 0.05 tick, with the day's
    intraday ATM implied-vol path (:func:`iv_path` around :func:`implied_level`, the realized volatility
    over ``vol_history`` with the implied-over-realized premium) plus a small static smile (:func:`smile`):
    the open at the vol of the minute's start, high, low and close at the vol of its end. The path is
    returned as ``atm_iv``. Each contract gets a bid/ask spread and volume (in whole lots), and a previous
    close priced at ``prev_day``'s close with the level the path reverts to (the base, without the open's
    premium or a spike; not the previous day's own last vol, which derive does not see).

    What the vol path models and what it leaves out: the module's docstring. In short, one path for every
    contract (no term structure beyond the smile, no expiry-day premium), no event days, no skew dynamics,
    no vol memory across days beyond the realized vol.
    """
    io, ih, il, ic = index_ohlc
    minutes = len(ic)
    listed = contracts(day, prev_index_close, calendar)
    base_vol = implied_level(vol_history)
    iv = iv_path(day, float(io[0]), ic, base_vol, seed)
    iv_start, iv_end = iv[:-1], iv[1:]
    start = ist(day, time(9, 15))
    after = (np.arange(minutes) + 1) / 1440.0  # each minute's end, in days after 09:15
    prev_end = ist(prev_day, EXPIRY_TIME)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("o", "h", "lo", "c", "v", "spread")}
    prev = []
    tm = np.arange(minutes) / minutes
    vshape = 1 + 2.5 * np.exp(-tm / 0.05) + 1.5 * np.exp(-(1 - tm) / 0.07)
    vshape = vshape / vshape.sum()
    atm = math.floor(prev_index_close / STRIKE_STEP + 0.5) * STRIKE_STEP
    for ct in listed:
        r = np.random.default_rng([seed, zlib.crc32(ct.symbol.encode()), day.toordinal()])
        days = np.maximum(days_to_expiry(start, ct.expiry) - after, 1.0 / 1440)
        prev_days = max(days_to_expiry(prev_end, ct.expiry), 1.0 / 1440)
        if ct.kind == "FUT":
            carry = np.exp(RATE * days / 365.0)
            basis = np.cumsum(r.normal(0, 0.6, minutes)) * 0.15  # a few points, mean-reverting-ish
            basis = basis - np.linspace(0, basis[-1], minutes) * 0.5
            bars = [_tick(x * carry + basis) for x in (io, ih, il, ic)]
            o, h, lo, c = bars
            h, lo = np.maximum.reduce([o, h, lo, c]), np.minimum.reduce([o, h, lo, c])
            pc = prev_index_close * math.exp(RATE * prev_days / 365.0)
            lots = r.lognormal(math.log(60_000), 0.3) * vshape * r.lognormal(0, 0.4, minutes)
            spread = r.integers(1, 4, minutes) * TICK
        else:
            vol = smile(iv_end, ic, ct.strike)
            px = {
                name: bs_price(ct.kind, x, ct.strike, days, vol)
                for name, x in zip("hlc", (ih, il, ic), strict=True)
            }
            px["o"] = bs_price(ct.kind, io, ct.strike, days, smile(iv_start, io, ct.strike))
            o, c = _tick(px["o"]), _tick(px["c"])
            hi_src, lo_src = (px["h"], px["l"]) if ct.kind == "CE" else (px["l"], px["h"])
            h = np.maximum.reduce([o, c, _tick(hi_src)])
            lo = np.minimum.reduce([o, c, _tick(lo_src)])
            pvol = smile(base_vol, prev_index_close, ct.strike)
            pc = float(
                bs_price(
                    ct.kind, np.array([prev_index_close]), ct.strike, np.array([prev_days]), pvol.reshape(1)
                )[0]
            )
            away = abs(ct.strike - atm) / STRIKE_STEP
            lots = (
                r.lognormal(math.log(400_000), 0.3)
                * math.exp(-away / 4)
                * vshape
                * r.lognormal(0, 0.5, minutes)
            )
            ticks = 1 + np.floor(c * 0.002 / TICK) + r.integers(0, 3, minutes)
            spread = ticks * TICK
        spread = spread.astype(float)
        spread[:5] *= 2
        rows["o"].append(o)
        rows["h"].append(h)
        rows["lo"].append(lo)
        rows["c"].append(c)
        rows["v"].append(np.floor(lots) * LOT_SIZE)
        rows["spread"].append(spread)
        prev.append(round(max(pc, TICK) / TICK) * TICK)
    arr = {k: np.array(rows[k], dtype=float).reshape(len(listed), minutes) for k in rows}
    return DerivArrays(
        listed,
        np.array(prev, dtype=float),
        o=arr["o"],
        h=arr["h"],
        lo=arr["lo"],
        c=arr["c"],
        v=arr["v"],
        spread=arr["spread"],
        atm_iv=iv,
    )
