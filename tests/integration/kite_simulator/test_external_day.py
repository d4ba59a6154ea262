"""`tron run-day --broker kite --kite-root URL`: a whole day against a simulator started separately, with
faults injected from outside through its control API while the day runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import settings
from tests.support.kite_sim import kite_sim_process, running_kite_sim
from tron.runday.external import ExternalSimError, control, run_external_day

pytestmark = pytest.mark.serial  # a simulator on the wall clock: alone, not beside a busy worker

DAY = "2026-11-23"
SPEED = 800  # simulated seconds a second: the day (08:59–15:46) in some 31 s


def _sim_time(url: str) -> datetime:
    return datetime.fromisoformat(control(url, "clock")["now"])


def _wait_for(url: str, hhmm: str, proc: subprocess.Popen[str]) -> datetime:
    """Wait until the simulator's clock shows `hhmm` (failing if the day's process has ended)."""
    while (now := _sim_time(url)).strftime("%H:%M") < hhmm:
        assert proc.poll() is None, "tron run-day ended early"
        time.sleep(0.05)
    return now


def _tron(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tron.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.fixture
def simulator() -> Iterator[str]:
    args = ("--date", DAY, "--time", "08:59", "--speed", str(SPEED), "--symbols", "5", "--no-rate-limits")
    with kite_sim_process(*args) as url:
        yield url


def test_a_day_against_a_separate_simulator_survives_a_manual_order_and_a_lost_session(
    simulator: str, tmp_path: Path
) -> None:
    def run_day(how: str) -> subprocess.Popen[str]:
        env = {**os.environ, "TRON_DATA_DIR": str(tmp_path / how)}
        args = ("run-day", "--date", DAY, "--symbols", "5", f"--{how}", "kite", "--kite-root", simulator)
        return _tron(*args, "--json", env=env)

    day, paper = run_day("broker"), run_day("market")
    try:
        # The trader buys on the Kite app mid-morning: an untagged order TRON did not place.
        _wait_for(simulator, "10:30", day)
        manual = control(
            simulator,
            "orders",
            {
                "exchange": "NSE",
                "tradingsymbol": "ASIANPAINT",
                "transaction_type": "BUY",
                "quantity": 3,
                "order_type": "MARKET",
                "product": "MIS",
            },
        )
        # At 13:00 the session dies (as a logout on another device does).
        lost_at = _wait_for(simulator, "13:00", day)
        assert control(simulator, "invalidate-token", {})["expired"]
        out, err = day.communicate(timeout=120)
        paper_out, paper_err = paper.communicate(timeout=60)
    finally:
        for proc in (day, paper):
            proc.kill() if proc.poll() is None else None
    assert day.returncode == 0, err[-3000:]
    result = json.loads(out)

    state = control(simulator, "state")
    orders = {o["order_id"]: o for o in state["orders"]}
    assert orders[manual["order_id"]]["source"] == "manual"
    tron_orders = [o for o in orders.values() if o.get("tag")]
    assert tron_orders, "TRON placed no order before the session was lost"
    # No order of TRON's reached the account once the session was gone.
    assert all(
        datetime.fromisoformat(o["order_timestamp"]) < lost_at.replace(tzinfo=None) for o in tron_orders
    )
    ticks = (Path(result["logs"]) / "tick_stocks.jsonl").read_text().splitlines()
    lost = [json.loads(x) for x in ticks if "market data unavailable" in x]
    assert lost and all(e["severity"] == "ERROR" and "TokenException" in e["message"] for e in lost)
    # The next tick saw the account hold 3 ASIANPAINT more than the book: drift, an ERROR, entries on it
    # stop, and TRON's exit is clamped to what the broker holds (never past the manual 3).
    events = [json.loads(x) for x in ticks]
    drift = [e["data"] for e in events if e["message"].startswith("drift: ASIANPAINT")]
    assert drift and all(e["severity"] == "ERROR" for e in events if e["message"].startswith("drift:"))
    assert drift[0]["broker"] - drift[0]["book"] == 3
    kite = result["kite"]
    assert kite["manual_orders"] == 1
    assert any(m.startswith("ASIANPAINT:") for m in kite["mismatches"])  # reported, never adopted

    # Paper on the same simulator's quotes, at the same time: its fills never reach the account.
    assert paper.returncode == 0, paper_err[-3000:]
    on_paper = json.loads(paper_out)
    assert (on_paper["broker"], on_paper["market"]) == ("paper", "kite") and "kite" not in on_paper
    assert on_paper["orders_placed"] > 0


def test_a_simulator_on_another_day_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with running_kite_sim() as handle:  # on 2026-11-23
        with pytest.raises(ExternalSimError, match="is on 2026-11-23, not 2026-11-25"):
            run_external_day(settings(tmp_path), date(2026, 11, 25), handle.url)
        assert handle.sim.book.orders == {} and not (tmp_path / "runs").exists()
