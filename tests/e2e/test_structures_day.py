"""Multi-leg option structures through a whole simulated day, as `tron run-day --options-template NAME`
runs them: every shipped template trades on paper and reports its structure with its legs; the hedges reach
the broker before the sold legs and leave after them; each leg is placed exactly once with every message
delivered twice."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import TRADING_DAY, settings
from tests.support.logs import tron_records
from tron import cli
from tron.ports import BrokerUnavailable
from tron.runday.embedded import prepare, run_day

# A short straddle of one NIFTY lot at 25% stops risks about ₹14,000 with the options slippage band, and
# blocks about ₹2 lakh of margin: the options asset gets 50% of the ₹10 lakh account (and trades alone).
WIDE = {"daily_loss_limit": 30000, "daily_loss_limit_pct": 5}
MARGIN = {"options": {"capital_pct": 50}, "stocks": {"enabled": False}, "futures": {"enabled": False}}
TEMPLATES = ("straddle_920", "strangle_30sl", "iron_condor", "bull_call_spread", "long_option")
LEG_KEYS = {
    "side", "type", "strike", "expiry", "qty", "symbol", "reentry", "entry_time", "entry_price", "exit_time",
    "exit_price", "exit_reason",
}  # fmt: skip


def structure_day(tmp: Path, template: str, **kw: Any) -> tuple[dict[str, Any], Any]:
    s = settings(tmp, symbols=3, risk=WIDE, assets=MARGIN, options={"template": template}, **kw)
    run = prepare(s, TRADING_DAY, tmp / "run")
    return run_day(s, TRADING_DAY, run=run), run


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_trades_a_paper_day_and_reports_its_legs(tmp_path: Path, template: str) -> None:
    result, _ = structure_day(tmp_path, template)
    options = result["assets"]["options"]
    (st,) = options["structures"]
    assert st["template"] == template and st["exit_reason"] and st["exit_time"]
    assert options["open_positions_at_close"] == 0
    assert st["net_pnl"] == pytest.approx(options["net_pnl"], abs=0.01)  # the asset traded only this
    page = Path(result["report_html"]).read_text()
    assert f"options: {st['id']}" in page and "minutes of MTM" in page and st["exit_reason"] in page
    for leg in st["legs"]:
        assert set(leg) == LEG_KEYS and leg["qty"] == 65 and leg["side"] in ("BUY", "SELL")
        assert leg["entry_price"] > 0 and leg["exit_price"] > 0 and leg["exit_time"] > leg["entry_time"]


def test_hedges_reach_the_broker_first_and_leave_last_exactly_once_under_redelivery(tmp_path: Path) -> None:
    result, run = structure_day(tmp_path, "iron_condor", redeliver_fraction=1.0)
    (st,) = result["assets"]["options"]["structures"]
    orders = sorted(
        (d["ts"], d["side"], d["tag"], d["symbol"])
        for _, d in run.deps.store.list(f"paper/{TRADING_DAY}/orders")
        if d["symbol"] in {leg["symbol"] for leg in st["legs"]}
    )
    side_of = {leg["symbol"]: leg["side"] for leg in st["legs"]}
    opens = [o for o in orders if o[1] == side_of[o[3]]]
    closes = [o for o in orders if o[1] != side_of[o[3]]]
    assert len(opens) == len(closes) == 4  # one order per leg each way: duplicates never placed
    assert max(o[0] for o in opens if side_of[o[3]] == "BUY") < min(
        o[0] for o in opens if side_of[o[3]] == "SELL"
    )
    assert max(o[0] for o in closes if side_of[o[3]] == "SELL") < min(
        o[0] for o in closes if side_of[o[3]] == "BUY"
    )
    assert result["duplicate_deliveries_ignored"] > 0


def test_run_day_takes_a_template_or_a_spec_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRON_RISK__DAILY_LOSS_LIMIT", "30000")
    monkeypatch.setenv("TRON_RISK__DAILY_LOSS_LIMIT_PCT", "5")
    monkeypatch.setenv("TRON_ASSETS__OPTIONS__CAPITAL_PCT", "50")
    monkeypatch.setenv("TRON_ASSETS__STOCKS__ENABLED", "false")
    spec = tmp_path / "mine.yaml"
    spec.write_text(
        "my_strangle:\n  entry: '10:00'\n  exit: '14:00'\n  legs:\n"
        "    - {side: SELL, type: CE, strike: OTM3, sl: '40%'}\n"
        "    - {side: SELL, type: PE, strike: OTM3, sl: '40%'}\n"
    )
    argv = ["run-day", "--date", TRADING_DAY.isoformat(), "--symbols", "3", "--json", "--options-template"]
    assert cli.main([*argv, str(spec)]) == 0
    (st,) = json.loads(capsys.readouterr().out)["assets"]["options"]["structures"]
    assert (st["template"], st["entry_time"][11:16], st["exit_reason"]) == (
        "my_strangle",
        "10:00",
        "exit time 14:00",
    )
    assert cli.main([*argv, "no_such_template"]) == 2
    assert "config key options.template" in capsys.readouterr().err


def test_stops_resting_at_the_broker_move_to_cost_and_legs_re_enter(tmp_path: Path) -> None:
    """The management rules on the live path: each leg's stop rests at the broker, moves to cost after the
    other's stop filled (a trail intent modifies it), and a stopped leg enters again once, with its own
    stop; everything is flat at the close and the report has one row per entry."""
    mine = {
        "entry": "09:20",
        "exit": "15:10",
        "move_sl_to_cost": True,
        "reentry": {"on": "sl", "mode": "immediate", "max": 1, "until": "13:00"},
        "legs": [
            {"side": "SELL", "type": "CE", "strike": "ATM", "sl": "4%"},
            {"side": "SELL", "type": "PE", "strike": "ATM", "sl": "4%"},
        ],
    }
    options = {"template": "mine", "templates": {"mine": mine}}
    s = settings(tmp_path, symbols=3, risk=WIDE, assets=MARGIN, options=options, redeliver_fraction=0.3)
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    result = run_day(s, TRADING_DAY, run=run)
    (st,) = result["assets"]["options"]["structures"]
    assert (
        result["assets"]["options"]["open_positions_at_close"] == 0
        and result["book_matches_broker"] is not False
    )
    rows = st["legs"]
    assert any(r["reentry"] == 1 and r["entry_price"] for r in rows), rows
    assert any(r["exit_reason"].startswith("stop ") for r in rows)
    intents = [d for _, d in run.deps.store.list(f"days/{TRADING_DAY}/intents") if d["strategy"] == st["id"]]
    entries = [d for d in intents if d["purpose"] == "entry" and d["state"] == "filled"]
    assert len(entries) == len([r for r in rows if r["entry_price"]])
    moved = {
        d["symbol"]: d["trigger"] for d in intents if d["purpose"] == "trail" and d["state"] == "resting"
    }
    assert moved  # a resting stop moved to cost
    for r in rows:  # a stop that filled after it moved is reported at its moved trigger
        if r["symbol"] in moved and r["exit_reason"].startswith("stop ") and r["reentry"] == 0:
            assert r["exit_reason"] == f"stop {moved[r['symbol']]:g} filled at the broker"


class FakeMargins:
    """The broker's margin calculator as the tick sees it (tron.ports.Margins)."""

    def __init__(self, required: str, available: str, down: bool = False) -> None:
        self.required, self.free, self.down, self.asked = Decimal(required), Decimal(available), down, 0

    def basket(self, legs: list[Any]) -> Decimal:
        self.asked += 1
        if self.down:
            raise BrokerUnavailable("503 from Kite")
        assert {p.side.value for p in legs} == {"SELL"} and len(legs) == 2
        return self.required

    def available(self) -> Decimal:
        return self.free


def test_the_brokers_basket_margin_past_the_accounts_funds_refuses_the_structure(tmp_path: Path) -> None:
    s = settings(tmp_path, symbols=3, risk=WIDE, assets=MARGIN, options={"template": "straddle_920"})
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    run.deps.margins = FakeMargins("250000.00", "180000.00")
    result = run_day(s, TRADING_DAY, run=run)
    assert result["assets"]["options"]["structures"] == [] and result["assets"]["options"]["trades"] == 0
    log = (Path(result["logs"]) / "tick_options.jsonl").read_text()
    assert "the broker's basket margin ₹250000.00 exceeds the ₹180000.00 available" in log


def test_without_the_brokers_answer_the_structure_enters_on_trons_estimate(tmp_path: Path) -> None:
    s = settings(tmp_path, symbols=3, risk=WIDE, assets=MARGIN, options={"template": "straddle_920"})
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    run.deps.margins = margins = FakeMargins("0", "0", down=True)
    with tron_records() as logs:
        result = run_day(s, TRADING_DAY, run=run)
    (st,) = result["assets"]["options"]["structures"]
    assert margins.asked == 1 and st["margin"] > 100_000  # the SPAN-like estimate
    assert logs.at("WARNING", "the broker's margin for straddle_920 not read, TRON's estimate used")


def test_an_iron_condor_through_the_kite_simulator_matches_the_broker(tmp_path: Path) -> None:
    """--broker kite-sim: the legs go through the Kite adapters and the official client into the
    simulator's matching engine, Kite's basket margin is asked first, and the book matches the broker's."""
    s = settings(tmp_path, symbols=3, risk=WIDE, assets=MARGIN, options={"template": "iron_condor"})
    run = prepare(s, TRADING_DAY, tmp_path / "run", broker="kite-sim")
    assert run.deps.margins is not None
    result = run_day(s, TRADING_DAY, run=run)
    (st,) = result["assets"]["options"]["structures"]
    assert len([leg for leg in st["legs"] if leg["exit_price"]]) == 4
    assert result["kite"]["book_matches_broker"] and result["kite"]["open_positions"] == {}
    assert 0 < st["margin"] < 120_000  # Kite's figure for the hedged basket (a naked straddle: about ₹2 lakh)


def test_a_recorded_days_chain_backtests_the_structure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The close keeps the day's option chains; `tron backtest --data <archive>/chains --strategy T` replays
    them: the same legs at the same minutes and prices (a condor without leg stops; a chain has no candles,
    so legs' stops would be checked by the tick and a stop's fill could differ)."""
    result, run = structure_day(tmp_path, "iron_condor")
    (live,) = result["assets"]["options"]["structures"]
    chains = run.root / "archive" / "chains"
    assert (chains / TRADING_DAY.isoformat() / "NIFTY.parquet").is_file()
    assert (
        cli.main(
            ["backtest", "--data", str(chains), "--strategy", "iron_condor", "--capital", "500000", "--json"]
        )
        == 0
    )
    (day,) = json.loads(capsys.readouterr().out)["structures"]["days"]
    (replayed,) = day["structures"]
    assert [leg["symbol"] for leg in replayed["legs"]] == [leg["symbol"] for leg in live["legs"]]
    assert [leg["entry_time"] for leg in replayed["legs"]] == [leg["entry_time"] for leg in live["legs"]]
    assert replayed["exit_reason"] == live["exit_reason"]
    fills = [(leg["entry_price"], leg["exit_price"]) for leg in replayed["legs"]]
    assert fills == [(leg["entry_price"], leg["exit_price"]) for leg in live["legs"]]  # no stops: the same
    assert cli.main(["backtest", "--data", str(tmp_path / "none"), "--strategy", "iron_condor"]) == 2
    assert "no recorded option chain" in capsys.readouterr().err


def test_a_leg_above_the_freeze_quantity_trades_in_slices_through_the_kite_simulator(tmp_path: Path) -> None:
    """28 lots of a NIFTY call (1,820 > NSE's freeze quantity of 1,800, which the simulator enforces): the
    entry, its resting stop and the exit that converts it each go to Kite as two orders under their own tags,
    the book matches the broker, and brokerage is charged per slice (₹20 each)."""
    big = {"entry": "09:45", "exit": "15:10", "legs": [{"side": "BUY", "type": "CE", "strike": "ATM", "lots": 28,
           "sl": "30%", "target": "50%"}]}  # fmt: skip
    risk = {
        "capital": 3_000_000,
        "daily_loss_limit": 400_000,
        "daily_loss_limit_pct": 40,
        "max_position_pct": 50,
    }
    assets = {**MARGIN, "options": {"capital_pct": 100}}
    s = settings(
        tmp_path, symbols=3, risk=risk, assets=assets, options={"template": "big", "templates": {"big": big}}
    )
    run = prepare(s, TRADING_DAY, tmp_path / "run", broker="kite-sim")
    result = run_day(s, TRADING_DAY, run=run)
    (st,) = result["assets"]["options"]["structures"]
    (leg,) = st["legs"]
    assert leg["qty"] == 1820 and leg["exit_price"] > 0
    assert result["kite"]["book_matches_broker"] and result["kite"]["open_positions"] == {}
    assert result["kite"]["orders"] == result["kite"]["orders_tagged_by_tron"] == 4  # 2 entry, 2 stop→exit
    filled = [d for _, d in run.deps.store.list(f"days/{TRADING_DAY}/intents") if d.get("state") == "filled"]
    assert sorted(len(d["order_id"].split("+")) for d in filled) == [2, 2]
    assert [d["fill"]["charges"]["brokerage"] for d in filled] == ["40.00", "40.00"]
