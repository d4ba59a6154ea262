"""The F&O calculators (charges, expiries, greeks, iv) through the `tron` command."""

from __future__ import annotations

import json

import pytest

from tron.cli import main


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def test_charges_json(capsys):
    rc, out, _ = run(
        [
            "charges",
            "--segment",
            "options",
            "--buy",
            "100",
            "--sell",
            "120",
            "--qty",
            "650",
            "--date",
            "2026-04-01",
            "--json",
        ],
        capsys,
    )
    assert rc == 0
    d = json.loads(out)
    assert d["date"] == "2026-04-01"
    assert {
        k: d[k] for k in ("turnover", "brokerage", "stt", "transaction", "sebi", "stamp_duty", "gst", "total")
    } == {
        "turnover": 143000.0,
        "brokerage": 40.0,
        "stt": 117.0,
        "transaction": 50.81,
        "sebi": 0.14,
        "stamp_duty": 1.95,
        "gst": 16.37,
        "total": 226.27,
    }


def test_charges_default_date_is_reported(capsys):
    rc, out, err = run(
        ["charges", "--segment", "futures", "--buy", "24000", "--sell", "24100", "--qty", "65"], capsys
    )
    assert rc == 0
    assert "2026-04-01" in out and "2026-04-01" in err
    assert "932.60" in out


FUTURES_CHARGES = ["charges", "--segment", "futures", "--buy", "1", "--sell", "1", "--qty", "1"]


@pytest.mark.parametrize(
    ("argv", "arg"),
    [
        (["charges", "--segment", "crypto", "--buy", "1", "--sell", "1", "--qty", "1"], "--segment"),
        (["charges", "--segment", "futures", "--buy", "x", "--sell", "1", "--qty", "1"], "--buy"),
        (["charges", "--segment", "futures", "--buy", "1", "--sell", "1", "--qty", "0"], "--qty"),
        (
            [*FUTURES_CHARGES, "--date", "2026-13-01"],
            "--date",
        ),
        (
            [*FUTURES_CHARGES, "--date", "2020-01-01"],
            "--date",
        ),
        (["expiries", "--underlying", "NIFTY", "--from", "2024-01-01", "--to", "2024-12-31"], "--from"),
        (["expiries", "--underlying", "NIFTY", "--from", "2026-02-01", "--to", "2026-01-01"], "--to"),
        (
            [
                "expiries",
                "--underlying",
                "BANKNIFTY",
                "--from",
                "2026-01-01",
                "--to",
                "2026-02-01",
                "--kind",
                "weekly",
            ],
            "--kind",
        ),
        (
            [
                "greeks",
                "--type",
                "CE",
                "--spot",
                "-5",
                "--strike",
                "100",
                "--days",
                "7",
                "--rate",
                "0.06",
                "--vol",
                "0.2",
            ],
            "--spot",
        ),
        (
            [
                "greeks",
                "--type",
                "XX",
                "--spot",
                "5",
                "--strike",
                "100",
                "--days",
                "7",
                "--rate",
                "0.06",
                "--vol",
                "0.2",
            ],
            "--type",
        ),
        (
            [
                "iv",
                "--type",
                "CE",
                "--spot",
                "24000",
                "--strike",
                "23000",
                "--days",
                "7",
                "--rate",
                "0.065",
                "--premium",
                "500",
            ],
            "--premium",
        ),
        (
            [
                "iv",
                "--type",
                "CE",
                "--spot",
                "24000",
                "--strike",
                "23000",
                "--days",
                "0",
                "--rate",
                "0.065",
                "--premium",
                "1500",
            ],
            "--days",
        ),
    ],
)
def test_bad_input_exit_2_names_argument(argv, arg, capsys):
    rc, _, err = run(argv, capsys)
    assert rc == 2
    assert arg in err


def test_expiries_json(capsys):
    rc, out, _ = run(
        [
            "expiries",
            "--underlying",
            "NIFTY",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--kind",
            "all",
            "--json",
        ],
        capsys,
    )
    assert rc == 0
    assert json.loads(out) == ["2026-11-03", "2026-11-09", "2026-11-17", "2026-11-23"]


def test_expiries_monthly_text(capsys):
    rc, out, _ = run(
        [
            "expiries",
            "--underlying",
            "BANKNIFTY",
            "--from",
            "2026-03-01",
            "--to",
            "2026-04-30",
            "--kind",
            "monthly",
        ],
        capsys,
    )
    assert rc == 0
    assert out.split() == ["2026-03-30", "Mon", "2026-04-28", "Tue"]


def test_greeks_and_iv_roundtrip(capsys):
    common = ["--type", "PE", "--spot", "24000", "--strike", "23800", "--days", "7", "--rate", "0.065"]
    rc, out, _ = run(["greeks", *common, "--vol", "0.15", "--json"], capsys)
    assert rc == 0
    g = json.loads(out)
    assert set(g) == {"price", "delta", "gamma", "vega", "theta", "rho"}
    assert -0.5 < g["delta"] < 0 and g["gamma"] > 0 and g["vega"] > 0 and g["theta"] < 0 and g["rho"] < 0
    rc, out, _ = run(["iv", *common, "--premium", repr(g["price"]), "--json"], capsys)
    assert rc == 0
    assert json.loads(out)["iv"] == pytest.approx(0.15, abs=1e-9)
    rc, out, _ = run(["greeks", *common, "--vol", "0.15"], capsys)
    assert rc == 0 and out.startswith("price")
