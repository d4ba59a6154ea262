"""`tron check-bias` through the CLI: exit 0 and a report when clean, 1 naming the strategy, the check and the
first bar that differs when biased, 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.backtest import write_sim_csvs
from tron.backtest import peer
from tron.cli import main
from tron.domain import indicators as ind

MINUTES = 120  # of each simulated day: two sessions of 120 bars (240: past peer ema_cross's 220 of warm-up)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two symbols' minute bars over two days, each day's first MINUTES minutes."""
    full = write_sim_csvs(tmp_path_factory.mktemp("bias") / "bars", symbols=2)
    for f in full.glob("*.csv"):
        head, *rows = f.read_text().splitlines()
        f.write_text("\n".join([head, *(r for r in rows if _minute(r) < MINUTES)]) + "\n")
    return full


def _minute(row: str) -> int:
    hh, mm = int(row[11:13]), int(row[14:16])
    return hh * 60 + mm - (9 * 60 + 15)


def run(*argv: str) -> int:
    return main(["check-bias", *argv])


def test_a_clean_strategy_in_both_registries_exits_0(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--strategy", "ema_cross", "--data", str(folder), "--cuts", "4", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["clean"] is True
    assert [(s["strategy"], s["mode"]) for s in out["strategies"]] == [
        ("ema_cross", "intraday"),
        ("ema_cross", "peer"),
    ]
    intraday, peer_ = out["strategies"]
    assert intraday["warmup"].startswith("the session") and peer_["warmup"] == "220 bars"
    for s in out["strategies"]:
        for check in ("lookahead", "recursive"):
            assert s[check]["clean"] is True and s[check]["first_difference"] is None
            assert s[check]["bars_compared"] > 0


def test_the_text_report(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--strategy", "orb", "--data", str(folder), "--mode", "intraday", "--cuts", "3") == 0
    out = capsys.readouterr().out
    assert "orb (intraday; warm-up: the session" in out
    assert "lookahead  clean  3 cuts" in out and "recursive  clean  offsets 1, " in out
    assert out.strip().endswith("no bias found in 1 strategy")


def _centred(close: np.ndarray, n: int) -> np.ndarray:
    """A centred moving average: the mean of the n bars around this one, half of them still to come."""
    out = np.full(len(close), np.nan)
    out[: max(len(close) - n // 2, 0)] = ind.sma(close, n)[n // 2 :]
    return out


def _anchored(close: np.ndarray, n: int) -> np.ndarray:
    """The slow line is the mean of every close since the data began."""
    return np.cumsum(close) / np.arange(1, len(close) + 1) if n > 5 else ind.sma(close, n)


@pytest.fixture
def biased(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two registered peer strategies with a bias each."""
    for name, average in (("centred", _centred), ("anchored", _anchored)):
        spec = peer.PeerStrategy(name, "biased", {"fast": 3, "slow": 10}, average, lambda p: 20)
        monkeypatch.setitem(peer.STRATEGIES, name, spec)


@pytest.mark.usefixtures("biased")
def test_lookahead_exits_1_naming_the_strategy_check_and_bar(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--strategy", "centred", "--data", str(folder), "--cuts", "4") == 1
    out = capsys.readouterr().out
    assert "centred (peer; warm-up: 20 bars)" in out
    assert "lookahead  BIAS   first at bar 2026-11-19T" in out
    assert "recursive  clean" in out
    assert out.strip().endswith("bias found: centred (peer: lookahead)")
    assert run("--strategy", "centred", "--data", str(folder), "--cuts", "4", "--json") == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["clean"] is False
    first = rep["strategies"][0]["lookahead"]["first_difference"]
    assert first["what"] in ("centred_3", "centred_10", "signal") and first["bar"] == first["run"]


@pytest.mark.usefixtures("biased")
def test_a_history_dependent_indicator_exits_1(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--strategy", "anchored", "--data", str(folder), "--mode", "peer", "--json") == 1
    rep = json.loads(capsys.readouterr().out)["strategies"][0]
    assert rep["lookahead"]["clean"] is True and rep["recursive"]["clean"] is False
    first = rep["recursive"]["first_difference"]
    assert first["what"] == "anchored_10" and first["run"] == "1 bars later"
    assert rep["recursive"]["largest_deviation"]["anchored_10"] > 1e-6
    assert rep["recursive"]["largest_deviation"]["anchored_3"] == 0.0  # the fast line is an SMA


def test_simulated_days(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        "--strategy", "vwap", "--mode", "intraday", "--data", "generated", "--from", "2026-11-19",
        "--to", "2026-11-20", "--symbols", "2", "--cuts", "2", "--json",
    )  # fmt: skip
    assert code == 0
    rep = json.loads(capsys.readouterr().out)["strategies"][0]
    assert rep["recursive"]["bars_compared"] == 4 * 375 * 2  # the second day, from four later starts


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strategy", "nope"], "unknown strategy 'nope'"),
        (["--strategy", "sma_cross", "--mode", "intraday"], "unknown strategy 'sma_cross' for mode intraday"),
        (["--strategy", "all", "--param", "fast=3"], "--param needs one strategy"),
        (["--strategy", "orb", "--param", "range_minutes=3"], "outside"),
        (["--strategy", "orb", "--param", "range_minutes"], "--param wants K=V"),
        (["--strategy", "orb", "--from", "2026-11-21"], "no bar from 2026-11-21"),
        (["--strategy", "orb", "--to", "2026-11-19"], "at least two sessions"),
        (["--strategy", "orb", "--from", "2026-11-20", "--to", "2026-11-19"], "is after"),
        (["--strategy", "orb", "--seed", "3"], "--seed and --symbols are for --data generated"),
    ],
)
def test_bad_input_exits_2(
    folder: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--data", str(folder), *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tron check-bias: ") and message in err


def test_bad_data_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--strategy", "orb", "--data", str(tmp_path / "missing.csv")) == 2
    assert "not found" in capsys.readouterr().err
    assert run("--strategy", "orb", "--data", "generated") == 2
    assert "--from D --to D" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        run("--strategy", "orb", "--data", str(tmp_path), "--cuts", "0")
    assert e.value.code == 2
