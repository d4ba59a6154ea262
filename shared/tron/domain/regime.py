"""The market regime — trending, ranging or volatile — from the index's recent daily bars (:func:`daily`,
what the rule planner uses before the open) and, during the session, per symbol from the session state
(:func:`intraday`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from tron.domain.models import DailyBar
from tron.domain.session import SessionState

TRENDING, RANGING, VOLATILE = "trending", "ranging", "volatile"
REGIMES = (TRENDING, RANGING, VOLATILE)
LOOKBACK_DAYS = 10
MIN_DAYS = 3
VOLATILE_RANGE_PCT = 1.6
TREND_EFFICIENCY = 0.45
INTRADAY_VOLATILE_ATR_PCT = 0.045  # 1-minute ATR, % of price (simulator: ranging ≈ 0.030, volatile ≈ 0.059)
INTRADAY_TREND_DRIFT = 1.5  # |move since the open print| / (ATR·√bars): a random walk rarely gets this far


@dataclass(frozen=True)
class RegimeReading:
    """A daily regime reading: the regime, the figures it rests on (average true range in % of the close,
    the efficiency ratio, the number of days) and a sentence saying why."""

    name: str  # trending | ranging | volatile
    avg_true_range_pct: float
    efficiency: float
    days: int
    reason: str


def efficiency_ratio(closes: list[float]) -> float:
    """|last − first| / Σ|close_t − close_{t−1}|: 1 for a straight line, near 0 for back and forth."""
    path = sum(abs(b - a) for a, b in itertools.pairwise(closes))
    return abs(closes[-1] - closes[0]) / path if path else 0.0


def daily(history: list[DailyBar], lookback: int = LOOKBACK_DAYS) -> RegimeReading:
    """The regime of the last `lookback` sessions of the index (``history`` oldest first):

    * volatile when the average true range is above ``VOLATILE_RANGE_PCT`` % of the close. The true range
      is the high-low range stretched to the previous close (the first bar's open when the history has no
      earlier bar): an overnight gap is volatility a stop feels, and the plain range misses it;
    * otherwise trending when the efficiency ratio of the closes (:func:`efficiency_ratio`) is above
      ``TREND_EFFICIENCY``: the market went somewhere rather than back and forth;
    * otherwise ranging — also the answer with fewer than ``MIN_DAYS`` bars (no evidence of anything else).
    """
    bars = history[-lookback:]
    if len(bars) < MIN_DAYS:
        return RegimeReading(RANGING, 0.0, 0.0, len(bars), f"only {len(bars)} daily bars: assume ranging")
    before = history[-lookback - 1] if len(history) > lookback else None
    prev_closes = [before.close if before else bars[0].open] + [b.close for b in bars[:-1]]
    trs = [(max(b.high, pc) - min(b.low, pc)) / b.close for b, pc in zip(bars, prev_closes, strict=True)]
    atr_pct = 100 * sum(trs) / len(trs)
    er = efficiency_ratio([b.close for b in bars])
    facts = f"{len(bars)} days: average true range {atr_pct:.2f}%, efficiency ratio {er:.2f}"
    if atr_pct > VOLATILE_RANGE_PCT:
        return RegimeReading(VOLATILE, atr_pct, er, len(bars), f"{facts} (range above {VOLATILE_RANGE_PCT}%)")
    if er > TREND_EFFICIENCY:
        return RegimeReading(
            TRENDING, atr_pct, er, len(bars), f"{facts} (efficiency above {TREND_EFFICIENCY})"
        )
    return RegimeReading(RANGING, atr_pct, er, len(bars), f"{facts} (neither volatile nor trending)")


def intraday(state: SessionState) -> np.ndarray:
    """Per symbol: trending | ranging | volatile from the session so far, "" where not yet defined.

    Volatile when the 1-minute ATR(14) is above ``INTRADAY_VOLATILE_ATR_PCT`` % of the price; trending when
    the move since the opening print is more than ``INTRADAY_TREND_DRIFT`` times what a random walk with that
    ATR would typically cover (ATR·√bars); ranging otherwise; "" until the ATR is defined. (On 1-minute bars
    the efficiency ratio is near 0 on any day, so the daily rule's ratio does not transfer.) On the
    simulator the volatility split is clean, the trend split weak: stocks' own noise dominates the index's
    drift; treat the reading as a hint.
    """
    t = state.t
    first = state.arrays.get("first", np.full(len(state.symbols), np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        atr_pct = 100 * state.atr / state.last
        drift = np.abs(state.last - first) / (state.atr * np.sqrt(max(t, 1)))
    out = np.where(
        atr_pct > INTRADAY_VOLATILE_ATR_PCT,
        VOLATILE,
        np.where(drift > INTRADAY_TREND_DRIFT, TRENDING, RANGING),
    )
    return np.where(~np.isnan(atr_pct) & ~np.isnan(drift), out, "")
