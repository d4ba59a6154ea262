"""`tron run-day --broker kite-sim`: a whole day on the live code path — market data and orders through
TRON's Kite adapters and the official client, into the Kite simulator's matching engine on loopback — whose
book matches the simulator's trades and positions, ends flat, and fills what the paper day fills."""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import TRADING_DAY, settings
from tests.support.paths import REPO as ROOT
from tron import cli
from tron.adapters.kite import KiteMarketData
from tron.adapters.paper import PaperBroker
from tron.adapters.sqlite_store import SqliteStore
from tron.runday.embedded import prepare, run_day

SYMBOLS = 10


@pytest.fixture(scope="module")
def kite_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], SqliteStore]:
    """The CLI, in-process, in an empty folder with the repository's configuration."""
    tmp = tmp_path_factory.mktemp("kiteday")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)
    mp.setenv("TRON_CONFIG", str(ROOT / "config" / "tron.yaml"))
    mp.setenv("TRON_DATA_DIR", str(tmp / "var"))
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            code = cli.main(
                [
                    "run-day",
                    "--broker",
                    "kite-sim",
                    "--date",
                    str(TRADING_DAY),
                    "--symbols",
                    str(SYMBOLS),
                    "--json",
                ]
            )
    finally:
        mp.undo()
    assert code == 0
    result = json.loads(buf.getvalue())
    return result, SqliteStore(Path(result["state"]))


@pytest.fixture(scope="module")
def paper_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], SqliteStore]:
    """The same day on the generated market and the paper broker: what the Kite paths must reproduce."""
    tmp = tmp_path_factory.mktemp("paperday")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRON_CONFIG", str(ROOT / "config" / "tron.yaml"))
    try:
        s = settings(tmp, symbols=SYMBOLS)
        run = prepare(s, TRADING_DAY, tmp / "paper")
        result = run_day(s, TRADING_DAY, run=run)
    finally:
        mp.undo()
    return result, SqliteStore(Path(result["state"]))


def filled(store: SqliteStore) -> list[dict[str, Any]]:
    return [d for _, d in store.list(f"days/{TRADING_DAY}/intents") if d["state"] == "filled"]


def test_the_kite_sim_day_trades_and_ends_flat(kite_day: tuple[dict[str, Any], SqliteStore]) -> None:
    result, _ = kite_day
    assert result["trading_day"] is True and result["broker"] == "kite-sim"
    assert sum(a["trades"] for a in result["assets"].values()) > 0
    assert all(a["open_positions_at_close"] == 0 for a in result["assets"].values())
    k = result["kite"]
    assert k["open_positions"] == {} and k["auto_square_offs"] == 0  # TRON squared off before Zerodha


def test_the_book_matches_the_simulators_trades_and_orders(
    kite_day: tuple[dict[str, Any], SqliteStore],
) -> None:
    result, store = kite_day
    k = result["kite"]
    assert k["book_matches_broker"], k["mismatches"]
    intents = [d for _, d in store.list(f"days/{TRADING_DAY}/intents")]
    assert k["orders"] == k["orders_tagged_by_tron"] >= result["orders_placed"] > 0  # nothing but TRON's
    assert k["trades"] >= len(filled(store)) and result["stops_filled"] > 0
    tags = [d["tag"] for d in intents if d.get("order_id")]
    assert all(len(t) <= 20 and t.isalnum() for t in tags)


def test_the_live_path_fills_what_the_paper_day_fills(
    kite_day: tuple[dict[str, Any], SqliteStore], paper_day: tuple[dict[str, Any], SqliteStore]
) -> None:
    result, store = kite_day
    paper, paper_store = paper_day
    for asset, a in paper["assets"].items():
        assert result["assets"][asset]["trades"] == a["trades"], asset
    live = {d["intent_id"]: d for d in filled(store)}
    ref = {d["intent_id"]: d for d in filled(paper_store)}
    assert set(live) == set(ref)
    assert Counter(d["fill"]["qty"] for d in live.values()) == Counter(d["fill"]["qty"] for d in ref.values())
    for i, d in live.items():
        price, want = Decimal(d["fill"]["price"]), Decimal(ref[i]["fill"]["price"])
        if d["purpose"] == "protect":  # a stop resting at the broker: one stop-fill model, to the paisa
            assert price == want, i
        else:  # a protected MARKET order fills at the simulator's best level: the paper price or near it
            assert abs(price - want) <= 2 * Decimal(d["tick_size"]), i
    assert any(d["purpose"] == "protect" for d in live.values())


def test_an_unknown_broker_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["run-day", "--broker", "zerodha-live"])
    assert e.value.code == 2 and "invalid choice: 'zerodha-live'" in capsys.readouterr().err


def test_paper_fills_on_kite_quotes_match_the_paper_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--market kite-sim: the quotes come through the Kite adapters and the official client (as a deployed
    paper TRON reads Kite's), the fills are paper. The simulator serves the same seeded market, so every
    intent and fill equals the generated-market paper day's, and no order reaches the simulator. (Stocks
    only, both runs: a quote call a minute is what the test is about.)"""
    monkeypatch.setenv("TRON_CONFIG", str(ROOT / "config" / "tron.yaml"))
    assets = {"stocks": {"enabled": True}, "futures": {"enabled": False}, "options": {"enabled": False}}
    s = settings(tmp_path, symbols=SYMBOLS, assets=assets)
    run = prepare(s, TRADING_DAY, tmp_path / "kite-quotes", market="kite-sim")
    assert isinstance(run.deps.market, KiteMarketData) and isinstance(run.deps.broker, PaperBroker)
    result = run_day(s, TRADING_DAY, run=run)
    assert result["market"] == "kite-sim" and result["broker"] == "paper" and "kite" not in result
    assert run.deps.market.session.calls["quote"] >= 375  # every tick quoted over HTTP
    assert run.kite.sim.orders == {}  # no order reached the simulator
    paper = prepare(s, TRADING_DAY, tmp_path / "paper")
    run_day(s, TRADING_DAY, run=paper)
    got = {d["intent_id"]: (d["fill"]["qty"], d["fill"]["price"]) for d in filled(run.deps.store)}
    ref = {d["intent_id"]: (d["fill"]["qty"], d["fill"]["price"]) for d in filled(paper.deps.store)}
    assert got and got == ref
