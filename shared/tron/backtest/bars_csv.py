"""OHLCV bar files: ``date,open,high,low,close,volume`` (others ignored), one row per bar, oldest first.
``date`` is ISO 8601 with or without an offset (``2026-11-20 09:15:00``, ``2026-11-20T09:15:00+05:30`` or
Kite's ``+0530``); naive dates are IST. Read by the backtester and by `tron indicators`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from tron.domain.timeutil import IST

REQUIRED_COLUMNS = ("date", "open", "high", "low", "close", "volume")


class InputError(Exception):
    """A problem with an input file, reported to the user as it is (the file and row named)."""


def read_frame(path: Path) -> pd.DataFrame:
    """The file's cells as strings, lower-cased column names; InputError if it cannot be read or lacks a
    required column."""
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


def parse_time(text: str, row: int) -> datetime:
    """A bar's time, timezone-aware IST (naive times are IST); InputError names the row."""
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"row {row}: unparsable date {text!r}") from exc
    return ts.replace(tzinfo=IST) if ts.tzinfo is None else ts.astimezone(IST)


def numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 (empty cells NaN); InputError names the first row that is not a number (row 1 is
    the header)."""
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna() & (frame[column].str.strip() != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"row {row + 2}: column {column!r} is not a number: {frame[column].iloc[row]!r}")
    return values.to_numpy(dtype=np.float64)
