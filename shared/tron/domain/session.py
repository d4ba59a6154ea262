"""Per-asset rolling state for one session, vectorized across symbols, compact enough for one document.

Minute bars come from consecutive snapshots: open = previous last price, close = last price, volume = the
change in cumulative volume, and high/low take the day's high/low when it moved during the minute (so a
spike inside the minute is not lost). Indicators are updated incrementally (O(1) per bar, per symbol)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from tron.domain.models import Snapshot

_FLOAT_FIELDS = (
    "last", "cum_vol", "day_high", "day_low", "or_high", "or_low", "cum_pv", "cum_v",
    "atr", "tr_sum", "vol_avg", "vwap_side", "prev_vwap_side",
)  # fmt: skip
ATR_PERIOD = 14
VOL_AVG_PERIOD = 20


@dataclass
class Bar:
    """The latest minute bar of every symbol (arrays aligned with SessionState.symbols)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    fresh: np.ndarray  # bool: the quote moved on since the previous snapshot's time


@dataclass
class SessionState:
    symbols: list[str]
    bars: int = 0  # bars completed since the open
    last_ts: str | None = None  # the snapshot time last applied (ISO)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)  # per-strategy sets of symbols already fired
    or_minutes: int = 15

    @staticmethod
    def new(symbols: list[str], or_minutes: int = 15) -> SessionState:
        n = len(symbols)
        arrays = {k: np.full(n, np.nan) for k in _FLOAT_FIELDS}
        for k in ("cum_pv", "cum_v", "tr_sum", "vwap_side", "prev_vwap_side"):
            arrays[k] = np.zeros(n)
        return SessionState(symbols=list(symbols), arrays=arrays, or_minutes=or_minutes)

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    @property
    def vwap(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.arrays["cum_v"] > 0, self.arrays["cum_pv"] / self.arrays["cum_v"], np.nan)

    # ------------------------------------------------------------------ update
    def apply(self, snap: Snapshot) -> Bar | None:
        """Fold a snapshot in; returns the bar that just completed, or None for the first snapshot."""
        a = self.arrays
        q = [snap.quotes.get(s) for s in self.symbols]
        last = np.array([x.last if x else np.nan for x in q])
        cum = np.array([float(x.volume) if x else np.nan for x in q])
        hi = np.array([x.high if x else np.nan for x in q])
        lo = np.array([x.low if x else np.nan for x in q])
        prev_ts = datetime.fromisoformat(self.last_ts) if self.last_ts else None
        fresh = np.array([bool(x) and (prev_ts is None or x.ts > prev_ts) for x in q])
        self.last_ts = snap.ts.isoformat()
        if np.all(np.isnan(a["last"])):
            a["last"], a["cum_vol"], a["day_high"], a["day_low"] = last, cum, hi, lo
            return None
        o = a["last"]
        c = np.where(np.isnan(last), o, last)
        h = np.fmax(o, c)
        lw = np.fmin(o, c)
        h = np.where(hi > a["day_high"], np.fmax(h, hi), h)
        lw = np.where(lo < a["day_low"], np.fmin(lw, lo), lw)
        v = np.where(np.isnan(cum), 0.0, np.maximum(cum - np.nan_to_num(a["cum_vol"]), 0.0))
        bar = Bar(open=o, high=h, low=lw, close=c, volume=v, fresh=fresh)
        self._fold(bar)
        a["last"], a["cum_vol"] = c, np.where(np.isnan(cum), a["cum_vol"], cum)
        a["day_high"], a["day_low"] = np.fmax(a["day_high"], hi), np.fmin(a["day_low"], lo)
        return bar

    def _fold(self, bar: Bar) -> None:
        a = self.arrays
        self.bars += 1
        if self.bars <= self.or_minutes:
            a["or_high"] = np.fmax(a["or_high"], bar.high)
            a["or_low"] = np.fmin(a["or_low"], bar.low)
        typical = (bar.high + bar.low + bar.close) / 3
        a["cum_pv"] = a["cum_pv"] + typical * bar.volume
        a["cum_v"] = a["cum_v"] + bar.volume
        a["prev_vwap_side"] = a["vwap_side"]
        a["vwap_side"] = np.where(a["cum_v"] > 0, np.sign(bar.close - self.vwap), 0.0)
        tr = bar.high - bar.low  # the bar's open is the previous close and lies inside [low, high]
        # Wilder ATR: the mean of the first ATR_PERIOD true ranges, then (prev*(n-1)+tr)/n.
        if self.bars < ATR_PERIOD:
            a["tr_sum"] = a["tr_sum"] + tr
        elif self.bars == ATR_PERIOD:
            a["atr"] = (a["tr_sum"] + tr) / ATR_PERIOD
        else:
            a["atr"] = (a["atr"] * (ATR_PERIOD - 1) + tr) / ATR_PERIOD
        alpha = 2 / (VOL_AVG_PERIOD + 1)
        a["vol_avg"] = np.where(
            np.isnan(a["vol_avg"]), bar.volume, a["vol_avg"] + alpha * (bar.volume - a["vol_avg"])
        )

    # ------------------------------------------------------------------ storage
    def to_doc(self) -> dict[str, Any]:
        return {
            "symbols": self.symbols,
            "bars": self.bars,
            "last_ts": self.last_ts,
            "or_minutes": self.or_minutes,
            "flags": {k: sorted(v) for k, v in self.flags.items()},
            "arrays": {
                k: [None if np.isnan(x) else round(float(x), 6) for x in v] for k, v in self.arrays.items()
            },
        }

    @staticmethod
    def from_doc(d: dict[str, Any]) -> SessionState:
        arrays = {
            k: np.array([np.nan if x is None else x for x in v], dtype=float) for k, v in d["arrays"].items()
        }
        return SessionState(
            symbols=list(d["symbols"]),
            bars=int(d["bars"]),
            last_ts=d.get("last_ts"),
            arrays=arrays,
            flags={k: list(v) for k, v in d.get("flags", {}).items()},
            or_minutes=int(d.get("or_minutes", 15)),
        )
