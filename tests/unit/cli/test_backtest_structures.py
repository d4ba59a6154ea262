"""`tron backtest --strategy TEMPLATE --data generated`: an options structure over simulated days through the
CLI (JSON with each day's structures and the totals, the table, the HTML report, a template file), and every
bad input answered with a message on stderr and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.backtest import write_sim_csvs
from tron.cli import main

DAY = "2026-11-23"  # a Monday: the straddle's call stops out at 12:15


@pytest.fixture(autouse=True)
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a one-lot short straddle needs (with --capital 450000, the backtest's whole account)."""
    monkeypatch.setenv("TRON_RISK__DAILY_LOSS_LIMIT", "30000")
    monkeypatch.setenv("TRON_RISK__DAILY_LOSS_LIMIT_PCT", "10")


def run(*argv: str) -> int:
    return main(["backtest", *argv])


def test_a_template_over_generated_days_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--strategy", "straddle_920", "--data", "generated", "--from", DAY, "--to", DAY]
    assert run(*argv, "--capital", "450000", "--seed", "7", "--json") == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert captured.err == ""
    assert out["strategy"] == "straddle_920" and out["days"] == 1 and out["trades"] == 2
    assert out["settings"]["fill"] == "next-quote" and out["settings"]["square_off"] == [
        "15:15",
        "15:17",
        "15:19",
    ]
    st = out["structures"]
    assert st["template"] == "straddle_920" and float(st["spec"]["mtm_sl"]) == 6000
    (day,) = st["days"]
    (s,) = day["structures"]
    assert day["date"] == DAY and s["entry_time"].startswith(f"{DAY}T09:20") and s["exit_reason"]
    assert {(leg["side"], leg["type"], leg["qty"]) for leg in s["legs"]} == {
        ("SELL", "CE", 65),
        ("SELL", "PE", 65),
    }
    assert any(leg["exit_reason"].endswith("filled at the broker") for leg in s["legs"])
    assert all(leg["entry_price"] > 0 and leg["exit_price"] > 0 for leg in s["legs"])
    tot = st["totals"]
    assert tot["net_pnl"] == pytest.approx(s["net_pnl"]) == pytest.approx(float(out["final_equity"]) - 450000)
    assert tot["charges"] > 0 and tot["days"] == tot["traded_days"] == 1 and "mtm_path" not in s
    assert run(*argv, "--capital", "450000", "--seed", "8", "--json") == 0  # another market
    assert json.loads(capsys.readouterr().out)["structures"]["days"][0] != day


def test_a_template_file_the_table_and_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "mine.yaml"
    spec.write_text(
        "my_strangle:\n  entry: '10:00'\n  exit: '14:00'\n  legs:\n"
        "    - {side: SELL, type: CE, strike: OTM3, sl: '40%'}\n"
        "    - {side: SELL, type: PE, strike: OTM3, sl: '40%'}\n"
    )
    report = tmp_path / "out.html"
    code = run(
        "--strategy", str(spec), "--data", "generated", "--from", DAY, "--to", DAY, "--capital", "450000",
        "--report", str(report),
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "my_strangle: day by day" in out and "exit time 14:00" in out and str(report) in out
    page = report.read_text()
    assert "Equity" in page and "NIFTY" in page and "<script" not in page


def test_a_refused_day_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "--strategy",
        "straddle_920",
        "--data",
        "generated",
        "--from",
        DAY,
        "--to",
        DAY,
        "--capital",
        "60000",
    ]
    assert run(*argv, "--json") == 0
    (day,) = json.loads(capsys.readouterr().out)["structures"]["days"]
    assert not day["structures"] and any("above the maximum" in why for why in day["refused"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strategy", "straddle_921"], "unknown strategy or options template 'straddle_921'"),
        (["--strategy", "nope.yaml"], "template file nope.yaml does not exist"),
        (["--strategy", "straddle_920", "--from", "2026-11-27", "--to", "2026-11-02"], "is after --to"),
        (
            ["--strategy", "straddle_920", "--from", "2026-11-14", "--to", "2026-11-15"],
            "no trading day from 2026-11-14 to 2026-11-15",
        ),
        (["--strategy", "straddle_920", "--from", "2026-11-23"], "needs the days: --from D --to D"),
        (["--strategy", "straddle_920", "--from", DAY, "--to", DAY, "--param", "x=1"], "takes no --param"),
        (["--strategy", "straddle_920", "--from", DAY, "--to", DAY, "--fill", "next-open"], "next-quote"),
        (["--strategy", "straddle_920", "--from", DAY, "--to", DAY, "--mode", "peer"], "peer mode"),
        (["--strategy", "straddle_920", "--from", DAY, "--to", DAY, "--symbols", "0"], "--symbols N"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--data", "generated", *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tron backtest: ") and message in err, err


def test_the_template_names_are_listed_and_bars_carry_no_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--data", "generated", "--strategy", "condor", "--from", DAY, "--to", DAY) == 2
    err = capsys.readouterr().err
    assert "straddle_920" in err and "iron_condor" in err and "orb" in err
    folder = write_sim_csvs(tmp_path / "bars", symbols=2)
    assert run("--data", str(folder), "--strategy", "straddle_920") == 2
    assert "--data generated" in capsys.readouterr().err


def test_a_range_of_bar_sessions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--from/--to keep the sessions of a range of any data; a range outside it is refused."""
    folder = write_sim_csvs(tmp_path / "bars", symbols=2)
    assert run("--data", str(folder), "--strategy", "orb", "--from", "2026-11-20", "--json") == 0
    assert json.loads(capsys.readouterr().out)["days"] == 1
    assert run("--data", str(folder), "--strategy", "orb", "--to", "2026-11-01") == 2
    assert "has no session from … to 2026-11-01" in capsys.readouterr().err


def test_stock_strategies_over_generated_days(capsys: pytest.CaptureFixture[str]) -> None:
    """The same simulated days for the registry strategies: the stocks' ticks, their square-off, no
    structures."""
    argv = ["--strategy", "orb,vwap", "--data", "generated", "--from", DAY, "--to", DAY, "--symbols", "5"]
    assert run(*argv, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["days"] == 1 and out["trades"] > 0 and "structures" not in out
    assert out["settings"]["fill"] == "next-quote" and out["settings"]["square_off"] == [
        "15:10",
        "15:12",
        "15:14",
    ]
    first_five = {"ADANIENT", "ADANIPORTS", "APOLLOHOSP", "ASIANPAINT", "AXISBANK"}  # --symbols 5
    assert {t["symbol"] for t in out["trades_list"]} <= first_five
