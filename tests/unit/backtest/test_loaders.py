"""The bar loaders' one path for CSV and Parquet: vectorized times that mean what ``fromisoformat`` means,
the same checks and messages for a bad file in either format (the file and the first bad row named, exit
code 2 from the command), and the folder layout of `tron data fetch` (``<root>/<SYMBOL>/<YYYY-MM>.parquet``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tron.backtest import data as bd
from tron.backtest.bars_csv import ist_times, parse_time, parse_times
from tron.cli import main
from tron.domain.timeutil import IST

SPELLINGS = [
    "2026-11-19 09:15:00",
    "2026-11-19T09:15:00",
    "2026-11-19T09:15",
    "2026-11-19 09:15",
    "2026-11-19",
    "2026-11-19T09:15:00+05:30",
    "2026-11-19T09:15:00+0530",
    "2026-11-19T03:45:00Z",
    "2026-11-19T03:45:00-01:00",
    "2026-11-19T09:15:00.5",
    "2026-11-19T09:15:00.123456+05:30",
    "2026-11-19T09:15:00.123+0530",
    "  2026-11-19 09:15:00  ",
    "2024-02-29 23:59:59",
    "20261119T0915",  # outside the common spellings: read by fromisoformat, row by row
    "2026-11-19T09:15:00+05",
]


def test_every_spelling_means_what_fromisoformat_means() -> None:
    cells = np.array([s.encode() for s in SPELLINGS])
    got = ist_times(parse_times(cells, first_row=2))
    assert got == [parse_time(s, 0) for s in SPELLINGS]
    assert all(t.tzinfo is IST for t in got)


@pytest.mark.parametrize(
    "bad", ["2026-13-01", "2026-02-30 09:15", "2026-11-19 24:00", "2026-11-19 9h15", "now", "NaT", ""]
)
def test_an_unparsable_time_names_its_row(bad: str) -> None:
    cells = np.array([b"2026-11-19 09:15", bad.encode()])
    with pytest.raises(bd.InputError, match=f"row 3: unparsable date '{bad}'"):
        parse_times(cells, first_row=2)


def test_the_usual_spellings_never_reach_the_per_row_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    from tron.backtest import bars_csv

    def refuse(text: str, row: int) -> datetime:
        raise AssertionError(f"row {row} ({text}) read one by one")

    monkeypatch.setattr(bars_csv, "parse_time", refuse)
    start = np.datetime64("2025-01-01T09:15")
    wall = start + np.arange(20_000).astype("timedelta64[m]")
    for fmt in ("{}", " {}:00 ", "{}:00+05:30", "{}:00+0530", "{}:00.25Z"):
        cells = np.array([fmt.format(str(t).replace("T", " ")).encode() for t in wall[::997]])
        times = ist_times(parse_times(cells, first_row=2))
        assert times[1] - times[0] == timedelta(minutes=997)


# ------------------------------------------------------------------------------------------ files
HEADER = ["date", "open", "high", "low", "close", "volume"]
GOOD = [
    ["2026-11-19 09:15:00", 100.0, 101.0, 99.5, 100.5, 1000],
    ["2026-11-19 09:16:00", 100.5, 102.0, 100.0, 101.5, 2000],
    ["2026-11-19 09:17:00", 101.5, 101.6, 100.8, 101.0, 500],
]


def write_csv(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    lines = (",".join("" if v is None else str(v) for v in r) for r in [header, *rows])
    path.write_text("\n".join(lines) + "\n")
    return path


def write_parquet(
    path: Path, rows: list[list[object]], header: list[str] = HEADER, text_dates: bool = False
) -> Path:
    """The fetcher's columns: ``date`` a timestamp in Asia/Kolkata (or the text, with ``text_dates``),
    prices float64, volume int64, and an ``oi`` column the loader ignores."""
    cols: dict[str, pa.Array] = {}
    for j, name in enumerate(header):
        values = [r[j] for r in rows]
        if name == "date" and not text_dates:
            stamps = [datetime.fromisoformat(str(v)).replace(tzinfo=IST) for v in values]
            cols[name] = pa.array(stamps, type=pa.timestamp("ns", tz="Asia/Kolkata"))
        else:
            kind = {"date": pa.string(), "volume": pa.int64()}.get(name, pa.float64())
            cols[name] = pa.array(values, type=kind)
    cols["oi"] = pa.array([0] * len(rows), type=pa.int64())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path)
    return path


WRITERS: dict[str, tuple[Callable[..., Path], str, int]] = {
    "csv": (write_csv, "BAD.csv", 2),  # row 1 is the header
    "parquet": (write_parquet, "BAD.parquet", 1),  # row 1 is the first bar
}


def _row(rows: list[list[object]], i: int, **cells: object) -> list[list[object]]:
    out = [list(r) for r in rows]
    for k, v in cells.items():
        out[i][HEADER.index(k)] = v
    return out


BAD_FILES = {
    "missing column": (GOOD, HEADER[:-1], "missing column(s): volume", None),
    "unsorted": ([GOOD[1], GOOD[0], GOOD[2]], HEADER, "dates must be strictly increasing", 1),
    "duplicate": ([GOOD[0], GOOD[0], GOOD[2]], HEADER, "repeats row", 1),
    "NaN price": (_row(GOOD, 2, close=None), HEADER, "column 'close' must be a positive price", 2),
    "zero price": (_row(GOOD, 1, open=0.0), HEADER, "column 'open' must be a positive price", 1),
    "negative price": (_row(GOOD, 0, low=-1.0), HEADER, "column 'low' must be a positive price", 0),
    "negative volume": (_row(GOOD, 2, volume=-5), HEADER, "column 'volume' must be a number ≥ 0", 2),
    "no rows": ([], HEADER, "no rows", None),
}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_names_the_file_and_the_row(tmp_path: Path, fmt: str, case: str) -> None:
    write, name, first_row = WRITERS[fmt]
    rows, header, message, bad_index = BAD_FILES[case]
    path = write(tmp_path / name, rows, header)
    with pytest.raises(bd.InputError) as e:
        bd.load(path)
    assert message in str(e.value) and str(path) in str(e.value)
    if bad_index is not None:
        assert f"row {bad_index + first_row}:" in str(e.value)


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_an_unparsable_time_in_either_format(tmp_path: Path, fmt: str) -> None:
    write, name, first_row = WRITERS[fmt]
    rows = _row(GOOD, 1, date="2026-11-19 9h16")
    extra = {"text_dates": True} if fmt == "parquet" else {}  # Parquet: a text column, read as a CSV's
    path = write(tmp_path / name, rows, HEADER, **extra)
    with pytest.raises(bd.InputError, match=f"row {1 + first_row}: unparsable date '2026-11-19 9h16'"):
        bd.load(path)


def test_a_cell_that_is_not_a_number(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "BAD.csv", _row(GOOD, 1, high="1O2"))
    with pytest.raises(bd.InputError, match=r"BAD\.csv: row 3: column 'high' is not a number: '1O2'"):
        bd.load(path)
    write_parquet(tmp_path / "BAD.parquet", GOOD, HEADER)
    table = pq.read_table(tmp_path / "BAD.parquet")
    pq.write_table(table.set_column(2, "high", pa.array(["1", "2", "3"])), tmp_path / "BAD.parquet")
    with pytest.raises(bd.InputError, match=r"BAD\.parquet: column 'high' holds string, not numbers"):
        bd.load(tmp_path / "BAD.parquet")


def test_a_ragged_row_and_a_parquet_that_is_not(tmp_path: Path) -> None:
    path = tmp_path / "BAD.csv"
    path.write_text("date,open,high,low,close,volume\n2026-11-19 09:15,1,1,1,1,1\n2026-11-19 09:16,1,1,1\n")
    with pytest.raises(bd.InputError, match=r"BAD\.csv: row 3: 4 fields, the header has 6"):
        bd.load(path)
    (tmp_path / "X.parquet").write_text("not parquet")
    with pytest.raises(bd.InputError, match=r"X\.parquet: cannot read it as Parquet"):
        bd.load(tmp_path / "X.parquet")


def test_the_fast_and_the_careful_csv_readers_agree(tmp_path: Path) -> None:
    """A file numpy's reader passes on (a date cell wider than it keeps) is read cell by cell, to the same
    bars; quotes, CRLF line ends, a byte-order mark, other columns and any column order are read too."""
    plain = bd.read_csv(write_csv(tmp_path / "A.csv", GOOD))
    odd = tmp_path / "B.csv"
    odd.write_bytes(
        b'\xef\xbb\xbfVolume,Close,"note, with a comma",Date,Open,High,Low\r\n'
        b'1000,100.5,x,"2026-11-19 09:15:00",100,101,99.5\r\n'
        b"2000,101.5,y,2026-11-19T09:16:00+05:30,100.5,102,100\r\n"
        b"500,101,z,2026-11-19T09:17:00+0530,101.5,101.6,100.8\r\n"
    )
    wide = write_csv(tmp_path / "C.csv", _row(GOOD, 0, date=f"{GOOD[0][0]:<60}"))
    for bars in (bd.read_csv(odd), bd.read_csv(wide)):
        assert bars.times == plain.times
        for c in ("open", "high", "low", "close", "volume"):
            assert getattr(bars, c).tolist() == getattr(plain, c).tolist()


# ------------------------------------------------------------------------------------------ folders
def minute_rows(day: date, minutes: int, price: float) -> list[list[object]]:
    return [
        [f"{day} {9 + (15 + m) // 60:02d}:{(15 + m) % 60:02d}:00", price + m, price + m + 1, price + m - 1,
         price + m + 0.5, 100 * (m + 1)]
        for m in range(minutes)
    ]  # fmt: skip


def test_the_fetchers_layout_one_folder_per_symbol_months_in_order(tmp_path: Path) -> None:
    root = tmp_path / "history"
    for sym, price in (("TCS", 4000.0), ("INFY", 1500.0)):
        write_parquet(root / sym / "2026-01.parquet", minute_rows(date(2026, 1, 30), 3, price), HEADER)
        write_parquet(root / sym / "2026-02.parquet", minute_rows(date(2026, 2, 2), 2, price + 10), HEADER)
    (root / "TCS" / "progress.json").write_text("{}")  # the fetcher's own files are not bars
    (root / "instruments").mkdir()
    (root / "instruments" / "2026-01-30.csv").write_text("instrument_token\n1\n")
    bars = bd.load(root)
    assert [b.symbol for b in bars] == ["INFY", "TCS"]
    tcs = bars[1]
    assert len(tcs) == 5 and tcs.close.tolist() == [4000.5, 4001.5, 4002.5, 4010.5, 4011.5]
    assert tcs.times[2:4] == [
        datetime(2026, 1, 30, 9, 17, tzinfo=IST),
        datetime(2026, 2, 2, 9, 15, tzinfo=IST),
    ]
    assert tcs.volume.tolist() == [100, 200, 300, 100, 200]
    assert [s.day for s in bd.sessions_from_bars(bars)] == [date(2026, 1, 30), date(2026, 2, 2)]
    # a symbol's folder, or one month file, is that symbol
    assert bd.load(root / "TCS")[0].times == tcs.times
    (month,) = bd.load(root / "TCS" / "2026-02.parquet")
    assert month.symbol == "TCS" and len(month) == 2


def test_months_that_overlap_name_both_files(tmp_path: Path) -> None:
    folder = tmp_path / "TCS"
    write_parquet(folder / "2026-01.parquet", minute_rows(date(2026, 2, 2), 3, 100.0), HEADER)
    write_parquet(folder / "2026-02.parquet", minute_rows(date(2026, 2, 2), 2, 100.0), HEADER)
    with pytest.raises(
        bd.InputError, match=r"2026-02\.parquet: row 1: dates must be strictly increasing"
    ) as e:
        bd.load(tmp_path)
    assert "2026-01.parquet" in str(e.value)


def test_a_folder_mixes_csv_and_parquet_symbols_but_not_twice(tmp_path: Path) -> None:
    write_csv(tmp_path / "A.csv", GOOD)
    write_parquet(tmp_path / "B.parquet", GOOD, HEADER)
    write_parquet(tmp_path / "C" / "2026-11.parquet", GOOD, HEADER)
    a, b, c = bd.load(tmp_path)
    assert (a.symbol, b.symbol, c.symbol) == ("A", "B", "C")
    assert a.times == b.times == c.times and a.close.tolist() == b.close.tolist() == c.close.tolist()
    write_csv(tmp_path / "C.csv", GOOD)
    with pytest.raises(bd.InputError, match="symbol C twice"):
        bd.load(tmp_path)


def test_parquet_times_without_a_zone_are_ist(tmp_path: Path) -> None:
    wall = [datetime(2026, 11, 19, 9, 15), datetime(2026, 11, 20)]  # noqa: DTZ001 (IST wall time)
    for kind, values in (
        ("naive", pa.array(wall, type=pa.timestamp("us"))),
        ("date32", pa.array([d.date() for d in wall], type=pa.date32())),
        ("utc", pa.array([d.replace(tzinfo=IST) for d in wall], type=pa.timestamp("ms", tz="UTC"))),
    ):
        cols = {"date": values, **{c: pa.array([1.0, 2.0]) for c in HEADER[1:]}}
        pq.write_table(pa.table(cols), tmp_path / f"{kind}.parquet")
        (bars,) = bd.load(tmp_path / f"{kind}.parquet")
        expect = [d.replace(tzinfo=IST) for d in wall]
        assert bars.times == ([datetime(2026, 11, 19, tzinfo=IST), expect[1]] if kind == "date32" else expect)


def test_the_command_reads_parquet_as_csv_and_exits_2_on_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [r for d in range(3) for r in minute_rows(date(2026, 11, 16 + d), 60, 100.0 + 5 * d)]
    (tmp_path / "csv").mkdir()
    write_csv(tmp_path / "csv" / "X.csv", rows)
    write_parquet(tmp_path / "pq" / "X" / "2026-11.parquet", rows, HEADER)
    args = ["backtest", "--mode", "peer", "--strategy", "sma_cross", "--param", "fast=3", "--param", "slow=7"]
    outs = []
    for folder in ("csv", "pq"):
        assert main([*args, "--capital", "100000", "--data", str(tmp_path / folder), "--json"]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0]["trades_list"] == outs[1]["trades_list"] and outs[0]["trades"] > 0
    assert outs[0]["final_equity"] == outs[1]["final_equity"]
    write_parquet(tmp_path / "bad" / "X" / "2026-11.parquet", _row(rows, 7, close=-1.0), HEADER)
    assert main([*args, "--capital", "100000", "--data", str(tmp_path / "bad"), "--json"]) == 2
    assert "2026-11.parquet: row 8: column 'close' must be a positive price" in capsys.readouterr().err


def test_a_missing_parquet_date_is_named(tmp_path: Path) -> None:
    stamps = [datetime(2026, 11, 19, 9, 15, tzinfo=IST), None]
    cols = {"date": pa.array(stamps, type=pa.timestamp("ns", tz="Asia/Kolkata"))}
    pq.write_table(
        pa.table({**cols, **{c: pa.array([1.0, 2.0]) for c in HEADER[1:]}}), tmp_path / "X.parquet"
    )
    with pytest.raises(bd.InputError, match=r"X\.parquet: row 2: no date"):
        bd.load(tmp_path / "X.parquet")


def test_loading_bars_never_imports_pandas(tmp_path: Path) -> None:
    """pandas costs ~0.3 s of start-up; pyarrow's read_table and to_numpy would import it."""
    write_csv(tmp_path / "A.csv", GOOD)
    write_parquet(tmp_path / "B" / "2026-11.parquet", GOOD, HEADER)
    write_parquet(tmp_path / "bad" / "C.parquet", _row(GOOD, 1, close=None), HEADER)
    probe = f"""
import sys
from pathlib import Path
from tron.backtest import data as bd
assert [b.symbol for b in bd.load(Path({str(tmp_path)!r}))] == ["A", "B"]
try:
    bd.load(Path({str(tmp_path / "bad")!r}))
except bd.InputError:
    pass
print("pandas" in sys.modules)
"""
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "False"
