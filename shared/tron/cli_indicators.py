"""`tron indicators`: compute the standard indicator set for one OHLCV CSV.

    tron indicators --data FILE.csv --out OUT.csv

Input columns: ``date,open,high,low,close,volume`` (others ignored), one row per bar, oldest first.
``date`` is ISO 8601 with or without an offset (``2026-11-20 09:15:00``, ``2026-11-20T09:15:00+05:30``
or Kite's ``2026-11-20T09:15:00+0530``); naive dates are IST. Sessions are IST calendar dates and
minutes since open are counted from 09:15 IST.

Output columns: ``date`` (the input text, unchanged) then sma_20, ema_20, rsi_14, macd, macd_signal,
macd_hist, bb_upper, bb_middle, bb_lower, atr_14, vwap, or_high_15, or_low_15; cells are empty where
an indicator is not yet defined. Bad input is reported on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tron.domain import indicators as ind
from tron.domain.timeutil import IST, MARKET_OPEN

REQUIRED_COLUMNS = ("date", "open", "high", "low", "close", "volume")
OUTPUT_COLUMNS = (
    "date",
    "sma_20",
    "ema_20",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_14",
    "vwap",
    "or_high_15",
    "or_low_15",
)
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """A problem with the input file, reported to the user as-is."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``indicators`` subcommand to the ``tron`` CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "indicators",
        help="compute SMA/EMA/RSI/MACD/Bollinger/ATR/VWAP/opening range for an OHLCV CSV",
        description=(
            "Read OHLCV bars (date,open,high,low,close,volume; naive dates are IST) and write the date "
            "plus sma_20, ema_20, rsi_14, macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, "
            "atr_14, vwap, or_high_15, or_low_15 (empty where not yet defined)."
        ),
    )
    parser.add_argument("--data", required=True, type=Path, help="input CSV: date,open,high,low,close,volume")
    parser.add_argument("--out", required=True, type=Path, help="output CSV path")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        frame = _read(Path(args.data))
        result = compute(frame)
    except InputError as exc:
        print(f"tron indicators: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        result.to_csv(Path(args.out), index=False, na_rep="")
    except OSError as exc:
        print(f"tron indicators: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"data file is empty: {path}") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s): {', '.join(missing)}")
    return frame


def _parse_time(text: str, row: int) -> datetime:
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"row {row}: unparsable date {text!r}") from exc
    return ts.replace(tzinfo=IST) if ts.tzinfo is None else ts.astimezone(IST)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna() & (frame[column].str.strip() != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"row {row + 2}: column {column!r} is not a number: {frame[column].iloc[row]!r}")
    return values.to_numpy(dtype=np.float64)


def compute(frame: pd.DataFrame) -> pd.DataFrame:
    """Indicator table for an OHLCV frame of strings (as read from the CSV). Raises InputError."""
    dates = frame["date"].astype(str)
    # Row numbers in messages count the header as line 1.
    stamps = [_parse_time(text, i + 2) for i, text in enumerate(dates)]
    for i in range(1, len(stamps)):
        if stamps[i] <= stamps[i - 1]:
            raise InputError(
                f"row {i + 2}: dates must be strictly increasing ({dates.iloc[i - 1]!r} then {dates.iloc[i]!r})"
            )
    high, low, close, volume = (_numeric(frame, c) for c in ("high", "low", "close", "volume"))
    _numeric(frame, "open")  # validated for consistency, not used by these indicators

    session = np.array([ts.date().toordinal() for ts in stamps], dtype=np.int64)
    open_minute = MARKET_OPEN.hour * 60 + MARKET_OPEN.minute
    minutes = np.array(
        [ts.hour * 60 + ts.minute + ts.second / 60.0 - open_minute for ts in stamps], dtype=np.float64
    )

    macd_line, macd_signal, macd_hist = ind.macd(close, 12, 26, 9)
    bb_upper, bb_middle, bb_lower = ind.bollinger(close, 20, 2.0)
    or_high, or_low = ind.opening_range(high, low, session, minutes, 15)
    columns: dict[str, np.ndarray] = {
        "sma_20": ind.sma(close, 20),
        "ema_20": ind.ema(close, 20),
        "rsi_14": ind.rsi(close, 14),
        "macd": macd_line,
        "macd_signal": macd_signal,
        "macd_hist": macd_hist,
        "bb_upper": bb_upper,
        "bb_middle": bb_middle,
        "bb_lower": bb_lower,
        "atr_14": ind.atr(high, low, close, 14),
        "vwap": ind.vwap(high, low, close, volume, session),
        "or_high_15": or_high,
        "or_low_15": or_low,
    }
    out = pd.DataFrame({"date": dates.to_numpy()})
    for name, values in columns.items():
        out[name] = values
    return out.loc[:, list(OUTPUT_COLUMNS)]
