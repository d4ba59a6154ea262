"""Live trading switched on, as an operator does it: `tron live arm --date D --reason ...`, then
`TRON_MODE=live tron run-day --date D --broker kite --kite-root URL` against a simulator started separately.
The armed day's orders reach the simulator and its book matches the broker's; the same command on a day
nobody armed runs on paper (in shadow: each order call recorded as Kite would get it), places nothing at
the simulator and says why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.kite_sim import kite_sim_process

pytestmark = pytest.mark.serial  # a simulator on the wall clock: alone, not beside a busy worker

DAY = "2026-11-23"
SIM = ("--date", DAY, "--time", "08:59", "--speed", "1200", "--symbols", "5", "--no-rate-limits")


def tron(data: Path, *args: str, mode: str = "paper") -> subprocess.Popen[str]:
    env = {**os.environ, "TRON_DATA_DIR": str(data), "TRON_MODE": mode}
    return subprocess.Popen(
        [sys.executable, "-m", "tron.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finished(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    return out


def live_day(data: Path, url: str) -> subprocess.Popen[str]:
    args = ("run-day", "--date", DAY, "--symbols", "5", "--broker", "kite", "--kite-root", url, "--json")
    return tron(data, *args, mode="live")


def test_an_armed_day_trades_live_and_an_unarmed_one_runs_on_paper(tmp_path: Path) -> None:
    armed, unarmed = tmp_path / "armed", tmp_path / "unarmed"
    finished(tron(armed, "live", "arm", "--date", DAY, "--reason", "first live day", "--by", "asha"))
    status = json.loads(finished(tron(armed, "live", "status", "--date", DAY, "--json")))
    assert status["armed"] and status["arming"]["by"] == "asha"

    with kite_sim_process(*SIM) as url_a, kite_sim_process(*SIM) as url_b:
        runs = live_day(armed, url_a), live_day(unarmed, url_b)
        live: dict[str, Any] = json.loads(finished(runs[0]))
        paper: dict[str, Any] = json.loads(finished(runs[1]))

    assert live["live"]["live"] is True and "armed by asha: first live day" in live["live"]["why"]
    assert live["orders_placed"] > 0 and live["kite"]["orders"] >= live["orders_placed"]
    assert live["kite"]["book_matches_broker"] and live["kite"]["open_positions"] == {}

    assert paper["live"]["live"] is False and "not armed: no control/live_arm" in paper["live"]["why"]
    assert paper["orders_placed"] > 0 and paper["kite"] == {
        "simulator": url_b,
        "paper_day": True,
        "orders": 0,
    }
    assert paper["shadow"]["calls"] >= paper["orders_placed"]  # an unarmed live day is a shadow day

    later = json.loads(finished(tron(armed, "live", "status", "--date", "2026-11-24", "--json")))
    assert not later["armed"] and "expired" in later["why_not"]


def test_a_smoke_run_on_an_armed_day_and_none_on_paper(tmp_path: Path) -> None:
    with kite_sim_process("--date", DAY, "--time", "10:00", "--speed", "1", "--no-rate-limits") as url:
        smoke = ("live", "smoke", "--date", DAY, "--kite-root", url)
        refused = tron(tmp_path, *smoke, mode="live")
        refused.communicate(timeout=60)
        assert refused.returncode == 2  # not armed: nothing placed
        finished(tron(tmp_path, "live", "arm", "--date", DAY, "--reason", "smoke day"))
        out = json.loads(finished(tron(tmp_path, *smoke, "--json", mode="live")))
    share, lot = out["legs"]
    assert (share["symbol"], share["qty"], lot["qty"]) == ("RELIANCE", 1, 65)
    assert all(leg["broker_position"] == 0 and leg["steps"]["exit"] == "filled" for leg in out["legs"])
