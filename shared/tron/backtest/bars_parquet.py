"""OHLCV bars in Parquet, as `tron data fetch` stores them: columns ``date`` (a timestamp; with a time zone
it is that instant, without one IST wall time; ISO text is read as in CSV files), ``open, high, low,
close`` and ``volume`` (numbers; nulls read as missing), others (``oi``) ignored; names in any case. Row
numbers in messages count the first bar as row 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tron.backtest.bars_csv import IST_OFFSET_US, NUMBER_COLUMNS, REQUIRED_COLUMNS, parse_times
from tron.backtest.errors import InputError


def read_columns(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The file's bar times (UTC instants, ``datetime64[us]``) and its number columns (float64, a null
    NaN), unchecked beyond their types. InputError (the file named) if it cannot be read, has no rows or
    lacks a column, or for a date that is missing or unparsable or a column that is not numbers."""
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    try:
        return _read(path)
    except InputError as e:
        raise InputError(f"{path}: {e}") from None


def _read(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)  # not read_table: its dataset layer imports pandas (~0.3 s)
        lower = {
            n.strip().lower(): n for n in reversed(file.schema_arrow.names)
        }  # a repeated name: the first
        missing = [c for c in REQUIRED_COLUMNS if c not in lower]
        if missing:
            raise InputError(f"missing column(s): {', '.join(missing)}")
        table = file.read(columns=[lower[c] for c in REQUIRED_COLUMNS])
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read it as Parquet: {exc}") from None
    if table.num_rows == 0:
        raise InputError("no rows")
    stamps = _times(table.column(0).combine_chunks(), pa)
    numbers = {c: _numbers(table.column(i + 1).combine_chunks(), c, pa) for i, c in enumerate(NUMBER_COLUMNS)}
    return stamps, numbers


def _times(col: Any, pa: Any) -> np.ndarray:
    t = col.type
    if col.null_count:
        row = int(np.flatnonzero(_nulls(col))[0]) + 1
        raise InputError(f"row {row}: no date")
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return parse_times(np.array(col.cast(pa.binary()).to_pylist(), dtype=bytes), first_row=1)
    if pa.types.is_date(t):  # a day's bar: midnight IST
        col = col.cast(pa.timestamp("s"))
    elif not pa.types.is_timestamp(t):
        raise InputError(f"column 'date' holds {t}, not times")
    unit, zone = col.type.unit, col.type.tz
    stamps = _buffer(col.cast(pa.int64()), np.int64).astype(f"datetime64[{unit}]").astype("datetime64[us]")
    if zone is None:  # IST wall time
        stamps = stamps - np.timedelta64(IST_OFFSET_US, "us")
    return stamps


def _numbers(col: Any, name: str, pa: Any) -> np.ndarray:
    t = col.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        raise InputError(f"column {name!r} holds {t}, not numbers")
    values = _buffer(col.cast(pa.float64()), np.float64).copy()
    if col.null_count:
        values[_nulls(col)] = np.nan
    return values


def _buffer(col: Any, dtype: type) -> np.ndarray:
    """An Arrow array of fixed-width values as a numpy view of its data buffer (pyarrow's own to_numpy
    imports pandas, ~0.3 s); the values under nulls are undefined."""
    if len(col) == 0:
        return np.empty(0, dtype=dtype)
    width = np.dtype(dtype).itemsize
    return np.frombuffer(col.buffers()[1], dtype=dtype, count=len(col), offset=col.offset * width)


def _nulls(col: Any) -> np.ndarray:
    """Where an Arrow array holds nulls, from its validity bitmap."""
    bits = np.unpackbits(np.frombuffer(col.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[col.offset : col.offset + len(col)] == 0
