"""`tron kite-sim`: the listening line, serving, and bad options."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

import pytest
from kiteconnect import KiteConnect

from tests.support.kite_sim import kite_sim_process
from tron.runday.external import ExternalSimError, control

pytestmark = pytest.mark.serial  # a simulator on the wall clock: alone, not beside a busy worker


def test_tron_kite_sim_prints_the_listening_line_and_serves() -> None:
    args = (
        "--date",
        "2026-11-23",
        "--time",
        "10:00",
        "--speed",
        "60",
        "--api-key",
        "k1",
        "--api-secret",
        "s1",
    )
    with kite_sim_process(*args, "--symbols", "5") as url:
        kite = KiteConnect("k1", root=url)
        s = kite.generate_session("rt", "s1")
        assert s["login_time"].date() == date(2026, 11, 23)
        assert kite.ltp("NSE:NIFTY 50")["NSE:NIFTY 50"]["last_price"] > 0
        assert len(kite.instruments("NSE")) == 6  # 5 stocks and the index
        # A restart ordered through the control API comes back on the same port: the process keeps serving.
        assert control(url, "restart", {})["restarting"]
        time.sleep(1.5)  # down from 0.1 s after the answer, for half a second once the server has stopped
        for _ in range(200):
            time.sleep(0.05)
            try:
                if control(url, "clock")["api_key"] == "k1":
                    break
            except ExternalSimError:
                continue
        else:
            pytest.fail("tron kite-sim did not listen again after a restart")


def test_tron_kite_sim_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "tron.cli", "kite-sim", "--speed", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and "--speed: must be a positive number" in p.stderr
    from tron.cli import main as tron_main  # the command's own main() went with the move to tron/cli/

    for args in (["--time", "25:99"], ["--date", "2026-13-01"], ["--port", "70000"], ["--api-key", ""]):
        with pytest.raises(SystemExit) as e:
            tron_main(["kite-sim", *args])
        assert e.value.code == 2 and args[0] in capsys.readouterr().err


def test_tron_kite_sim_synchronous_ends_an_order_inside_the_call() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tron.cli",
            "kite-sim",
            "--date",
            "2026-11-23",
            "--time",
            "10:00",
            "--symbols",
            "5",
            "--synchronous",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("listening on ")
        kite = KiteConnect("sim", root=url)
        kite.set_access_token(kite.generate_session("rt", "sim-secret")["access_token"])
        oid = kite.place_order(
            "regular",
            exchange="NSE",
            tradingsymbol="AXISBANK",
            transaction_type="BUY",
            quantity=1,
            product="MIS",
            order_type="MARKET",
            market_protection=-1,
        )
        assert kite.order_history(oid)[-1]["status"] == "COMPLETE"  # no wait: the replay setting
    finally:
        proc.terminate()
        proc.wait(timeout=10)
