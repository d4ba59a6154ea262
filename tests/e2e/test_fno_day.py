"""A whole simulated day with stocks, the NIFTY future and NIFTY options, as `tron run-day` runs it: trades in
all three asset classes, whole lots, the right contracts, nothing open after the square-off; and the kill
switch, flipped mid-session, flattens and stops entries with an alertable log line."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import TRADING_DAY, settings
from tron.domain.models import Asset
from tron.domain.timeutil import ist
from tron.runday.embedded import prepare, run_day
from tron.services.paths import KILL_SWITCH

SEEDS = (10, 7, 12)  # the first whose day trades all three asset classes is examined
# A ₹20,000 limit: at ₹5,000 a NIFTY lot's worst case with its slippage band is rarely approved.
WIDE = {"daily_loss_limit": 20000, "daily_loss_limit_pct": 5}


@pytest.fixture(scope="module")
def fno_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Any]:
    tried = {}
    for seed in SEEDS:
        tmp = tmp_path_factory.mktemp(f"fno{seed}")
        s = settings(tmp, symbols=5, seed=seed, risk=WIDE)
        run = prepare(s, TRADING_DAY, tmp / "run")
        result = run_day(s, TRADING_DAY, run=run)
        tried[seed] = {a: v["trades"] for a, v in result["assets"].items()}
        if all(v["trades"] > 0 for v in result["assets"].values()):
            return result, run
    pytest.fail(f"no seed of {SEEDS} traded all three asset classes: {tried}")


def _fills(run: Any) -> list[dict[str, Any]]:
    return [d for _, d in run.deps.store.list(f"days/{TRADING_DAY}/intents") if d.get("state") == "filled"]


def test_trades_in_all_three_asset_classes_and_nothing_open(fno_day) -> None:
    result, run = fno_day
    assert {a: v["trades"] > 0 for a, v in result["assets"].items()} == {a.value: True for a in Asset}
    for a in Asset:  # after the last square-off the books hold nothing
        book = run.deps.store.get(f"days/{TRADING_DAY}/books/{a}")
        assert book["positions"] == {}, a
        assert result["assets"][a.value]["open_positions_at_close"] == 0


def test_square_off_beats_the_brokers_cut_offs(fno_day) -> None:
    _, run = fno_day
    for d in _fills(run):
        t = datetime.fromisoformat(d["fill"]["at"]).time()
        assert t < (time(15, 20) if d["asset"] == "stocks" else time(15, 25)), d["intent_id"]


def test_fno_orders_are_whole_lots_of_the_right_contracts(fno_day) -> None:
    _, run = fno_day
    fno = [d for d in _fills(run) if d["asset"] != "stocks"]
    assert fno and all(d["qty"] % 65 == 0 and d["exchange"] == "NFO" for d in fno)
    # 2026-11-23 is the November contract's expiry day: the future has rolled to December, the options
    # are the next weekly (1 December), never the expiring series.
    assert {d["symbol"] for d in fno if d["asset"] == "futures"} == {"NIFTY26DECFUT"}
    options = [d for d in fno if d["asset"] == "options"]
    assert all(d["symbol"].startswith("NIFTY26D01") and d["symbol"][-2:] in ("CE", "PE") for d in options)
    entries = [d for d in options if d["purpose"] == "entry"]
    assert entries and all(d["side"] == "BUY" for d in entries)  # options are bought, never written
    assert all(0 < d["stop"] < d["target"] for d in entries)  # stops and targets on the premium


def _tick_until(deps: Any, bus: Any, start: datetime, end: datetime, on_minute=None) -> None:
    from tron.services.execute_order import execute_order
    from tron.services.tick import tick

    t = start
    while t <= end:
        deps.clock.set(t)
        bus.drain(deps.config.orders_topic, lambda data, attrs: execute_order(deps, data, attrs))
        if on_minute:
            on_minute(t)
        for a in Asset:
            tick(deps, a)
        t += timedelta(minutes=1)


def test_the_kill_switch_flattens_stops_entries_and_alerts(tmp_path: Path) -> None:
    from tron.services.plan_day import plan_day

    s = settings(tmp_path, symbols=5, seed=SEEDS[0])
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    deps, bus = run.deps, run.bus
    deps.clock.set(ist(TRADING_DAY, time(9, 0)))
    plan_day(deps)
    flip = ist(TRADING_DAY, time(9, 50))

    def engage(t: datetime) -> None:
        if t == flip:
            deps.store.set(KILL_SWITCH, {"engaged": True, "reason": "e2e drill"})

    _tick_until(deps, bus, ist(TRADING_DAY, time(9, 15)), ist(TRADING_DAY, time(10, 10)), engage)
    intents = [d for _, d in deps.store.list(f"days/{TRADING_DAY}/intents")]
    before = [
        d for d in intents if d["purpose"] == "entry" and datetime.fromisoformat(d["decided_at"]) < flip
    ]
    after = [
        d for d in intents if d["purpose"] == "entry" and datetime.fromisoformat(d["decided_at"]) >= flip
    ]
    assert before and after == []
    flattened = [d for d in intents if "kill switch engaged: e2e drill" in d["reason"]]
    assert flattened and all(d["state"] == "filled" for d in flattened)
    books = [deps.store.get(f"days/{TRADING_DAY}/books/{a}") for a in Asset]
    assert all(b["positions"] == {} for b in books if b)
    logs = Path(run.root / "archive" / "logs" / TRADING_DAY.isoformat())
    lines = [json.loads(x) for f in logs.glob("tick_*.jsonl") for x in f.read_text().splitlines()]
    alerts = [x for x in lines if x["severity"] == "ERROR" and "halt" in x["message"]]
    # once per asset, matching the terraform halt metric (severity>=ERROR AND message:"halt")
    assert sorted(x["component"] for x in alerts) == ["tick_futures", "tick_options", "tick_stocks"]
    assert all("kill switch engaged: e2e drill" in x["message"] for x in alerts)
