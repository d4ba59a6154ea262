"""tron.sim.derivatives: Kite's F&O symbols, the vectorized Black–Scholes and the options' intraday implied-vol
path."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

import numpy as np
import pytest

from tron.adapters.calendar import nse_calendar
from tron.domain import options
from tron.sim.derivatives import (
    IV_BAND,
    RATE,
    TICK,
    DerivArrays,
    bs_price,
    derive,
    future_symbol,
    implied_level,
    iv_path,
    option_symbol,
    smile,
)
from tron.sim.market import MarketGenerator, nifty50


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


# ---------------------------------------------------------------------------------------------- the IV path

DAY = date(2026, 11, 23)
MINUTES = 375


def walk(seed: int, start: float = 24000.0, drift: float = 0.0, sd: float = 3.6e-4) -> np.ndarray:
    """An index's minute closes: a random walk (about 0.7 % a session) with a drift per minute."""
    steps = np.random.default_rng(seed).normal(drift, sd, MINUTES)
    return start * np.exp(np.cumsum(steps))


def test_the_iv_path_is_deterministic_by_seed_and_day() -> None:
    close = walk(1)
    path = iv_path(DAY, 24000.0, close, 0.13, seed=7)
    assert path.shape == (MINUTES + 1,)
    assert np.array_equal(path, iv_path(DAY, 24000.0, close, 0.13, seed=7))
    assert not np.array_equal(path, iv_path(DAY, 24000.0, close, 0.13, seed=8))
    assert not np.array_equal(path, iv_path(date(2026, 11, 24), 24000.0, close, 0.13, seed=7))
    assert IV_BAND[0] <= path.min() and path.max() <= IV_BAND[1]


def test_the_iv_path_opens_rich_and_reverts_to_the_base() -> None:
    base = 0.13
    opens, ends, spikes = [], [], []
    for k in range(300):
        path = iv_path(DAY + timedelta(days=k), 24000.0, walk(k), base, seed=7)
        opens.append(path[0] / base)
        ends.append(path[-1] / base)
        spikes.append(np.diff(np.log(path)).max())
        assert IV_BAND[0] <= path.min() and path.max() <= IV_BAND[1]
    # the open is priced a couple of vol points over the base, not a multiple of it
    assert 1.05 < np.median(opens) < 1.30 and 1.0 < min(opens) and max(opens) < 1.5
    # by the close the premium has bled out: the end-of-day level stays near the base, bounded
    assert abs(np.median(ends) - 1.0) < 0.05
    assert np.mean(np.abs(np.array(ends) - 1.0) < 0.2) > 0.8
    assert 0.6 < min(ends) and max(ends) < 2.0
    # and a rare day spikes (a minute's index move moves the vol by far less than 10 %)
    assert 0.02 < np.mean(np.array(spikes) > 0.1) < 0.2


def ranks(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x)).astype(float)


def test_the_iv_path_rises_when_the_index_falls() -> None:
    rets, moves = [], []
    for k in range(60):
        close = walk(k)
        path = iv_path(DAY + timedelta(days=k), 24000.0, close, 0.13, seed=7)
        rets.append(np.diff(np.log(np.concatenate([[24000.0], close]))))
        moves.append(np.diff(np.log(path)))
    # rank correlation of the minute moves, so the rare spikes do not dominate
    corr = np.corrcoef(ranks(np.concatenate(rets)), ranks(np.concatenate(moves)))[0, 1]
    assert -0.9 < corr < -0.4
    # the same day's draws on a falling and on a rising index: the falling one ends with the richer vol
    down = iv_path(DAY, 24000.0, walk(3, drift=-5e-5), 0.13, seed=7)
    up = iv_path(DAY, 24000.0, walk(3, drift=5e-5), 0.13, seed=7)
    assert down[-1] > up[-1] * 1.05


def years(day: date, at: time, expiry: date) -> float:
    """Years (calendar days / 365) from day's ``at`` to the expiry's 15:30."""
    return (datetime.combine(expiry, time(15, 30)) - datetime.combine(day, at)).total_seconds() / 86400 / 365


def simulated_days(start: date, n: int, seed: int = 7) -> list[tuple[date, np.ndarray, DerivArrays]]:
    """n trading days of the seeded market from start: the index's minute closes and the derived contracts,
    derived as MarketGenerator.full_day derives them."""
    gen = MarketGenerator(nifty50(1), nse_calendar(), seed=seed)
    out = []
    d = start
    while len(out) < n:
        if gen.calendar.is_trading_day(d):
            base = gen.day(d)
            k = len(base.symbols) - 1
            der = derive(
                d,
                (base.o[k], base.h[k], base.lo[k], base.c[k]),
                float(base.prev_close[k]),
                gen.calendar.previous_trading_day(d),
                gen.index_closes_before(d, 21),
                gen.calendar,
                seed,
            )
            out.append((d, base.c[k], der))
        d += timedelta(days=1)
    return out


def test_a_short_atm_straddle_from_0920_to_1515_wins_most_days_and_loses_some() -> None:
    entry, exit_ = 4, 359  # the closes of the minutes ending 09:20 and 15:15
    pnl = []
    for day, index, der in simulated_days(date(2026, 2, 2), 40):
        spot = float(index[entry])
        expiry = min(c.expiry for c in der.contracts if c.kind != "FUT")
        row = {(c.kind, c.strike): i for i, c in enumerate(der.contracts) if c.expiry == expiry}
        strike = min((s for kind, s in row if kind == "CE"), key=lambda s: abs(s - spot))
        ce, pe = der.c[row["CE", strike]], der.c[row["PE", strike]]
        pnl.append((ce[entry] + pe[entry]) - (ce[exit_] + pe[exit_]))
        # put-call parity at entry, to the ticks
        t = years(day, time(9, 20), expiry)
        parity = spot - strike * math.exp(-RATE * t)
        assert ce[entry] - pe[entry] == pytest.approx(parity, abs=0.2)
    pnl_ = np.array(pnl)
    losing = float(np.mean(pnl_ < 0))
    assert 0.2 <= losing <= 0.45, (losing, pnl_.round(1).tolist())
    # and the losing days are real losses, not a tick either side of flat
    assert -pnl_.min() > 3 * np.median(pnl_[pnl_ > 0])


def test_option_premiums_stay_within_the_no_arbitrage_bounds() -> None:
    for day, spot, der in simulated_days(date(2026, 3, 2), 10):  # spot: the index's minute closes
        for i, c in enumerate(der.contracts):
            if c.kind == "FUT":
                continue
            t = np.maximum(years(day, time(9, 15), c.expiry) - (np.arange(MINUTES) + 1) / 1440 / 365, 0)
            # NIFTY options are European: the bound is the discounted strike's intrinsic value (a deep
            # in-the-money put is worth less than K − S, by up to K·(1 − e^(−rT)))
            strike = c.strike * np.exp(-RATE * t)
            px = der.c[i]
            if c.kind == "CE":
                assert np.all(px <= spot) and np.all(px >= np.maximum(spot - strike, 0) - TICK)
            else:
                assert np.all(px <= c.strike) and np.all(px >= np.maximum(strike - spot, 0) - TICK)


def test_the_previous_close_is_priced_at_the_level_the_path_reverts_to() -> None:
    gen = MarketGenerator(nifty50(1), nse_calendar(), seed=7)
    base = gen.day(DAY)
    k = len(base.symbols) - 1
    prev_day = gen.calendar.previous_trading_day(DAY)
    history = gen.index_closes_before(DAY, 21)
    ohlc = (base.o[k], base.h[k], base.lo[k], base.c[k])
    der = derive(DAY, ohlc, float(base.prev_close[k]), prev_day, history, gen.calendar, 7)
    assert np.array_equal(
        der.atm_iv, iv_path(DAY, float(base.o[k][0]), base.c[k], implied_level(history), seed=7)
    )
    prev_close = float(base.prev_close[k])
    for i, c in enumerate(der.contracts):
        if c.kind == "FUT":
            continue
        days = years(prev_day, time(15, 30), c.expiry) * 365
        vol = smile(implied_level(history), prev_close, c.strike)
        want = options.price(c.kind, prev_close, c.strike, days, RATE, float(vol))
        assert der.prev_close[i] == pytest.approx(max(round(want / TICK) * TICK, TICK), abs=1e-9)
