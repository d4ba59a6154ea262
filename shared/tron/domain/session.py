"""Per-asset rolling state for one session, vectorized across symbols, compact enough for one document.

:class:`SessionState` folds consecutive market snapshots into minute bars (:class:`Bar`) and keeps the
indicators the planned strategies read, updated incrementally (O(1) per bar, per symbol); each equals its
vectorized twin in ``tron.domain.indicators`` applied to the session's price series.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np

from tron.domain.models import Snapshot

if TYPE_CHECKING:
    from tron.domain.strategies.base import Signal

_FLOAT_FIELDS = (
    "last", "cum_vol", "day_high", "day_low", "or_high", "or_low", "cum_pv", "cum_v",
    "atr", "tr_sum", "vol_avg", "vwap_side", "prev_vwap_side", "first",
)  # fmt: skip
ATR_PERIOD = 14
VOL_AVG_PERIOD = 20
# What the ten strategies read with their default parameters (a test keeps this in step with the registry):
# a session created without a plan (SessionState.new's default) can run any of them from the first bar.
DEFAULT_NEEDS = ("ema_15", "ema_5", "macd_12_26_9", "rocema_10_7", "rsi_7", "win_12", "win_21", "win_22")
MIN_RING = 2  # the last two closes are always kept (RSI's change, late registration on the first bar)
_RING_KEYS = ("c", "h", "lo")


@dataclass
class Bar:
    """The latest minute bar of every symbol (arrays aligned with SessionState.symbols)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    fresh: np.ndarray  # bool: the quote moved on since the previous snapshot's time


QuoteRow = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # last, volume, high, low, fresh


@dataclass
class QuoteRows:
    """Snapshots' quotes of some symbols as (snapshots, symbols) arrays: the last price, the cumulative
    volume, the day's high and low (NaN where a snapshot has no quote for a symbol) and ``fresh``: the
    quote's time is later than the previous snapshot's (the first snapshot's previous: ``since``)."""

    last: np.ndarray
    volume: np.ndarray
    high: np.ndarray
    low: np.ndarray
    fresh: np.ndarray

    def row(self, k: int) -> QuoteRow:
        """Snapshot k's arrays, one element per symbol."""
        return self.last[k], self.volume[k], self.high[k], self.low[k], self.fresh[k]


def quote_rows(symbols: list[str], snaps: list[Snapshot], since: datetime | None) -> QuoteRows:
    """The quotes of ``symbols`` in consecutive snapshots, as :class:`QuoteRows` (what
    :meth:`SessionState.fold` folds in)."""
    values: list[float] = []
    fresh: list[bool] = []
    none = (np.nan, np.nan, np.nan, np.nan)
    read = attrgetter("last", "volume", "high", "low")  # the volume becomes a float in the array below
    for snap in snaps:
        quotes = snap.quotes
        for s in symbols:
            q = quotes.get(s)
            if q is None:
                values.extend(none)
                fresh.append(False)
            else:
                values.extend(read(q))
                fresh.append(since is None or q.ts > since)
        since = snap.ts
    shape = (len(snaps), len(symbols))
    table = np.array(values, dtype=np.float64).reshape(*shape, 4)
    last, volume, high, low = (np.ascontiguousarray(table[..., i]) for i in range(4))
    return QuoteRows(last, volume, high, low, np.array(fresh, dtype=bool).reshape(shape))


# --------------------------------------------------------------------------- recursive indicator units


@dataclass(frozen=True)
class _Unit:
    """One recursively smoothed series: seeded at time ``start`` with the mean of the source's values at
    ``start-n+1 … start`` (TA-Lib's SMA seed), then EMA (k = 2/(n+1)) or Wilder ((prev·(n-1)+x)/n)."""

    key: str
    source: str  # close | gain | loss | roc_N | macd line of the named need
    n: int
    start: int
    wilder: bool = False
    phase: int = 0  # units reading other units' values update after them

    @property
    def first_input(self) -> int:
        return self.start - self.n + 1


def _nums(key: str, kind: str, count: int) -> list[int]:
    parts = key.split("_")
    if parts[0] != kind or len(parts) != count + 1 or not all(p.isdigit() and int(p) > 0 for p in parts[1:]):
        raise ValueError(f"bad indicator key {key!r}: want {kind}" + "_N" * count + " with N ≥ 1")
    return [int(p) for p in parts[1:]]


def _units(key: str) -> list[_Unit]:
    kind = key.split("_")[0]
    if kind == "ema":
        (n,) = _nums(key, kind, 1)
        return [_Unit(key, "close", n, n - 1)]
    if kind == "rsi":
        (n,) = _nums(key, kind, 1)
        return [
            _Unit(f"{key}_gain", "gain", n, n, wilder=True),
            _Unit(f"{key}_loss", "loss", n, n, wilder=True),
        ]
    if kind == "macd":
        f, s, g = _nums(key, kind, 3)
        f, s = min(f, s), max(f, s)  # TA-Lib swaps them
        return [
            _Unit(f"{key}_fast", "close", f, s - 1),
            _Unit(f"{key}_slow", "close", s, s - 1),
            _Unit(f"{key}_signal", key, g, s + g - 2, phase=1),
        ]
    if kind == "rocema":
        n, m = _nums(key, kind, 2)
        return [_Unit(key, f"roc_{n}", m, n + m - 1)]
    if kind == "win":
        _nums(key, kind, 1)
        return []
    raise ValueError(f"unknown indicator key {key!r}: known kinds ema, rsi, macd, rocema, win")


def _ring_need(key: str) -> int:
    kind = key.split("_")[0]
    if kind == "win":
        return _nums(key, kind, 1)[0]
    if kind == "rocema":
        return _nums(key, kind, 2)[0] + 2  # the rate of change now and one bar ago
    return MIN_RING


# --------------------------------------------------------------------------- storage encoding


_F8 = "f8z:"  # little-endian float64 bytes, deflated, base64: exact, NaN included


def _pack(x: np.ndarray) -> str:
    raw = np.ascontiguousarray(x, dtype="<f8").tobytes()
    return _F8 + base64.b64encode(zlib.compress(raw, 1)).decode()


def _unpack(s: str | list[Any]) -> np.ndarray:
    """Reads the packed form and, for documents stored by earlier versions, a list of numbers (None for
    NaN) or comma-separated floats."""
    if isinstance(s, list):
        return np.array([np.nan if v is None else v for v in s], dtype=float)
    if s.startswith(_F8):
        return np.frombuffer(zlib.decompress(base64.b64decode(s[len(_F8) :])), dtype="<f8").copy()
    return np.array([float(v) if v else np.nan for v in s.split(",")] if s else [], dtype=float)


@dataclass
class SessionState:
    """The rolling state of one session for ``symbols`` (every array has one element per symbol, in order).

    The price series is ``c_0`` = the first snapshot's last price (the opening print; its high and low are
    that price too), then ``c_k`` = the close of minute bar ``k`` (``k = bars``). Every indicator equals its
    vectorized twin in ``tron.domain.indicators`` (TA-Lib conventions, warm-up included) applied to that
    series: ATR(14) is ``indicators.atr`` on it (bar 1's true range uses ``c_0`` as the previous close),
    EMA(n) is defined from ``c_{n-1}``, RSI(n) from ``c_n``, MACD(f, s, g) from ``c_{s+g-2}``, Bollinger(n)
    from ``c_{n-1}``. A test replays bar series through the state (and through its stored form) and checks
    this.

    What is kept:

    * ``arrays`` (one float per symbol, each also readable as an attribute, e.g. ``state.atr``): the opening
      print ``first``, the ``last`` price, cumulative volume, the day's high/low, the opening range, VWAP
      sums, ATR(14), a running volume average, the VWAP side now and one bar ago, and the recursive
      indicators' values;
    * ``needs``: the indicators the planned strategies asked for (:meth:`require`), as keys: ``ema_N``,
      ``rsi_N``, ``macd_F_S_G``, ``rocema_N_M`` (an EMA of the N-bar rate of change) are recursive and keep
      their value and previous value per symbol (plus a seed sum during warm-up); ``win_N`` asks for a ring
      of the last N closes, highs and lows, from which windowed indicators (Bollinger, rate of change,
      rolling highs/lows) are computed on demand. Unused indicators cost nothing;
    * ``rings``: the latest closes, highs and lows, ``(ring, symbols)``, at least ``MIN_RING`` rows;
    * ``flags``: per strategy, the symbols it has already fired on.

    Reading an indicator the session does not keep raises ``ValueError``. Create one with :meth:`new`;
    store it with :meth:`to_doc` and :meth:`from_doc`.
    """

    symbols: list[str]
    bars: int = 0  # bars completed since the open
    last_ts: str | None = None  # the snapshot time last applied (ISO)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)  # per-strategy sets of symbols already fired
    or_minutes: int = 15
    needs: list[str] = field(default_factory=list)  # indicator keys kept (see the class docstring)
    rings: dict[str, np.ndarray] = field(default_factory=dict)  # (ring, symbols): closes, highs, lows

    @staticmethod
    def new(symbols: list[str], or_minutes: int = 15, needs: Any = DEFAULT_NEEDS) -> SessionState:
        """A session for ``symbols`` before its first snapshot, keeping the indicators ``needs`` names.

        The default, ``DEFAULT_NEEDS``, is what the ten strategies read with their default parameters. The
        opening range spans the first ``or_minutes`` bars. A malformed or unknown key raises ``ValueError``.
        """
        n = len(symbols)
        arrays = {k: np.full(n, np.nan) for k in _FLOAT_FIELDS}
        for k in ("cum_pv", "cum_v", "tr_sum", "vwap_side", "prev_vwap_side"):
            arrays[k] = np.zeros(n)
        st = SessionState(symbols=list(symbols), arrays=arrays, or_minutes=or_minutes)
        st.rings = {k: np.full((MIN_RING, n), np.nan) for k in _RING_KEYS}
        st.require(needs)
        return st

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    @property
    def vwap(self) -> np.ndarray:
        """The session VWAP per symbol (typical price × volume over volume); NaN while the volume is 0."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.arrays["cum_v"] > 0, self.arrays["cum_pv"] / self.arrays["cum_v"], np.nan)

    @property
    def ring(self) -> int:
        """How many of the latest closes/highs/lows are kept."""
        return int(self.rings["c"].shape[0])

    @property
    def t(self) -> int:
        """The index of the latest value of the series (-1 before the first snapshot)."""
        return -1 if self.last_ts is None else self.bars

    # ------------------------------------------------------------------ indicator registration
    def require(self, needs: Any) -> None:
        """Keep the indicators `needs` names from now on. Ones added after the first snapshot are warmed up
        by replaying the history in the ring buffer, which is complete only while the session is younger
        than the ring; later than that a ValueError says so (create the session with the needs instead)."""
        new = sorted(set(needs) - set(self.needs))
        if not new:
            return
        units = [u for k in new for u in _units(k)]  # validates the keys
        width = max([self.ring, *(_ring_need(k) for k in new)])
        t = self.t
        if t >= self.ring and (units or width > self.ring):
            raise ValueError(
                f"the session is {t} bars in and keeps only {self.ring} bars of history: cannot warm up "
                f"{', '.join(new)} now; plan the strategies before the open (SessionState.new(needs=…))"
            )
        if width > self.ring:  # not wrapped yet (t < ring): rows 0..t sit at their own index
            for k, r in self.rings.items():
                grown = np.full((width, r.shape[1]), np.nan)
                grown[: t + 1] = r[: t + 1]
                self.rings[k] = grown
        self.needs = sorted(set(self.needs) | set(new))
        for u in units:
            self.arrays[u.key] = self.arrays[f"{u.key}_prev"] = np.full(len(self.symbols), np.nan)
        units.sort(key=lambda u: u.phase)
        for tt in range(t + 1):
            self._step_units(units, tt)

    def _units(self) -> list[_Unit]:
        return sorted((u for k in self.needs for u in _units(k)), key=lambda u: u.phase)

    # ------------------------------------------------------------------ update
    def apply(self, snap: Snapshot) -> Bar | None:
        """Fold a snapshot in; returns the bar that just completed, or None for the first snapshot.

        The first snapshot (while no symbol has a price yet) sets ``c_0``. After it, each symbol's bar has
        open = the previous last price, close = the last price (the previous one when the snapshot has no
        quote for it), volume = the rise in cumulative volume (never negative; 0 without a quote), and
        high/low = the extremes of open and close, widened to the day's high/low when that moved during the
        minute (so a spike inside the minute is not lost). ``Bar.fresh`` marks the symbols whose quote time
        moved on since the previous snapshot.
        """
        since = datetime.fromisoformat(self.last_ts) if self.last_ts else None
        return self.fold(quote_rows(self.symbols, [snap], since).row(0), snap.ts)

    def fold(self, quotes: QuoteRow, at: datetime) -> Bar | None:
        """Fold one snapshot's quotes (as :func:`quote_rows` reads them), taken at ``at``, in (see
        :meth:`apply`)."""
        self.last_ts = at.isoformat()
        a = self.arrays
        last, cum, hi, lo, fresh = quotes
        if np.all(np.isnan(a["last"])):
            a["last"], a["cum_vol"], a["day_high"], a["day_low"] = last, cum, hi, lo
            a["first"] = last.copy()
            self._fold_series(last, last, last)
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
        self._fold_series(c, h, lw)
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

    def _fold_series(self, c: np.ndarray, h: np.ndarray, lo: np.ndarray) -> None:
        """Append c_t (t = bars) to the ring and advance the recursive indicators."""
        t = self.bars
        row = t % self.ring
        self.rings["c"][row], self.rings["h"][row], self.rings["lo"][row] = c, h, lo
        self._step_units(self._units(), t)

    def _source(self, u: _Unit, t: int) -> np.ndarray:
        if u.source == "close":
            return self.close_at(t)
        if u.source in ("gain", "loss"):
            d = self.close_at(t) - self.close_at(t - 1)
            return np.where(d > 0, d, 0.0) if u.source == "gain" else np.where(d < 0, -d, 0.0)
        if u.source.startswith("roc_"):
            n = int(u.source[4:])
            return 100.0 * (self.close_at(t) / self.close_at(t - n) - 1.0)
        return self.arrays[f"{u.source}_fast"] - self.arrays[f"{u.source}_slow"]  # a MACD line

    def _step_units(self, units: list[_Unit], t: int) -> None:
        a = self.arrays
        for u in units:
            a[f"{u.key}_prev"] = a[u.key]
            if t < u.first_input:
                continue
            x = self._source(u, t)
            acc = f"{u.key}_acc"
            if t < u.start:
                a[acc] = x.copy() if t == u.first_input else a[acc] + x
            elif t == u.start:
                a[u.key] = ((a.pop(acc) + x) if acc in a else x) / u.n
            elif u.wilder:
                a[u.key] = (a[u.key] * (u.n - 1) + x) / u.n
            else:
                a[u.key] = (x - a[u.key]) * (2.0 / (u.n + 1)) + a[u.key]

    # ------------------------------------------------------------------ reading indicators
    def close_at(self, t: int) -> np.ndarray:
        """c_t for a t still in the ring (NaN before the session's first value)."""
        if t < 0:
            return np.full(len(self.symbols), np.nan)
        if t > self.t or self.t - t >= self.ring:
            raise ValueError(f"c_{t} is not in the ring (now t={self.t}, ring of {self.ring})")
        return self.rings["c"][t % self.ring]

    def window(self, which: str, length: int, lag: int = 0) -> np.ndarray:
        """The `length` latest values ending `lag` bars ago, (length, symbols), oldest first; NaN rows where
        the session is too young. which: c (closes) | h (highs) | lo (lows). A ring shorter than
        ``length + lag`` raises ValueError."""
        if length + lag > self.ring:
            raise ValueError(
                f"a {length}-bar window {lag} bars back needs a ring of {length + lag}, have {self.ring}"
            )
        end = self.t - lag
        rows = np.arange(end - length + 1, end + 1)
        out = self.rings[which][rows % self.ring]
        out[rows < 0] = np.nan
        return out

    def ema(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """EMA(n) of the closes now and one bar ago."""
        k = f"ema_{n}"
        return self._get(k), self._get(f"{k}_prev")

    def rsi(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Wilder RSI(n) now and one bar ago (0 on a flat window, as TA-Lib)."""

        def value(g: np.ndarray, lo: np.ndarray) -> np.ndarray:
            total = g + lo
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(total != 0.0, 100.0 * (g / total), 0.0)  # NaN total stays NaN

        k = f"rsi_{n}"
        return (
            value(self._get(f"{k}_gain"), self._get(f"{k}_loss")),
            value(self._get(f"{k}_gain_prev"), self._get(f"{k}_loss_prev")),
        )

    def macd(
        self, fast: int, slow: int, signal: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(line, signal, histogram, histogram one bar ago), NaN until the signal line is defined."""
        k = f"macd_{fast}_{slow}_{signal}"
        sig, sig_prev = self._get(f"{k}_signal"), self._get(f"{k}_signal_prev")
        line = self._get(f"{k}_fast") - self._get(f"{k}_slow")
        line = np.where(np.isnan(sig), np.nan, line)
        line_prev = self._get(f"{k}_fast_prev") - self._get(f"{k}_slow_prev")
        return line, sig, line - sig, line_prev - sig_prev

    def roc(self, n: int, lag: int = 0) -> np.ndarray:
        """Rate of change over n bars, in %, `lag` bars ago."""
        w = self.window("c", n + 1, lag)
        return 100.0 * (w[-1] / w[0] - 1.0)

    def rocema(self, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """EMA(m) of the n-bar rate of change, now and one bar ago."""
        k = f"rocema_{n}_{m}"
        return self._get(k), self._get(f"{k}_prev")

    def bollinger(self, n: int, k: float, lag: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(upper, middle, lower): SMA(n) ± k population standard deviations, `lag` bars ago."""
        w = self.window("c", n, lag)
        mean = w.mean(axis=0)
        width = k * np.sqrt(np.maximum(((w - mean) ** 2).mean(axis=0), 0.0))
        return mean + width, mean, mean - width

    def highest(self, n: int, lag: int = 1) -> np.ndarray:
        """The highest high of the n bars ending `lag` bars ago (lag=1: the n bars before this one)."""
        return self.window("h", n, lag).max(axis=0)

    def lowest(self, n: int, lag: int = 1) -> np.ndarray:
        """The lowest low of the n bars ending `lag` bars ago (lag=1: the n bars before this one)."""
        return self.window("lo", n, lag).min(axis=0)

    def signals_ahead(self, choices: Sequence[Any]) -> list[Signal] | None:
        """The planned strategies' signals on the bar just folded, when the state knows them already (a
        backtest's session worked out ahead: tron.backtest.replay); None: run the strategies."""
        return None

    def _get(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise ValueError(f"indicator {key!r} is not kept by this session; require() it first")
        return self.arrays[key]

    # ------------------------------------------------------------------ storage
    def to_doc(self) -> dict[str, Any]:
        """The state as a document of plain values, for :meth:`from_doc` to read back.

        Every array is packed into one string: its little-endian float64 bytes, deflated (fast level) and
        base64-encoded. A stored and reloaded state continues bit for bit as the in-memory one (NaN
        included), the document stays compact (about 235 kB for 500 symbols with every default indicator,
        25 kB for 50; Firestore's limit is 1 MiB), packing costs about 12 ms for 500 symbols, and Firestore
        sees one field per array instead of one index entry per element (its limit is 40,000 per document).
        """
        return {
            "symbols": self.symbols,
            "bars": self.bars,
            "last_ts": self.last_ts,
            "or_minutes": self.or_minutes,
            "flags": {k: sorted(v) for k, v in self.flags.items()},
            "needs": list(self.needs),
            "ring": self.ring,
            "arrays": {k: _pack(v) for k, v in self.arrays.items()},
            "rings": {k: _pack(v) for k, v in self.rings.items()},
        }

    @staticmethod
    def from_doc(d: dict[str, Any]) -> SessionState:
        """The state a to_doc stored; a ValueError names what is unreadable or inconsistent.

        Documents stored by earlier versions (arrays as lists or comma-separated floats, no ring) are read
        too.
        """
        n = len(d["symbols"])
        ring = int(d.get("ring", MIN_RING))

        def read(where: str, v: Any, shape: tuple[int, ...]) -> np.ndarray:
            try:
                x = _unpack(v)
            except (ValueError, TypeError, zlib.error, binascii.Error) as e:
                raise ValueError(f"session document: {where} is not readable: {e}") from None
            if x.size != int(np.prod(shape)):
                raise ValueError(
                    f"session document: {where} has {x.size} values, expected {int(np.prod(shape))}"
                )
            return x.reshape(shape)

        stored = d.get("rings", {})
        return SessionState(
            symbols=list(d["symbols"]),
            bars=int(d["bars"]),
            last_ts=d.get("last_ts"),
            arrays={k: read(f"array {k!r}", v, (n,)) for k, v in d["arrays"].items()},
            flags={k: list(v) for k, v in d.get("flags", {}).items()},
            or_minutes=int(d.get("or_minutes", 15)),
            needs=list(d.get("needs", [])),
            rings={
                k: read(f"ring {k!r}", stored[k], (ring, n)) if k in stored else np.full((ring, n), np.nan)
                for k in _RING_KEYS
            },
        )
