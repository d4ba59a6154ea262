"""Backtest loaders: OHLCV CSVs become the snapshots the live tick sees; bad files are named, row by row."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from tron.backtest import data as bd
from tron.domain.session import SessionState
from tron.domain.timeutil import IST

HEADER = "date,open,high,low,close,volume\n"
ROWS = [  # two sessions; the three date spellings
    "2026-11-19 09:15:00,100,101,99.5,100.5,1000",
    "2026-11-19T09:16:00+05:30,100.5,102,100,101.5,2000",
    "2026-11-19T09:17:00+0530,101.5,101.6,100.8,101,500",
    "2026-11-20 09:15:00,102,103,101,102.5,700",
    "2026-11-20 09:16:00,102.5,102.5,101.5,102,300",
]


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def test_dates_in_all_three_spellings_are_ist(tmp_path: Path) -> None:
    bars = bd.read_csv(write(tmp_path / "ABC.csv", ROWS))
    assert bars.symbol == "ABC" and len(bars) == 5
    assert bars.times[:3] == [datetime(2026, 11, 19, 9, m, tzinfo=IST) for m in (15, 16, 17)]
    assert all(t.utcoffset().total_seconds() == 19800 for t in bars.times)


def test_bars_become_snapshots_as_the_simulator_quotes(tmp_path: Path) -> None:
    sessions = bd.sessions_from_bars([bd.read_csv(write(tmp_path / "ABC.csv", ROWS))])
    assert [s.day.isoformat() for s in sessions] == ["2026-11-19", "2026-11-20"]
    s = sessions[0]
    assert len(s.snapshots) == 4  # the open, then the end of each of the 3 bars
    q0, q1, q3 = (s.snapshots[k].quotes["ABC"] for k in (0, 1, 3))
    assert (s.snapshots[0].ts.minute, q0.last, q0.volume, q0.high, q0.low) == (15, 100.0, 0, 100.0, 100.0)
    assert (s.snapshots[1].ts.minute, q1.last, q1.volume, q1.high, q1.low) == (16, 100.5, 1000, 101.0, 99.5)
    assert (s.snapshots[3].ts.minute, q3.last, q3.volume, q3.high, q3.low) == (18, 101.0, 3500, 102.0, 99.5)
    assert q1.bid == q1.ask == q1.last
    assert s.next_open is not None and s.next_open[1] == {"ABC": 100.5} and s.next_open[3] == {}
    assert sessions[1].snapshots[0].quotes["ABC"].prev_close == 101.0  # the previous session's close
    assert s.nows == [snap.ts for snap in s.snapshots]


def test_the_session_state_rebuilds_the_bars(tmp_path: Path) -> None:
    s = bd.sessions_from_bars([bd.read_csv(write(tmp_path / "ABC.csv", ROWS))])[0]
    state = SessionState.new(["ABC"])
    assert state.apply(s.snapshots[0]) is None
    bar = state.apply(s.snapshots[1])
    assert bar is not None
    assert (bar.open[0], bar.close[0], bar.volume[0], bar.high[0], bar.low[0]) == (
        100,
        100.5,
        1000,
        101,
        99.5,
    )
    bar = state.apply(s.snapshots[2])
    assert (bar.close[0], bar.volume[0], bar.high[0]) == (101.5, 2000, 102)


def test_a_missing_bar_leaves_a_stale_quote(tmp_path: Path) -> None:
    a = bd.read_csv(write(tmp_path / "A.csv", ROWS[:3]))
    b = bd.read_csv(write(tmp_path / "B.csv", [ROWS[0], ROWS[2]]))  # no 09:16 bar
    s = bd.sessions_from_bars([a, b])[0]
    assert s.symbols == ["A", "B"]
    q = s.snapshots[2].quotes
    assert q["A"].ts.minute == 17 and q["B"].ts.minute == 16  # B still shows its 09:15 bar's close
    assert s.snapshots[3].quotes["B"].ts.minute == 18


def test_a_folder_is_one_symbol_per_csv(tmp_path: Path) -> None:
    write(tmp_path / "X.csv", ROWS)
    write(tmp_path / "Y.csv", ROWS)
    (tmp_path / "notes.txt").write_text("ignored")
    assert [b.symbol for b in bd.load(tmp_path)] == ["X", "Y"]


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (ROWS, "date,open,high,low,close\n", "missing column(s): volume"),
        (["2026-11-19 9h15,1,1,1,1,1"], HEADER, "row 2: unparsable date"),
        ([ROWS[1], ROWS[0]], HEADER, "row 3: dates must be strictly increasing"),
        ([ROWS[0], "2026-11-19 09:16:00,1,1,1,,1"], HEADER, "row 3: column 'close' must be a positive price"),
        (["2026-11-19 09:15:00,1,1,-1,1,1"], HEADER, "row 2: column 'low' must be a positive price"),
        (["2026-11-19 09:15:00,1,1,1,abc,1"], HEADER, "row 2: column 'close' is not a number"),
        (["2026-11-19 09:15:00,1,1,1,1,-5"], HEADER, "row 2: column 'volume' must be a number ≥ 0"),
        ([], HEADER, "no rows"),
    ],
)
def test_bad_csv_is_named(tmp_path: Path, rows: list[str], header: str, message: str) -> None:
    path = write(tmp_path / "BAD.csv", rows, header)
    with pytest.raises(bd.InputError) as e:
        bd.read_csv(path)
    assert message in str(e.value) and "BAD.csv" in str(e.value)


def test_missing_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(bd.InputError, match="data file not found"):
        bd.load(tmp_path / "nope.csv")
    with pytest.raises(bd.InputError, match=r"no \*\.csv files"):
        bd.load(tmp_path)
    with pytest.raises(bd.InputError, match="replay file not found"):
        bd.read_replay(tmp_path / "nope.jsonl")


def test_replay_lines(tmp_path: Path) -> None:
    q = ["2026-11-23T09:16:00+05:30", 100.0, 99.95, 100.05, 1200, 99.5, 100.2, 99.4, 99.0]
    line = {"ts": "2026-11-23T09:16:00+05:30", "now": "2026-11-23T09:16:00+05:30", "quotes": {"ABC": q}}
    path = tmp_path / "stocks.jsonl"
    path.write_text(json.dumps(line) + "\n\n")
    (s,) = bd.read_replay(path)
    quote = s.snapshots[0].quotes["ABC"]
    assert (quote.last, quote.bid, quote.ask, quote.volume, quote.prev_close) == (
        100.0,
        99.95,
        100.05,
        1200,
        99.0,
    )
    assert s.next_open is None and s.symbols == ["ABC"]
    path.write_text(json.dumps(line) + "\n" + '{"ts": "2026-11-23T09:17:00+05:30", "quotes": {"ABC": [1]}}\n')
    with pytest.raises(bd.InputError, match="line 2: not a replay snapshot"):
        bd.read_replay(path)


def test_sessions_are_made_when_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A year of fifty symbols' snapshots would not fit in memory at once: sessions_from_bars makes none
    ahead, between() picks days without making them, and each session is made from the bars when read
    (a symbol's previous close is its last bar before the day, however many days back)."""
    made: list[str] = []
    real = bd._session
    monkeypatch.setattr(bd, "_session", lambda day, *a: made.append(str(day)) or real(day, *a))
    a = bd.read_csv(write(tmp_path / "A.csv", ROWS))
    b = bd.read_csv(write(tmp_path / "B.csv", [ROWS[0], "2026-11-23 09:15:00,50,51,49,50.5,10"]))
    sessions = bd.sessions_from_bars([a, b])
    days = sessions.between(date(2026, 11, 20), date(2026, 11, 23))
    assert made == [] and len(sessions) == 3 and len(days) == 2
    assert days.days == [date(2026, 11, 20), date(2026, 11, 23)] and made == []
    last = days[1]
    assert made == ["2026-11-23"] and last.symbols == ["B"]
    assert last.snapshots[0].quotes["B"].prev_close == 100.5  # its 19 November close (no bar on the 20th)
    assert [s.day.isoformat() for s in sessions] == ["2026-11-19", "2026-11-20", "2026-11-23"]
    assert made == ["2026-11-23", "2026-11-19", "2026-11-20", "2026-11-23"]
    assert [s.day for s in sessions[1:]] == [s.day for s in days]
