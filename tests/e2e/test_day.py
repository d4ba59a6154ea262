"""A whole simulated trading day through the services, as `tron run-day` runs it."""

from __future__ import annotations

import json
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.days import HOLIDAY, TRADING_DAY, settings
from tron import cli
from tron.domain.models import IntentState
from tron.runday.embedded import prepare, run_day
from tron.services.deps import Deps


def intents(deps: Deps, day=TRADING_DAY) -> list[dict]:
    return [d for _, d in deps.store.list(f"days/{day}/intents")]


def paper_orders(deps: Deps, day=TRADING_DAY) -> list[dict]:
    return [d for _, d in deps.store.list(f"paper/{day}/orders")]


@pytest.fixture(scope="module")
def redelivered_day(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("day-redelivered")
    s = settings(tmp, redeliver_fraction=1.0)  # every message delivered twice (it once never finished)
    run = prepare(s, TRADING_DAY, tmp / "run")
    result = run_day(s, TRADING_DAY, run=run)
    return result, run


def test_the_day_trades(redelivered_day) -> None:
    result, _ = redelivered_day
    assert result["trading_day"] is True
    assert result["assets"]["stocks"]["trades"] > 5
    assert result["orders_placed"] > 10


def test_every_intent_is_executed_exactly_once_under_redelivery(redelivered_day) -> None:
    result, run = redelivered_day
    assert result["duplicate_deliveries_ignored"] > 0
    assert (
        result["bus"]["redelivered"] == result["duplicate_deliveries_ignored"] == result["bus"]["published"]
    )
    docs = intents(run.deps)
    assert all(IntentState(d["state"]).terminal for d in docs)
    orders = paper_orders(run.deps)
    tags = [o["tag"] for o in orders]
    assert len(tags) == len(set(tags))  # one broker order per intent at most
    # every broker order is an intent's own (an exit that converted a resting stop names the stop's order)
    assert {o["order_id"] for o in orders} == {d["order_id"] for d in docs if d.get("order_id")}
    assert len(orders) == result["orders_placed"]
    assert result["stops_filled"] > 0  # stops that rested at the broker and filled there


def test_nothing_is_open_at_the_close_and_square_off_beats_the_broker(redelivered_day) -> None:
    result, run = redelivered_day
    assert all(a["open_positions_at_close"] == 0 for a in result["assets"].values())
    fills = [datetime.fromisoformat(d["fill"]["at"]) for d in intents(run.deps) if "fill" in d]
    assert max(fills).time() < time(15, 20)  # Zerodha squares off equity MIS at 15:20


def test_the_ledger_reconciles_to_the_paisa(redelivered_day) -> None:
    result, run = redelivered_day
    docs = [d for d in intents(run.deps) if d["asset"] == "stocks" and "fill" in d]  # F&O: their own books
    cash = sum(
        Decimal(d["fill"]["price"]) * d["fill"]["qty"] * (1 if d["side"] == "SELL" else -1) for d in docs
    )
    charges = sum(Decimal(d["fill"]["charges"]["total"]) for d in docs)
    book = run.deps.store.get(f"days/{TRADING_DAY}/books/stocks")
    assert Decimal(book["net"]) == cash - charges
    assert Decimal(book["charges"]) == charges
    assert Decimal(str(result["assets"]["stocks"]["net_pnl"])) == cash - charges


def test_no_entry_after_the_cutoff(redelivered_day) -> None:
    _, run = redelivered_day
    entries = [d for d in intents(run.deps) if d["purpose"] == "entry"]
    assert entries and all(datetime.fromisoformat(d["decided_at"]).time() < time(15, 0) for d in entries)


def test_logs_and_report_are_written(redelivered_day) -> None:
    result, _ = redelivered_day
    logs = Path(result["logs"])
    lines = [json.loads(x) for f in logs.glob("*.jsonl") for x in f.read_text().splitlines()]
    assert lines and all({"severity", "message", "component", "time"} <= set(x) for x in lines)
    assert all(x["time"].endswith("+05:30") for x in lines)
    report = json.loads(Path(result["report"]).read_text())
    assert report["assets"]["stocks"]["trades"] == result["assets"]["stocks"]["trades"]


def test_same_seed_and_date_give_the_same_trades(tmp_path: Path, redelivered_day) -> None:
    _, run = redelivered_day
    again = prepare(settings(tmp_path), TRADING_DAY, tmp_path / "again")
    run_day(settings(tmp_path), TRADING_DAY, run=again)

    def trades(deps: Deps) -> list[tuple]:
        return [(d["intent_id"], d["qty"], d["fill"]["price"]) for d in intents(deps) if "fill" in d]

    assert trades(again.deps) == trades(run.deps)  # with or without redelivery


def test_a_holiday_places_nothing(tmp_path: Path) -> None:
    result = run_day(settings(tmp_path), HOLIDAY, root=tmp_path / "h")
    assert result["trading_day"] is False
    assert result["orders_placed"] == 0
    assert "holiday" in result["reason"]


def test_a_weekend_places_nothing(tmp_path: Path) -> None:
    result = run_day(settings(tmp_path), TRADING_DAY.replace(day=22), root=tmp_path / "w")
    assert result["trading_day"] is False and result["reason"] == "weekend"


def test_the_report_has_the_curve_and_every_fill(redelivered_day) -> None:
    result, _ = redelivered_day
    report = json.loads(Path(result["report"]).read_text())
    stocks = report["assets"]["stocks"]
    assert len(stocks["fills"]) == result["assets"]["stocks"]["orders_filled"]
    assert stocks["equity_curve"][-1][1] == pytest.approx(stocks["net_pnl"])
    assert stocks["max_intraday_drawdown"] >= 0
    page = Path(result["report_html"]).read_text()
    assert "<polyline" in page and f"TRON — {TRADING_DAY}" in page


def test_plan_and_report_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    from tron.cli import main

    monkeypatch.setenv("TRON_DATA_DIR", str(tmp_path))
    assert main(["plan", "--date", str(TRADING_DAY), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["planner"] == "rules" and plan["assets"]["stocks"]["enabled"] is True
    assert main(["report", "--date", str(TRADING_DAY)]) == 1
    assert "run-day" in capsys.readouterr().err
    assert main(["run-day", "--date", str(TRADING_DAY), "--json"]) == 0
    capsys.readouterr()
    assert main(["report", "--date", str(TRADING_DAY), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["date"] == str(TRADING_DAY)


def test_a_volatile_day_plan_gets_its_30_minute_opening_range(tmp_path: Path) -> None:
    from tron.domain.models import Asset
    from tron.services.tick import tick

    run = prepare(settings(tmp_path), TRADING_DAY, tmp_path / "run")
    deps = run.deps
    deps.clock.set(datetime.fromisoformat(f"{TRADING_DAY}T09:00:00+05:30"))
    from tron.services.plan_day import plan_day

    doc = plan_day(deps)
    doc["plan"]["assets"]["stocks"]["strategies"] = [{"name": "orb", "params": {"range_minutes": 30}}]
    deps.store.set(f"days/{TRADING_DAY}", doc)
    deps.clock.set(datetime.fromisoformat(f"{TRADING_DAY}T09:15:00+05:30"))
    tick(deps, Asset.STOCKS)
    assert deps.store.get(f"days/{TRADING_DAY}/assets/stocks")["session"]["or_minutes"] == 30


def test_the_books_match_the_broker_and_tron_reconcile_says_when_they_do_not(
    redelivered_day, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every tick compared its book with the (paper) broker's positions and saw no drift; the end of day
    stored the reconciliation. `tron reconcile` does it again on demand, and exits 1 once the broker holds
    what the books do not (here 5 BEL bought outside TRON)."""
    result, run = redelivered_day
    assert result["book_matches_broker"] is True
    doc = run.deps.store.get(f"days/{TRADING_DAY}/reconciliation/close")
    assert doc["book_matches_broker"] and doc["mismatches"] == [] and doc["drift_at_last_tick"] == {}
    args = ["reconcile", "--date", str(TRADING_DAY), "--run", str(run.root)]
    assert cli.main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["book_matches_broker"] is True
    path = f"paper/{TRADING_DAY}/positions/net"
    before = run.deps.store.get(path) or {}
    run.deps.store.set(path, {**before, "BEL": 5})
    try:
        assert cli.main(args) == 1
        assert "BEL: book 0, broker 5" in capsys.readouterr().out
    finally:
        run.deps.store.set(path, before)


def test_a_day_under_tight_guardrails_sizes_under_them_and_enters_only_what_they_allow(
    tmp_path: Path,
) -> None:
    """The tick sizes every entry under the guardrails' caps and decides none off the allowlist, so the
    executor (their last line) refuses nothing."""
    allowed = ["ADANIENT", "ADANIPORTS", "APOLLOHOSP", "ASIANPAINT", "AXISBANK", "BAJAJ-AUTO", "BAJFINANCE"]
    rails = {"allowlist": {"stocks": allowed}, "max_order_qty": {"equity_intraday": 60}}
    s = settings(tmp_path, guardrails=rails)
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    run_day(s, TRADING_DAY, run=run)
    entries = [d for d in intents(run.deps) if d["purpose"] == "entry" and d["asset"] == "stocks"]
    assert entries and all(d["qty"] <= 60 and d["symbol"] in allowed for d in entries)
    assert not [d for d in entries if "guardrail" in str(d["history"])]


def test_a_shadow_day_fills_as_paper_and_records_every_kite_call(tmp_path: Path, redelivered_day) -> None:
    """`--broker shadow`: the day's fills are the paper day's; each order call is also recorded as the Kite
    broker would send it (tag, algo_id). What Kite's rules refuse is only a trail whose trigger the price
    already passed (as paper refuses it too; the next tick exits instead)."""
    from tron.adapters.kite.shadow import shadow_records

    _, paper = redelivered_day
    s = settings(tmp_path, kite={"algo_id": "TRON42"})
    run = prepare(s, TRADING_DAY, tmp_path / "shadow", broker="shadow")
    result = run_day(s, TRADING_DAY, run=run)

    def trades(deps: Deps) -> list[tuple]:
        return [(d["intent_id"], d["qty"], d["fill"]["price"]) for d in intents(deps) if "fill" in d]

    assert trades(run.deps) == trades(paper.deps)
    records = shadow_records(run.deps.store, TRADING_DAY)
    placed = [r for r in records if r["op"] == "place"]
    refused = [r for r in records if r["refused"]]
    assert result["shadow"] == {"calls": len(records), "refused": len(refused)}
    assert all(r["op"] == "modify" and "already crossed" in r["problems"][0] for r in refused)
    rejected = [d for d in intents(run.deps) if d["purpose"] == "trail" and d["state"] == "rejected"]
    assert len(rejected) == len(refused)
    assert len(placed) >= len(trades(paper.deps))
    assert all(r["kwargs"]["algo_id"] == "TRON42" and r["kwargs"]["tag"] for r in placed)
