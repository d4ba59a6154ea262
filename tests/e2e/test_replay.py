"""Backtest = paper: a `run-day` replayed through the backtester decides the same intents and gets the same
fills and P&L.

The run-day archives every snapshot its stocks tick saw (archive/replay/{day}/stocks.jsonl). The backtester
reads that file, takes the day's plan and instrument list from the run's store, and replays the snapshots
through decide() with the paper broker's fill rule (next-quote: the next snapshot's ask to buy, bid to
sell). Everything the run-day recorded in its store must come out again."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.days import TRADING_DAY, settings
from tron import cli
from tron.backtest.data import read_replay
from tron.backtest.engine import IntradayConfig, run_intraday
from tron.domain.models import Asset
from tron.domain.plan import Plan
from tron.runday.embedded import prepare, run_day
from tron.services.paths import book_path, state_path
from tron.services.tick_state import instruments_from_doc

pytestmark = pytest.mark.slow
DAY = TRADING_DAY.isoformat()
ASSETS = {"stocks": {"enabled": True}, "futures": {"enabled": False}, "options": {"enabled": False}}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("replay")
    # Stocks only: the backtester replays one asset, and with the others off the account-wide rules (margin,
    # loss across assets) see the same empty books in both runs.
    s = settings(tmp, symbols=16, seed=1, assets=ASSETS)  # a day with stops, targets and square-offs
    run = prepare(s, TRADING_DAY, tmp / "run")
    result = run_day(s, TRADING_DAY, run=run)
    store = run.deps.store
    plan = Plan.from_doc(store.get(f"days/{DAY}")["plan"]).assets[Asset.STOCKS]
    instruments = instruments_from_doc(store.get(state_path(DAY, "stocks"))["instruments"], Asset.STOCKS)
    intents = [d for _, d in store.list(f"days/{DAY}/intents") if d["asset"] == "stocks"]
    replay = run.root / "archive" / "replay" / DAY / "stocks.jsonl"
    bt = run_intraday(
        read_replay(replay), IntradayConfig(plan, fill="next-quote", store_rounding=True), instruments
    )
    return result, store, intents, bt, replay


def test_the_recorded_day_traded(recorded) -> None:
    _, _, intents, _, _ = recorded
    purposes = {d["purpose"] for d in intents}
    assert len(intents) >= 6 and "entry" in purposes and purposes & {"exit", "squareoff"}


def test_same_intents(recorded) -> None:
    _, _, intents, bt, _ = recorded
    live = sorted((d["intent_id"], d["side"], d["qty"], d["purpose"]) for d in intents)
    ours = sorted((i.intent_id, i.side.value, i.qty, i.purpose.value) for i in bt.intents)
    assert ours == live


def test_same_stops_targets_and_decision_times(recorded) -> None:
    _, _, intents, bt, _ = recorded
    live = {d["intent_id"]: (d["stop"], d["target"], d["decided_at"], d["strategy"]) for d in intents}
    ours = {i.intent_id: (i.stop, i.target, i.decided_at.isoformat(), i.strategy) for i in bt.intents}
    assert ours == live


def test_same_fills_and_net_pnl(recorded) -> None:
    _, store, intents, bt, _ = recorded
    live = {
        d["intent_id"]: (d["fill"]["price"], d["fill"]["at"], d["fill"]["charges"]["total"])
        for d in intents
        if "fill" in d  # a trail moves a resting stop and a protect that never triggered fills nothing
    }
    ours = {f["intent_id"]: (f["price"], f["at"], f["charges"]) for f in bt.fills}
    assert ours == live
    book = store.get(book_path(DAY, "stocks"))
    assert bt.final_equity - bt.capital == Decimal(book["net"])
    assert len([t for t in bt.trades if t.closed]) == book["trades"]


def test_the_cli_replays_the_file_with_the_days_plan(
    recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tron backtest --data …/stocks.jsonl --plan plan.json`: fills next-quote by default and ends on the
    paper day's net P&L and trade count."""
    _, store, _, _, replay = recorded
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(store.get(f"days/{DAY}")["plan"]))
    assert cli.main(["backtest", "--data", str(replay), "--plan", str(plan), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["fill"] == "next-quote" and out["days"] == 1
    book = store.get(book_path(DAY, "stocks"))
    assert Decimal(out["final_equity"]) - Decimal(out["capital"]) == Decimal(book["net"])
    assert out["trades"] == book["trades"]


def test_one_stop_fill_model_paper_backtester_and_simulator_agree_to_the_paisa(
    recorded, tmp_path: Path
) -> None:
    """The stops rested at the paper broker and filled there inside a minute; the backtester works the same
    stop-fill model over the recorded minute candles; the Kite simulator's exchange works the orders TRON
    placed through the official client (`--broker kite-sim`, the same day): every stop fills alike."""
    _, _, intents, bt, _ = recorded
    paper = {d["intent_id"]: d["fill"]["price"] for d in intents if d["purpose"] == "protect" and "fill" in d}
    ours = {f["intent_id"]: f["price"] for f in bt.fills if f["purpose"] == "protect"}
    s = settings(tmp_path, symbols=16, seed=1, assets=ASSETS)
    run = prepare(s, TRADING_DAY, tmp_path / "kite", broker="kite-sim")
    run_day(s, TRADING_DAY, run=run)
    sim = {
        d["intent_id"]: d["fill"]["price"]
        for _, d in run.deps.store.list(f"days/{DAY}/intents")
        if d["purpose"] == "protect" and "fill" in d
    }
    assert paper and ours == paper and sim == paper
