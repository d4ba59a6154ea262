"""Loaders: OHLCV CSV files (one per symbol) and recorded replay files, turned into the sessions of
snapshots the live tick sees (:class:`Session`); simulated days come from tron.backtest.generated."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from tron.backtest.bars_csv import InputError, numeric, parse_time, read_frame
from tron.domain.models import Candle, Instrument, Quote, Snapshot
from tron.domain.timeutil import IST

__all__ = ["Bars", "InputError", "Session", "load", "read_csv", "read_replay", "sessions_from_bars"]


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
    candles per symbol that resting stops are worked against (every bar; a replay's recorded candles; a
    simulated day's, read when first asked for).

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
    dates are IST). Dates must be strictly increasing, prices positive and volumes ≥ 0. The symbol defaults
    to the file stem.
    """
    frame = read_frame(path)
    if len(frame) == 0:
        raise InputError(f"{path}: no rows")
    try:
        times = [parse_time(text, i + 2) for i, text in enumerate(frame["date"].astype(str))]
        cols = {c: numeric(frame, c) for c in ("open", "high", "low", "close", "volume")}
    except InputError as e:
        raise InputError(f"{path}: {e}") from None
    for i in range(1, len(times)):
        if times[i] <= times[i - 1]:
            raise InputError(f"{path}: row {i + 2}: dates must be strictly increasing")
    for c in ("open", "high", "low", "close"):
        bad = np.flatnonzero(~(cols[c] > 0))  # NaN (an empty cell) or not positive
        if bad.size:
            raise InputError(f"{path}: row {int(bad[0]) + 2}: column {c!r} must be a positive price")
    vol = cols["volume"]
    if np.any(np.isnan(vol)) or np.any(vol < 0):
        row = int(np.flatnonzero(np.isnan(vol) | (vol < 0))[0]) + 2
        raise InputError(f"{path}: row {row}: column 'volume' must be a number ≥ 0")
    return Bars(symbol or path.stem, times, cols["open"], cols["high"], cols["low"], cols["close"], vol)


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
    """Bars from a CSV file or a folder of CSV files (one per symbol, named by the file stem)."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if not files:
            raise InputError(f"no *.csv files in {path}")
        return [read_csv(f) for f in files]
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    return [read_csv(path)]


def sessions_from_bars(bars: Sequence[Bars]) -> list[Session]:
    """The snapshots of every IST session in the bars, one :class:`Session` per date, oldest first.

    Bars become snapshots as the simulator's quotes are (tron.sim.market): a session's first snapshot is
    taken at its first bar's start and shows the opening price with no volume; snapshot k (k ≥ 1) is taken
    at the end of bar k − 1 and shows its close as the last price, the day's cumulative volume and the day's
    high and low so far. The live SessionState rebuilds each minute bar from two consecutive snapshots,
    exactly as in a paper day. Bid and ask equal the last price (bars carry no spread: the fill model adds
    slippage). A symbol with no bar at a time keeps its previous quote, with its old time stamp, so the tick
    treats it as stale. Duplicate symbols raise InputError.
    """
    symbols = [b.symbol for b in bars]
    if len(set(symbols)) != len(symbols):
        raise InputError(f"duplicate symbols: {sorted(s for s in symbols if symbols.count(s) > 1)}")
    per_day: dict[date, list[tuple[int, np.ndarray]]] = {}
    for j, b in enumerate(bars):
        days = np.array([t.date().toordinal() for t in b.times])
        for d in np.unique(days):
            per_day.setdefault(date.fromordinal(int(d)), []).append((j, np.flatnonzero(days == d)))
    prev_close: dict[str, float] = {}
    out = []
    for day in sorted(per_day):
        out.append(_session(day, bars, per_day[day], prev_close))
    return out


def _session(
    day: date, bars: Sequence[Bars], members: list[tuple[int, np.ndarray]], prev_close: dict[str, float]
) -> Session:
    times = sorted({bars[j].times[int(i)] for j, rows in members for i in rows})
    pos = {t: k for k, t in enumerate(times)}
    n, m = len(times), len(members)
    o, h, lo, c, v = (np.full((n, m), np.nan) for _ in range(5))
    syms = []
    for col, (j, rows) in enumerate(members):
        b = bars[j]
        syms.append(b.symbol)
        at = np.array([pos[b.times[int(i)]] for i in rows])
        o[at, col], h[at, col], lo[at, col] = b.open[rows], b.high[rows], b.low[rows]
        c[at, col], v[at, col] = b.close[rows], b.volume[rows]
    diffs = [(b - a) for a, b in pairwise(times)]
    period = min(diffs) if diffs else timedelta(minutes=1)
    has = ~np.isnan(c)
    cum_vol = np.cumsum(np.nan_to_num(v), axis=0)
    day_high = np.fmax.accumulate(h, axis=0)
    day_low = np.fmin.accumulate(lo, axis=0)

    first_open = {syms[col]: float(o[0, col]) for col in range(m) if has[0, col]}
    snapshots, next_open = [], []
    t0 = times[0]
    current: dict[str, Quote] = {
        s: Quote(s, t0, p, p, p, 0, p, p, p, prev_close.get(s, p)) for s, p in first_open.items()
    }
    snapshots.append(Snapshot(t0, dict(current)))
    day_open: dict[str, float] = dict(first_open)
    for k in range(n):
        next_open.append({syms[col]: float(o[k, col]) for col in range(m) if has[k, col]})
        ts = times[k] + period
        for hit in np.flatnonzero(has[k]):
            col = int(hit)
            s = syms[col]
            last = float(c[k, col])
            op = day_open.setdefault(s, float(o[k, col]))
            current[s] = Quote(
                s,
                ts,
                last,
                last,
                last,
                round(cum_vol[k, col]),
                op,
                float(day_high[k, col]),
                float(day_low[k, col]),
                prev_close.get(s, op),
            )
        snapshots.append(Snapshot(ts, dict(current)))
    next_open.append({})
    for s, q in current.items():
        prev_close[s] = q.last
    candles = {
        syms[col]: [
            Candle(
                times[k],
                float(o[k, col]),
                float(h[k, col]),
                float(lo[k, col]),
                float(c[k, col]),
                int(v[k, col]),
            )
            for k in range(n)
            if has[k, col]
        ]
        for col in range(m)
    }
    return Session(day, snapshots, [s.ts for s in snapshots], next_open, syms, candles)
