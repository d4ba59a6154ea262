"""OHLCV bar files in CSV: ``date,open,high,low,close,volume`` (any order, any case; other columns
ignored), one row per bar, oldest first. ``date`` is ISO 8601 with or without an offset
(``2026-11-20 09:15:00``, ``2026-11-20T09:15:00+05:30`` or Kite's ``+0530``); naive dates are IST. Read
by the backtester (:func:`read_columns`, through tron.backtest.data) and by `tron indicators`.

A clean file is read without Python per row: numpy's C reader for the cells and :func:`parse_times` for
the dates (column arithmetic on the bytes). A file it refuses is read again cell by cell to name the first
bad row; row numbers count the header as row 1.
"""

from __future__ import annotations

import csv
import math
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tron.backtest.errors import InputError
from tron.domain.timeutil import IST

if TYPE_CHECKING:
    import pandas as pd

REQUIRED_COLUMNS = ("date", "open", "high", "low", "close", "volume")
NUMBER_COLUMNS = REQUIRED_COLUMNS[1:]
IST_OFFSET_US = (5 * 60 + 30) * 60 * 1_000_000  # IST is UTC+05:30 (no daylight saving since 1945)
_DATE_WIDTH = 48  # bytes kept per date cell by the fast reader; a longer cell goes to the slow one


def read_columns(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The file's bar times (UTC instants, ``datetime64[us]``) and its number columns (float64, an empty
    cell NaN), unchecked beyond their syntax. InputError (the file named) if the file cannot be read, has
    no rows or lacks a column, or for the first unparsable date or cell that is not a number."""
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    try:
        return _read(path)
    except InputError as e:
        raise InputError(f"{path}: {e}") from None


def _read(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except (UnicodeDecodeError, OSError, csv.Error) as exc:
        raise InputError(f"cannot read the header: {exc}") from None
    if not header:
        raise InputError("the file is empty")
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}")
    at = {c: names.index(c) for c in REQUIRED_COLUMNS}
    fast = _fast_cells(path, at)
    if fast is None:  # something the C reader refused: read cell by cell to name it
        dates, numbers = _slow_cells(path, at, len(names))
    else:
        dates, numbers = fast
    if len(dates) == 0:
        raise InputError("no rows")
    return parse_times(dates, first_row=2), numbers


def _fast_cells(path: Path, at: dict[str, int]) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """The date cells (bytes) and the number columns by numpy's C reader, or None if it refuses a cell."""
    dtype = np.dtype([("date", f"S{_DATE_WIDTH}"), *((c, np.float64) for c in NUMBER_COLUMNS)])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported as no rows
            table = np.loadtxt(
                path,
                delimiter=",",
                skiprows=1,
                usecols=[at[c] for c in REQUIRED_COLUMNS],
                dtype=dtype,
                comments=None,
                quotechar='"',
                encoding="utf-8",
                ndmin=1,
            )
    except (ValueError, UnicodeError):
        return None
    dates = table["date"]
    if len(dates) and np.strings.str_len(dates).max() >= _DATE_WIDTH:
        return None  # a cell as wide as the field may have been cut
    return dates, {c: np.ascontiguousarray(table[c]) for c in NUMBER_COLUMNS}


def _slow_cells(path: Path, at: dict[str, int], width: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The same cells by the csv module, naming the first row that is ragged or not a number (after the
    dates: a file with both reports its first bad date, as the fast path would)."""
    rows: list[list[str]] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for row in reader:
                if not row:  # a blank line, skipped (it does not count as a row)
                    continue
                if len(row) != width:
                    raise InputError(f"row {len(rows) + 2}: {len(row)} fields, the header has {width}")
                rows.append(row)
    except (UnicodeDecodeError, OSError, csv.Error) as exc:
        raise InputError(f"cannot read row {len(rows) + 2}: {exc}") from None
    dates = np.array([r[at["date"]].encode() for r in rows], dtype=bytes)
    if len(rows):
        parse_times(dates, first_row=2)  # the first unparsable date, before any number
    numbers = {}
    for c in NUMBER_COLUMNS:
        values = np.empty(len(rows))
        for i, r in enumerate(rows):
            values[i] = _number(r[at[c]], c, i + 2)
        numbers[c] = values
    return dates, numbers


def _number(text: str, column: str, row: int) -> float:
    """A cell as a float (empty: NaN); InputError names the row and the column."""
    t = text.strip()
    if not t:
        return math.nan
    try:
        if "_" in t:  # Python reads 1_000, numpy's reader does not: refused by both
            raise ValueError(t)
        return float(t)
    except ValueError:
        raise InputError(f"row {row}: column {column!r} is not a number: {text!r}") from None


def parse_times(cells: np.ndarray, first_row: int) -> np.ndarray:
    """UTC instants (``datetime64[us]``) of ISO 8601 date cells (a bytes array), naive ones being IST;
    InputError ``row N: unparsable date …`` for the first bad cell (cell i is row ``first_row + i``).

    The common spellings, ``YYYY-MM-DD[( |T)hh:mm[:ss[.f…]]]`` with no offset, ``Z``, ``±hh:mm`` or
    ``±hhmm`` (surrounding blanks allowed), are read by arithmetic on columns of bytes, the cells of one
    length and offset spelling at a time (a file usually has one); a cell outside them (or out of range:
    month 13, 24:00) is read by :func:`parse_time` (``datetime.fromisoformat``), so every spelling that
    reads has one meaning.
    """
    s = np.strings.strip(np.asarray(cells, dtype=bytes))
    n = len(s)
    stamps = np.zeros(n, dtype="datetime64[us]")
    ok = np.zeros(n, dtype=bool)
    if n == 0:
        return stamps
    length = np.strings.str_len(s)
    shortest, longest = int(length.min()), int(length.max())
    # byte k of every cell in row k: each position one contiguous array
    t = np.ascontiguousarray(s.view(np.uint8).reshape(n, s.dtype.itemsize)[:, :longest].T)
    for size in [longest] if shortest == longest else np.unique(length).tolist():
        rows = slice(None) if shortest == longest else np.flatnonzero(length == size)
        group = t[:size, rows]
        left = np.ones(group.shape[1], dtype=bool)  # the cells whose offset spelling is not yet read
        for tz in _OFFSETS:
            form = left & _offset_form(group, size, tz)
            if not form.any():
                continue
            left &= ~form
            part = group if form.all() else group[:, form]
            us, good = _naive_us(part, size - tz)
            us -= _offset_us(part, size, tz)
            at = np.arange(n)[rows] if form.all() else np.arange(n)[rows][form]
            stamps[at], ok[at] = us.astype("datetime64[us]"), good
    for i in np.flatnonzero(~ok):  # a spelling outside the common ones (none in a usual file)
        text = s[i].decode("utf-8", "replace")
        utc = parse_time(text, first_row + int(i)).astimezone(UTC).replace(tzinfo=None)
        stamps[i] = np.datetime64(utc, "us")
    return stamps


_OFFSETS = (6, 5, 1, 0)  # the offset's length: ±hh:mm, ±hhmm, Z, none (IST: the cells left)


def _digits(g: np.ndarray, *positions: int) -> np.ndarray:
    """Whether the cells have a digit at every position."""
    out = np.ones(g.shape[1], dtype=bool)
    for p in positions:
        out &= (g[p] - 48) < 10  # uint8: a byte below "0" wraps around
    return out


def _value(g: np.ndarray, *positions: int) -> np.ndarray:
    v = np.zeros(g.shape[1], dtype=np.int64)
    for p in positions:
        v = v * 10 + (g[p].astype(np.int64) - 48)
    return v


def _offset_form(g: np.ndarray, size: int, tz: int) -> np.ndarray:
    """Whether cells of ``size`` bytes end with an offset of length ``tz`` after at least YYYY-MM-DDThh:mm
    (0: none, the cells not read as another form)."""
    if tz == 0:
        return np.ones(g.shape[1], dtype=bool)
    start = size - tz
    if start < 16:
        return np.zeros(g.shape[1], dtype=bool)
    if tz == 1:
        return g[start] == 90  # Z
    sign = (g[start] == 43) | (g[start] == 45)
    if tz == 6:
        return sign & (g[start + 3] == 58) & _digits(g, start + 1, start + 2, start + 4, start + 5)
    return sign & _digits(g, start + 1, start + 2, start + 3, start + 4)


def _offset_us(g: np.ndarray, size: int, tz: int) -> np.ndarray | int:
    """The offset from UTC of cells of ``size`` bytes ending with an offset of length ``tz``."""
    if tz == 0:
        return IST_OFFSET_US
    if tz == 1:
        return 0
    start = size - tz
    minutes = _value(g, start + 1, start + 2) * 60 + _value(g, size - 2, size - 1)
    return np.where(g[start] == 45, -minutes, minutes) * 60_000_000


def _naive_us(g: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since 1970-01-01 of the wall times in the first ``end`` bytes of the cells,
    ``YYYY-MM-DD[( |T)hh:mm[:ss[.f{1,6}]]]``, and whether each cell is one (in range)."""
    m = g.shape[1]
    if not (end in (10, 16, 19) or 21 <= end <= 26):
        return np.zeros(m, dtype=np.int64), np.zeros(m, dtype=bool)
    ok = _digits(g, 0, 1, 2, 3, 5, 6, 8, 9) & (g[4] == 45) & (g[7] == 45)
    year, month, day = _value(g, 0, 1, 2, 3), _value(g, 5, 6), _value(g, 8, 9)
    clock = np.zeros(m, dtype=np.int64)
    if end > 10:
        ok &= ((g[10] == 84) | (g[10] == 32)) & (g[13] == 58) & _digits(g, 11, 12, 14, 15)
        hour, minute = _value(g, 11, 12), _value(g, 14, 15)
        ok &= (hour <= 23) & (minute <= 59)
        clock = (hour * 60 + minute) * 60_000_000
    if end > 16:
        ok &= (g[16] == 58) & _digits(g, 17, 18)
        second = _value(g, 17, 18)
        ok &= second <= 59
        clock += second * 1_000_000
    if end > 19:
        fraction = range(20, end)
        ok &= (g[19] == 46) & _digits(g, *fraction)
        clock += _value(g, *fraction) * 10 ** (26 - end)
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (year >= 1)
    months = np.where(ok, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + np.where(ok, day - 1, 0)
    ok &= days.astype("datetime64[M]") == months  # the day exists in its month
    return days.astype("datetime64[us]").astype(np.int64) + clock, ok


def ist_times(stamps: np.ndarray) -> list[datetime]:
    """UTC instants (``datetime64``) as timezone-aware IST datetimes, without Python arithmetic per row
    beyond one addition: IST has no daylight saving, so its wall time is the instant plus 05:30."""
    wall_us = stamps.astype("datetime64[us]").astype(np.int64) + IST_OFFSET_US  # since 1970-01-01 IST
    since = wall_us.astype("timedelta64[us]").astype(object)  # timedelta objects, made in C
    return list(map(datetime(1970, 1, 1, tzinfo=IST).__add__, since))


# `tron indicators` reads its table cell by cell (its output repeats the input's date text).
def read_frame(path: Path) -> pd.DataFrame:
    """The file's cells as strings, lower-cased column names; InputError if it cannot be read or lacks a
    required column."""
    import pandas as pd

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
    import pandas as pd

    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna() & (frame[column].str.strip() != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"row {row + 2}: column {column!r} is not a number: {frame[column].iloc[row]!r}")
    return values.to_numpy(dtype=np.float64)
