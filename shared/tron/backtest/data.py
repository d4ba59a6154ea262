"""Loaders: OHLCV bars (CSV or Parquet files, one symbol each, or folders of a symbol's month files) and
recorded replay files, turned into the sessions of snapshots the live tick sees (:class:`Session`);
simulated days come from tron.backtest.generated."""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, overload

import numpy as np

from tron.backtest import bars_csv, bars_parquet
from tron.backtest.errors import InputError
from tron.domain.models import Candle, Instrument, Quote, Snapshot
from tron.domain.timeutil import IST

__all__ = [
    "BarSessions",
    "Bars",
    "InputError",
    "Session",
    "checked",
    "load",
    "read_csv",
    "read_months",
    "read_parquet",
    "read_replay",
    "sessions_from_bars",
]

_MONTH = re.compile(r"\d{4}-\d{2}")  # a month file's stem (YYYY-MM.parquet, as `tron data fetch` writes)


@dataclass
class Bars:
    """One symbol's OHLCV bars, oldest first; times are the bars' start, timezone-aware IST."""

    symbol: str
    times: list[datetime]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.times)
        for name in ("open", "high", "low", "close", "volume"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise InputError(f"{self.symbol}: {name} has shape {arr.shape}, expected ({n},)")
            setattr(self, name, arr)

    def __len__(self) -> int:
        return len(self.times)


@dataclass
class Session:
    """One trading day as the tick sees it: the snapshots in order, the tick's clock time of each, (for
    bars) the open of the bar that starts at each snapshot — what a next-bar-open fill pays — and the minute
    candles per symbol that resting stops are worked against (every bar, a symbol's made when first asked
    for; a replay's recorded candles; a simulated day's, read when first asked for).

    A simulated day (tron.backtest.generated) also brings the instruments its tick follows (F&O: lot size,
    expiry, strike, option type) and their roles as the tick's state keeps them: ``underlying`` (the
    future) and ``spot`` (the index). Without instruments the backtester lists the symbols as NSE cash
    instruments (tron.backtest.engine.default_instruments)."""

    day: date
    snapshots: list[Snapshot]
    nows: list[datetime]
    next_open: list[dict[str, float]] | None = None
    symbols: list[str] = field(default_factory=list)
    candles: Mapping[str, list[Candle]] = field(default_factory=dict)
    instruments: dict[str, Instrument] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # "underlying", "spot" → symbol (F&O)


def read_csv(path: Path, symbol: str | None = None) -> Bars:
    """One symbol's bars from an OHLCV CSV; InputError names the file and row of any problem.

    The format is tron.backtest.bars_csv's (also the reader of `tron indicators`):
    ``date,open,high,low,close,volume``, the date with or without ``+05:30`` (Kite's ``+0530`` too; naive
    dates are IST). Dates must be strictly increasing, prices positive and volumes ≥ 0 (:func:`checked`;
    row 1 is the header). The symbol defaults to the file stem.
    """
    stamps, cols = bars_csv.read_columns(path)
    return checked(path, symbol or path.stem, stamps, cols, first_row=2)


def read_parquet(path: Path, symbol: str | None = None) -> Bars:
    """One symbol's bars from an OHLCV Parquet file (tron.backtest.bars_parquet's columns), checked as a
    CSV's are (:func:`checked`; row 1 is the first bar). The symbol defaults to the file stem, or for a
    month file (``YYYY-MM.parquet``) to its folder's name."""
    stamps, cols = bars_parquet.read_columns(path)
    name = symbol or (path.parent.name if _MONTH.fullmatch(path.stem) else path.stem)
    return checked(path, name, stamps, cols, first_row=1)


def checked(
    path: Path, symbol: str, stamps: np.ndarray, cols: Mapping[str, np.ndarray], first_row: int
) -> Bars:
    """Bars from a file's columns (UTC instants and float64 numbers), after the checks every format shares,
    each naming the file and the first bad row (bar i is row ``first_row + i``): times strictly
    increasing (a repeated time named as such), prices finite and positive (NaN: an empty cell), volumes
    finite and ≥ 0."""
    steps = np.diff(stamps.astype("datetime64[us]").astype(np.int64))
    if steps.size and (bad := np.flatnonzero(steps <= 0)).size:
        i = int(bad[0]) + 1
        t, before = (bars_csv.ist_times(stamps[k : k + 1])[0] for k in (i, i - 1))
        why = f"{t} repeats row {i - 1 + first_row}" if t == before else f"{t} follows {before}"
        raise InputError(f"{path}: row {i + first_row}: dates must be strictly increasing ({why})")
    for c in ("open", "high", "low", "close"):
        bad = np.flatnonzero(~(np.isfinite(cols[c]) & (cols[c] > 0)))  # NaN (an empty cell) or not positive
        if bad.size:
            raise InputError(f"{path}: row {int(bad[0]) + first_row}: column {c!r} must be a positive price")
    vol = cols["volume"]
    bad = np.flatnonzero(~(np.isfinite(vol) & (vol >= 0)))
    if bad.size:
        raise InputError(f"{path}: row {int(bad[0]) + first_row}: column 'volume' must be a number ≥ 0")
    return Bars(
        symbol, bars_csv.ist_times(stamps), cols["open"], cols["high"], cols["low"], cols["close"], vol
    )


def read_replay(path: Path) -> list[Session]:
    """Sessions from a recorded replay file (JSON lines of the tick); InputError names the line.

    The lines are those `services/tick.py` archives under ``replay/{day}/{asset}.jsonl``: one snapshot per
    tick with the tick's clock time ("now"), which decides the session's day, and the minute candle just
    closed of each symbol held ("bars"), which resting stops are worked against. Sessions come oldest first.
    """
    if not path.is_file():
        raise InputError(f"replay file not found: {path}")
    by_day: dict[date, Session] = {}
    recorded: dict[date, dict[str, list[Candle]]] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                ts = _aware(rec["ts"])
                now = _aware(rec.get("now", rec["ts"]))
                quotes = {s: _in_ist(Quote.from_row(s, q)) for s, q in rec["quotes"].items()}
                candles = {s: _candle(row) for s, row in rec.get("bars", {}).items()}
            except (ValueError, KeyError, TypeError, IndexError) as e:
                raise InputError(
                    f"{path}: line {n}: not a replay snapshot ({type(e).__name__}: {e})"
                ) from None
            day = now.date()
            if (sess := by_day.get(day)) is None:
                sess = by_day[day] = Session(day, [], [], candles=recorded.setdefault(day, {}))
            sess.snapshots.append(Snapshot(ts, quotes))
            sess.nows.append(now)
            for s in quotes:
                if s not in sess.symbols:
                    sess.symbols.append(s)
            for s, c in candles.items():
                known = recorded[day].setdefault(s, [])
                if not known or known[-1].start < c.start:
                    known.append(c)
    if not by_day:
        raise InputError(f"{path}: no snapshots")
    return [by_day[d] for d in sorted(by_day)]


def _candle(row: list[Any]) -> Candle:
    """A recorded candle: [start, open, high, low, close, volume]."""
    return Candle(_aware(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[4]), int(row[5]))


def _in_ist(q: Quote) -> Quote:
    return replace(q, ts=q.ts.astimezone(IST))


def _aware(text: str) -> datetime:
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        raise ValueError(f"naive time stamp {text!r}")
    return ts.astimezone(IST)


def load(path: Path) -> list[Bars]:
    """Bars from one file or a folder, one :class:`Bars` per symbol.

    A file: a CSV (:func:`read_csv`) or a ``.parquet`` file (:func:`read_parquet`). A folder: each
    ``*.csv`` and ``*.parquet`` file in it is a symbol (named by its stem), and each sub-folder holding
    month files ``YYYY-MM.parquet`` (the layout of `tron data fetch`: ``<root>/<SYMBOL>/<YYYY-MM>.parquet``)
    is a symbol named by the sub-folder, its months read in order and joined (:func:`read_months`); a
    folder of month files is that one symbol. Other files and folders are ignored. Symbols come in the
    order of their file or folder names; a symbol found twice is an InputError.
    """
    if not path.is_dir():
        if not path.is_file():
            raise InputError(f"data file not found: {path}")
        if path.suffix.lower() == ".parquet":
            return [read_parquet(path)]
        return [read_csv(path)]
    if _months(path):
        return [read_months(path)]
    found: dict[str, Path] = {}
    for p in sorted(path.iterdir(), key=lambda p: p.name):
        kind = p.suffix.lower() if p.is_file() else "months" if p.is_dir() and _months(p) else None
        if kind not in (".csv", ".parquet", "months"):
            continue
        name = p.name if kind == "months" else p.stem
        if name in found:
            raise InputError(f"{path}: symbol {name} twice ({found[name].name} and {p.name})")
        found[name] = p
    if not found:
        raise InputError(
            f"no *.csv files, *.parquet files or symbol folders of YYYY-MM.parquet months in {path}"
        )
    return [
        read_months(p) if p.is_dir() else read_parquet(p) if p.suffix.lower() == ".parquet" else read_csv(p)
        for p in found.values()
    ]


def _months(folder: Path) -> list[Path]:
    """A folder's month files (``YYYY-MM.parquet``), oldest first."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() == ".parquet" and _MONTH.fullmatch(p.stem) and p.is_file()
    )


def read_months(folder: Path, symbol: str | None = None) -> Bars:
    """One symbol's bars from a folder of month files (``YYYY-MM.parquet``), joined oldest first; each file
    is checked as :func:`read_parquet` checks it, and each month's first bar must come after the last bar
    of the month before (InputError naming both files)."""
    months = _months(folder)
    if not months:
        raise InputError(f"no YYYY-MM.parquet files in {folder}")
    name = symbol or folder.name
    parts = [read_parquet(p, name) for p in months]
    for (prev, a), (cur, b) in pairwise(zip(months, parts, strict=True)):
        if b.times[0] <= a.times[-1]:
            raise InputError(
                f"{cur}: row 1: dates must be strictly increasing ({b.times[0]} is not after "
                f"{a.times[-1]}, the last bar of {prev.name})"
            )
    if len(parts) == 1:
        return parts[0]
    return Bars(
        name,
        [t for b in parts for t in b.times],
        *(np.concatenate([getattr(b, c) for b in parts]) for c in ("open", "high", "low", "close", "volume")),
    )


def sessions_from_bars(bars: Sequence[Bars]) -> BarSessions:
    """The snapshots of every IST session in the bars, one :class:`Session` per date, oldest first, each
    made when asked for (a year of fifty symbols' snapshots and candles would take gigabytes at once).

    Bars become snapshots as the simulator's quotes are (tron.sim.market): a session's first snapshot is
    taken at its first bar's start and shows the opening price with no volume; snapshot k (k ≥ 1) is taken
    at the end of bar k − 1 and shows its close as the last price, the day's cumulative volume and the day's
    high and low so far. The live SessionState rebuilds each minute bar from two consecutive snapshots,
    exactly as in a paper day. Bid and ask equal the last price (bars carry no spread: the fill model adds
    slippage); the previous close is the symbol's last bar before the day (else the day's open). A symbol
    with no bar at a time keeps its previous quote, with its old time stamp, so the tick treats it as stale.
    Duplicate symbols raise InputError.
    """
    symbols = [b.symbol for b in bars]
    if len(set(symbols)) != len(symbols):
        raise InputError(f"duplicate symbols: {sorted(s for s in symbols if symbols.count(s) > 1)}")
    per_day: dict[date, list[tuple[int, slice]]] = {}
    for j, b in enumerate(bars):  # oldest first: each day's bars follow one another
        i, n = 0, len(b.times)
        while i < n:
            day = b.times[i].date()
            end = bisect_right(b.times, day.toordinal(), lo=i, key=lambda t: t.date().toordinal())
            per_day.setdefault(day, []).append((j, slice(i, end)))
            i = end
    return BarSessions(bars, [(day, per_day[day]) for day in sorted(per_day)])


class BarSessions(Sequence[Session]):
    """The sessions of some bars (:func:`sessions_from_bars`), each made from the bars when asked for."""

    def __init__(self, bars: Sequence[Bars], days: list[tuple[date, list[tuple[int, slice]]]]) -> None:
        self._bars, self._days = bars, days

    def __len__(self) -> int:
        return len(self._days)

    @property
    def days(self) -> list[date]:
        """Each session's day, oldest first (none made)."""
        return [d for d, _ in self._days]

    def between(self, first: date, last: date) -> BarSessions:
        """The sessions from ``first`` to ``last`` (both included), still made when asked for."""
        return BarSessions(self._bars, [(d, m) for d, m in self._days if first <= d <= last])

    @overload
    def __getitem__(self, i: int) -> Session: ...

    @overload
    def __getitem__(self, i: slice) -> list[Session]: ...

    def __getitem__(self, i: int | slice) -> Session | list[Session]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        day, members = self._days[i]
        bars = self._bars
        prev_close = {
            bars[j].symbol: float(bars[j].close[rows.start - 1]) for j, rows in members if rows.start
        }
        return _session(day, bars, members, prev_close)


def _session(
    day: date, bars: Sequence[Bars], members: list[tuple[int, slice]], prev_close: dict[str, float]
) -> Session:
    own = [bars[j].times[rows] for j, rows in members]
    times = sorted(set().union(*own))
    pos = {t: k for k, t in enumerate(times)}
    n, m = len(times), len(members)
    o, h, lo, c, v = (np.full((n, m), np.nan) for _ in range(5))
    syms = []
    for col, (j, rows) in enumerate(members):
        b = bars[j]
        syms.append(b.symbol)
        at = np.array([pos[t] for t in own[col]])
        o[at, col], h[at, col], lo[at, col] = b.open[rows], b.high[rows], b.low[rows]
        c[at, col], v[at, col] = b.close[rows], b.volume[rows]
    diffs = [(b - a) for a, b in pairwise(times)]
    period = min(diffs) if diffs else timedelta(minutes=1)
    has = ~np.isnan(c)
    cum_vol = np.cumsum(np.nan_to_num(v), axis=0)
    day_high = np.fmax.accumulate(h, axis=0)
    day_low = np.fmin.accumulate(lo, axis=0)

    # as flat lists of Python numbers (the same values; row k's at k·m …) for the loop below: a year of fifty
    # symbols has 4.7 million quotes
    opens, closes, highs, lows = (x.ravel().tolist() for x in (o, c, day_high, day_low))
    volumes = np.rint(cum_vol).astype(np.int64).ravel().tolist()  # whole numbers, as round() makes them
    every = list(range(m))
    quoted = [every if full else np.flatnonzero(has[k]).tolist() for k, full in enumerate(has.all(axis=1))]
    # each symbol's open of the day (its first bar's) and previous close (else that open)
    ops = [opens[row * m + col] for col, row in enumerate(has.argmax(axis=0).tolist())]
    prevs = [prev_close.get(s, op) for s, op in zip(syms, ops, strict=True)]
    t0 = times[0]
    current = {}  # each symbol's latest quote
    for col in quoted[0]:  # the opening print: no volume yet
        s, p = syms[col], ops[col]
        current[s] = Quote(s, t0, p, p, p, 0, p, p, p, prevs[col])
    snapshots, next_open = [Snapshot(t0, dict(current))], []
    for k in range(n):
        ts, row, cols = times[k] + period, k * m, quoted[k]
        for col in cols:
            i = row + col
            last = closes[i]
            current[syms[col]] = Quote(
                syms[col], ts, last, last, last, volumes[i], ops[col], highs[i], lows[i], prevs[col]
            )
        next_open.append({syms[col]: opens[row + col] for col in cols})
        snapshots.append(Snapshot(ts, dict(current)))
    next_open.append({})
    candles = _Candles(times, syms, (o, h, lo, c, v), has)
    return Session(day, snapshots, [s.ts for s in snapshots], next_open, syms, candles)


class _Candles(Mapping[str, list[Candle]]):
    """A session's minute candles per symbol, made from its bars the first time a symbol is asked for
    (resting stops read only the symbols held)."""

    def __init__(
        self, times: list[datetime], symbols: list[str], ohlcv: tuple[np.ndarray, ...], has: np.ndarray
    ):
        self._times, self._cols = times, {s: col for col, s in enumerate(symbols)}
        self._ohlcv, self._has = ohlcv, has
        self._made: dict[str, list[Candle]] = {}

    def __getitem__(self, symbol: str) -> list[Candle]:
        if symbol not in self._made:
            col = self._cols[symbol]  # KeyError for a symbol the session does not have
            rows = np.flatnonzero(self._has[:, col])
            starts = [self._times[k] for k in rows.tolist()]
            o, h, lo, c = (x[rows, col].tolist() for x in self._ohlcv[:4])
            volumes = self._ohlcv[4][rows, col].astype(np.int64).tolist()  # whole, as int() makes them
            self._made[symbol] = list(map(Candle, starts, o, h, lo, c, volumes))
        return self._made[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    def __len__(self) -> int:
        return len(self._cols)
