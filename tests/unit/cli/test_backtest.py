"""`tron backtest` through the CLI: JSON, table, HTML report, and every bad input answered with a message on
stderr and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.backtest import PLAN, write_sim_csvs
from tron.cli import main
from tron.domain.models import Asset
from tron.domain.plan import Plan


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sim_csvs(tmp_path_factory.mktemp("cli") / "bars", symbols=6)


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One symbol of daily bars (a seeded walk) for peer mode."""
    rng = np.random.default_rng(3)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 300))), 2)
    opens = np.round(np.concatenate([[100.0], close[:-1]]), 2)
    path = tmp_path_factory.mktemp("daily") / "WALK.csv"
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + 300)
    lines = ["date,open,high,low,close,volume"] + [
        f"{d},{o},{max(o, c)},{min(o, c)},{c},1000" for d, o, c in zip(days, opens, close, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*argv: str) -> int:
    return main(["backtest", *argv])


def test_json_is_one_object(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--data", str(folder), "--strategy", "orb", "--param", "buffer_pct=0.1", "--json") == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert captured.err == ""  # no progress bar with --json
    assert out["mode"] == "intraday" and out["strategy"] == "orb" and out["params"] == {"buffer_pct": 0.1}
    for key in ("trades", "win_rate", "total_return_pct", "max_drawdown_pct", "sharpe", "sortino", "calmar"):
        assert key in out
    assert out["settings"]["fill"] == "next-open" and out["settings"]["charges"] == "zerodha-intraday"
    assert len(out["trades_list"]) == out["trades"] + out["open_trades"]


def test_table_and_html_report(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "out.html"
    code = run(
        "--data", str(folder), "--strategy", "orb,vwap", "--capital", "500000", "--charges", "none",
        "--slippage-bps", "2", "--fill", "close", "--report", str(report),
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "final_equity" in out and "historical" in out and str(report) in out
    page = report.read_text()
    assert page.count("<svg") >= 3 and "Equity" in page and "Drawdown" in page and "price and trades" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_peer_mode(daily: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        "--data", str(daily), "--mode", "peer", "--strategy", "sma_cross", "--capital", "10000", "--json"
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "peer" and out["params"] == {"fast": 10, "slow": 20} and out["trades"] > 3
    assert out["days"] == 300 and out["risk"]["historical"]["var_99_pct"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strategy", "nope"], "unknown strategy"),
        (["--strategy", "orb", "--param", "buffer_pct"], "--param wants K=V"),
        (["--strategy", "orb", "--param", "buffer_pct=x"], "not a number"),
        (["--strategy", "orb", "--param", "speed=1"], "unknown parameter 'speed'"),
        (["--strategy", "orb", "--param", "buffer_pct=9"], "outside"),
        (["--strategy", "orb,vwap", "--param", "band_pct=0.1"], "say which strategy"),
        (["--strategy", "orb", "--capital", "-5"], "--capital must be positive"),
        (["--strategy", "orb", "--capital", "lots"], "--capital: not a number"),
        (["--strategy", "sma_cross", "--mode", "peer"], "peer mode runs one symbol"),
        (["--strategy", "orb", "--mode", "peer"], "unknown peer strategy"),
        (["--strategy", "sma_cross", "--mode", "peer", "--charges", "zerodha-intraday"], "no costs"),
        (["--strategy", "sma_cross", "--mode", "peer", "--fill", "close"], "next bar's open"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    folder: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--data", str(folder), *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tron backtest: ") and message in err


def test_missing_data_and_unwritable_report(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--data", str(tmp_path / "none.csv"), "--strategy", "orb") == 2
    assert "data file not found" in capsys.readouterr().err
    replay = tmp_path / "day.jsonl"
    replay.write_text('{"ts": "2026-11-23T09:15:00+05:30", "quotes": {}}\n')
    assert run("--data", str(replay), "--strategy", "orb", "--fill", "next-open") == 2
    assert "next-open fill needs bars" in capsys.readouterr().err
    bad = tmp_path / "no-such-dir" / "r.html"
    assert run("--data", str(folder), "--strategy", "orb", "--json", "--report", str(bad)) == 2
    assert "cannot write" in capsys.readouterr().err


def test_a_plan_file_brings_strategies_params_and_limits(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import date

    plan = Plan(date(2026, 11, 19), "rules", "ranging", {Asset.STOCKS: PLAN}).to_doc()
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert run("--data", str(folder), "--plan", str(path), "--capital", "200000", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["strategy"] == "orb+vwap" and out["capital"] == "200000"
    assert out["settings"]["risk"]["max_trades_per_day"] == PLAN.risk.max_trades_per_day
    assert run("--data", str(folder), "--plan", str(path), "--strategy", "orb") == 2
    assert "drop --strategy" in capsys.readouterr().err
    path.write_text("{not json")
    assert run("--data", str(folder), "--plan", str(path)) == 2
    assert "is not a plan document" in capsys.readouterr().err
    assert run("--data", str(folder), "--plan", str(tmp_path / "none.json")) == 2
    assert "cannot read the plan" in capsys.readouterr().err
    assert run("--data", str(folder)) == 2
    assert "say which strategy" in capsys.readouterr().err


def test_registered_in_the_tron_command() -> None:
    from tron.cli import backtest
    from tron.cli.app import build_parser

    args = build_parser().parse_args(["backtest", "--data", "x.csv", "--strategy", "orb"])
    assert args.func is backtest.run


def test_charges_none_never_looks_up_the_charges_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bars from before the dated charges table (2020-07-01): refused with Zerodha's charges, naming the
    date; with --charges none the governor counts no charges, so the table is never consulted."""
    from datetime import date

    old = write_sim_csvs(tmp_path / "2020", symbols=3, days=(date(2026, 11, 23),))
    for f in old.glob("*.csv"):  # the same bars, dated 2020-06-01 (a Monday, as 2026-11-23)
        f.write_text(f.read_text().replace("2026-11-23", "2020-06-01"))
    assert run("--data", str(old), "--strategy", "orb,vwap", "--json") == 2
    assert (
        "no equity_intraday charges known before 2020-07-01 (asked for 2020-06-01)" in capsys.readouterr().err
    )
    assert run("--data", str(old), "--strategy", "orb,vwap", "--charges", "none", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["charges"] == "none" and out["days"] == 1


def test_from_and_to_pick_the_days_of_the_bars(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--data", str(folder), "--strategy", "orb,vwap", "--from", "2026-11-20", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trades"] > 0 and {t["entry_time"][:10] for t in out["trades_list"]} == {"2026-11-20"}
    assert run("--data", str(folder), "--strategy", "orb", "--from", "2026-11-21", "--to", "2026-11-30") == 2
    assert "has no session from 2026-11-21 to 2026-11-30" in capsys.readouterr().err
