"""`tron run-day`: combinations of options that cannot work are refused before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tron.cli import main


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--broker", "kite"], "need --kite-root"),
        (["--market", "kite"], "need --kite-root"),
        (["--kite-root", "http://127.0.0.1:9"], "--kite-root goes with --broker kite"),
        (
            ["--broker", "kite", "--market", "kite-sim", "--kite-root", "http://127.0.0.1:9"],
            "leave out --market",
        ),
        (
            ["--broker", "kite", "--kite-root", "http://127.0.0.1:9", "--backend", "emulators"],
            "embedded backend",
        ),
        (["--broker", "kite-sim", "--backend", "emulators"], "embedded backend"),
        (["--redeliver", "0.5", "--backend", "emulators"], "Pub/Sub redelivers"),
    ],
)
def test_options_that_cannot_work_together_exit_2(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run-day", "--date", "2026-11-23", *args]) == 2
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize("root", ["http://example.com:8000", "https://api.kite.trade", "not a url", ""])
def test_the_external_simulator_must_be_on_this_machine(
    root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        main(["run-day", "--broker", "kite", "--kite-root", root])
    assert e.value.code == 2 and "not a loopback URL" in capsys.readouterr().err


def test_no_simulator_at_the_root_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 (discard) has no listener on a test machine: the connection is refused at once.
    assert (
        main(["run-day", "--date", "2026-11-23", "--broker", "kite", "--kite-root", "http://127.0.0.1:9"])
        == 1
    )
    assert "no Kite simulator answers at http://127.0.0.1:9" in capsys.readouterr().err


def test_run_days_runs_each_trading_day_and_totals_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRON_DATA_DIR", str(tmp_path))
    assert main(["run-days", "--from", "2026-11-21", "--to", "2026-11-23", "--symbols", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (day,) = out["days"]  # the weekend is skipped
    assert day["date"] == "2026-11-23" and out["total"]["days"] == 1
    assert out["total"]["net_pnl"] == day["net_pnl"] and out["total"]["trades"] == day["trades"] > 0


@pytest.mark.parametrize(
    ("span", "needle"),
    [
        (["--from", "2026-11-23", "--to", "2026-11-20"], "is after --to"),
        (["--from", "2026-11-21", "--to", "2026-11-22"], "no trading day"),
        (["--from", "2025-01-01", "--to", "2026-11-23"], "at most 260"),
    ],
)
def test_run_days_refuses_a_span_it_cannot_run(
    span: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run-days", *span]) == 2
    assert needle in capsys.readouterr().err
