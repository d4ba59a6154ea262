"""`tron indicators` through the `tron` command."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tron.cli import main
from tron.domain import indicators as ind
from tron.domain.timeutil import IST

EXPECTED_COLUMNS = [
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
]
BARS_PER_DAY = 40


def _run(*argv: str) -> int:
    return main(list(argv))


def _date_texts() -> list[str]:
    """Two sessions of minute bars from 09:15, in the three accepted date spellings."""
    texts = []
    for day_index, day in enumerate((date(2026, 11, 19), date(2026, 11, 20))):
        start = datetime(day.year, day.month, day.day, 9, 15, tzinfo=IST)
        for i in range(BARS_PER_DAY):
            ts = start + timedelta(minutes=i)
            if day_index == 0:
                texts.append(ts.strftime("%Y-%m-%d %H:%M:%S"))  # naive → IST
            elif i % 2:
                texts.append(ts.strftime("%Y-%m-%dT%H:%M:%S+0530"))  # Kite historical
            else:
                texts.append(ts.strftime("%Y-%m-%dT%H:%M:%S+05:30"))
    return texts


def _write_csv(path: Path, rows: list[dict[str, object]], columns: list[str]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def ohlcv(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray], list[str]]:
    rng = np.random.default_rng(42)
    n = 2 * BARS_PER_DAY
    close = 500 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) + rng.uniform(0, 0.5, n)
    low = np.minimum(open_, close) - rng.uniform(0, 0.5, n)
    volume = rng.integers(100, 10_000, n)
    dates = _date_texts()
    rows = [
        {
            "date": dates[i],
            "open": repr(float(open_[i])),
            "high": repr(float(high[i])),
            "low": repr(float(low[i])),
            "close": repr(float(close[i])),
            "volume": int(volume[i]),
        }
        for i in range(n)
    ]
    path = tmp_path / "bars.csv"
    _write_csv(path, rows, ["date", "open", "high", "low", "close", "volume"])
    arrays = {"high": high, "low": low, "close": close, "volume": volume.astype(float)}
    return path, arrays, dates


def _read_out(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _column(rows: list[dict[str, str]], name: str) -> np.ndarray:
    return np.array([float(r[name]) if r[name] != "" else np.nan for r in rows])


def test_writes_every_column_with_empty_warm_up_cells(ohlcv, tmp_path):
    data, arrays, dates = ohlcv
    out = tmp_path / "out.csv"
    assert _run("indicators", "--data", str(data), "--out", str(out)) == 0

    columns, rows = _read_out(out)
    assert columns == EXPECTED_COLUMNS
    assert len(rows) == 2 * BARS_PER_DAY
    assert [r["date"] for r in rows] == dates  # echoed as given

    def first_filled(name: str) -> int:
        return next(i for i, r in enumerate(rows) if r[name] != "")

    assert first_filled("sma_20") == 19
    assert first_filled("ema_20") == 19
    assert first_filled("rsi_14") == 14
    assert first_filled("macd") == first_filled("macd_signal") == first_filled("macd_hist") == 33
    assert first_filled("bb_upper") == first_filled("bb_lower") == 19
    assert first_filled("atr_14") == 14
    assert first_filled("vwap") == 0
    # Opening range: empty on each session's first 14 bars, filled from the 15th bar on.
    for start in (0, BARS_PER_DAY):
        block = rows[start : start + BARS_PER_DAY]
        assert all(r["or_high_15"] == "" and r["or_low_15"] == "" for r in block[:14])
        assert all(r["or_high_15"] != "" and r["or_low_15"] != "" for r in block[14:])

    h, lo, c, v = arrays["high"], arrays["low"], arrays["close"], arrays["volume"]
    session = np.repeat([0, 1], BARS_PER_DAY)
    minutes = np.tile(np.arange(BARS_PER_DAY, dtype=float), 2)
    np.testing.assert_allclose(_column(rows, "rsi_14"), ind.rsi(c, 14), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(_column(rows, "macd_hist"), ind.macd(c)[2], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(_column(rows, "vwap"), ind.vwap(h, lo, c, v, session), rtol=1e-12)
    or_high, or_low = ind.opening_range(h, lo, session, minutes, 15)
    np.testing.assert_allclose(_column(rows, "or_high_15"), or_high, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(_column(rows, "or_low_15"), or_low, rtol=1e-12, equal_nan=True)
    # VWAP restarts with the second session: its first value is that bar's typical price.
    k = BARS_PER_DAY
    assert float(rows[k]["vwap"]) == pytest.approx((h[k] + lo[k] + c[k]) / 3, rel=1e-12)
    assert float(rows[k + 14]["or_high_15"]) == pytest.approx(h[k : k + 15].max(), rel=1e-12)


def test_offset_dates_are_converted_to_ist_sessions(tmp_path):
    # 03:45Z is 09:15 IST: the first bar of the IST session, not a pre-open bar.
    start = datetime(2026, 11, 20, 3, 45, tzinfo=UTC)
    rows = [
        {
            "date": (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **{"open": 10, "high": 11 + i, "low": 9, "close": 10, "volume": 5},
        }
        for i in range(16)
    ]
    data = tmp_path / "utc.csv"
    _write_csv(data, rows, ["date", "open", "high", "low", "close", "volume"])
    out = tmp_path / "out.csv"
    assert _run("indicators", "--data", str(data), "--out", str(out)) == 0
    _, result = _read_out(out)
    assert result[13]["or_high_15"] == ""
    assert float(result[14]["or_high_15"]) == 25.0
    assert float(result[15]["or_high_15"]) == 25.0


@pytest.mark.parametrize(
    ("columns", "date_text", "needle"),
    [
        (["date", "open", "high", "low", "close"], "2026-11-20 09:15:00", "volume"),
        (["date", "open", "high", "low", "close", "volume"], "20/11/2026 09:15", "unparsable date"),
        (["date", "open", "high", "low", "close", "volume"], "2026-11-20 09:15:00", "not a number"),
    ],
    ids=["missing-column", "bad-date", "bad-number"],
)
def test_bad_input_exits_2_with_message(tmp_path, capsys, columns, date_text, needle):
    row = {"date": date_text, "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 100}
    if needle == "not a number":
        row["close"] = "abc"
    data = tmp_path / "bad.csv"
    _write_csv(data, [{k: row[k] for k in columns}], columns)
    out = tmp_path / "out.csv"
    assert _run("indicators", "--data", str(data), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert not out.exists()


def test_missing_file_exits_2(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert _run("indicators", "--data", str(missing), "--out", str(tmp_path / "out.csv")) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "nope.csv" in err


def test_dates_out_of_order_exit_2(tmp_path, capsys):
    rows = [
        {"date": d, "open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 100}
        for d in ("2026-11-20 09:16:00", "2026-11-20 09:15:00")
    ]
    data = tmp_path / "unsorted.csv"
    _write_csv(data, rows, ["date", "open", "high", "low", "close", "volume"])
    assert _run("indicators", "--data", str(data), "--out", str(tmp_path / "out.csv")) == 2
    assert "increasing" in capsys.readouterr().err


def test_subcommand_requires_data_and_out():
    with pytest.raises(SystemExit) as exc:
        main(["indicators", "--data", "x.csv"])
    assert exc.value.code == 2
