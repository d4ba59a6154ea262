"""Bad things happen mid-day: the executor dies after the broker accepted, a message is garbage, quotes go
stale, the token has expired. Each ends in a clear record and loses nothing. (`tron run-day` on a holiday
answers in JSON too; a bad configuration: tests/unit/config and tests/unit/cli/test_app.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, time
from pathlib import Path

from tests.support.days import TRADING_DAY, settings
from tron.adapters.kite import TokenExpired
from tron.domain.models import OrderIntent
from tron.ports import BrokerOrder, Snapshot
from tron.runday.embedded import prepare, run_day


class CrashAfterPlace:
    """Places the order, then dies before the executor can record it (once, on the nth order)."""

    def __init__(self, inner, nth: int) -> None:
        self.inner, self.nth, self.placed = inner, nth, 0

    def place(self, intent: OrderIntent) -> BrokerOrder:
        order = self.inner.place(intent)
        self.placed += 1
        if self.placed == self.nth:
            raise RuntimeError("process killed after the broker accepted the order")
        return order

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_crash_between_place_and_record_adopts_the_order_by_tag(tmp_path: Path) -> None:
    s = settings(tmp_path)
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    run.deps.broker = CrashAfterPlace(run.deps.broker, nth=3)
    result = run_day(s, TRADING_DAY, run=run)
    assert run.outcomes.get("adopted") == 1
    orders = [d for _, d in run.deps.store.list(f"paper/{TRADING_DAY}/orders")]
    tags = [o["tag"] for o in orders]
    assert len(tags) == len(set(tags))  # never placed twice
    adopted = [
        d for _, d in run.deps.store.list(f"days/{TRADING_DAY}/intents") if d.get("fill", {}).get("adopted")
    ]
    assert len(adopted) == 1 and adopted[0]["attempts"] == 2
    assert result["assets"]["stocks"]["open_positions_at_close"] == 0


def test_a_malformed_message_is_recorded_and_the_executor_keeps_serving(tmp_path: Path) -> None:
    s = settings(tmp_path)
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    run.bus.publish_raw("orders", b"{not json")
    run.bus.publish_raw("orders", json.dumps({"intent_id": "x", "qty": -5}).encode())
    result = run_day(s, TRADING_DAY, run=run)
    bad = run.deps.store.list("malformed")
    assert len(bad) == 2
    assert any("not an intent id" in d["error"] for _, d in bad)
    assert run.outcomes["malformed"] == 2 and result["orders_placed"] > 0
    errors = [json.loads(x) for x in (Path(result["logs"]) / "execute_order.jsonl").read_text().splitlines()]
    assert sum(1 for e in errors if e["severity"] == "ERROR" and "malformed" in e["message"]) == 2


class FrozenAfter:
    """A feed that stops updating at a time: quotes keep their old timestamp."""

    def __init__(self, inner, at: time) -> None:
        self.inner, self.at = inner, at
        self.frozen: dict = {}

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def snapshot(self, symbols):
        snap = self.inner.snapshot(symbols)
        if snap.ts.time() < self.at:
            return snap
        for s, q in snap.quotes.items():
            self.frozen.setdefault(s, q)
        return Snapshot(snap.ts, {s: self.frozen[s] for s in symbols if s in self.frozen})


def test_stale_quotes_stop_entries(tmp_path: Path) -> None:
    s = settings(tmp_path)
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    run.deps.market = FrozenAfter(run.deps.market, time(11, 0))
    run.deps.broker = replace_market(run.deps.broker, run.deps.market)
    run_day(s, TRADING_DAY, run=run)
    entries = [d for _, d in run.deps.store.list(f"days/{TRADING_DAY}/intents") if d["purpose"] == "entry"]
    assert all(datetime.fromisoformat(d["decided_at"]).time() < time(11, 3) for d in entries)
    log = (run.root / "archive" / "logs" / str(TRADING_DAY) / "tick_stocks.jsonl").read_text()
    assert '"event": "stale_quotes", "count": 50' in log


def replace_market(broker, market):
    broker.market = market
    return broker


def test_the_cli_runs_a_holiday_in_json(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "tron.cli", "run-day", "--date", "2026-11-24", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["trading_day"] is False and out["orders_placed"] == 0
    assert set(out["assets"]) == {"stocks", "futures", "options"}


class ExpiredToken:
    """A broker whose session token was invalidated overnight."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def preflight(self) -> str:
        return "TokenException: access token expired at 06:00 IST; run the daily login"

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_an_invalid_token_halts_entries_at_the_open_and_says_why(tmp_path: Path) -> None:
    s = settings(tmp_path)
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    run.deps.broker = ExpiredToken(run.deps.broker)
    result = run_day(s, TRADING_DAY, run=run)
    assert "TokenException" in result["halted"]
    assert result["orders_placed"] == 0
    log = (run.root / "archive" / "logs" / str(TRADING_DAY) / "plan_day.jsonl").read_text()
    assert '"severity": "ERROR"' in log and "health gate" in log


class SessionLostAt:
    """A Kite session that dies mid-day (a logout elsewhere): from `at` every quote call is refused."""

    def __init__(self, inner, at: time) -> None:
        self.inner, self.at = inner, at

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def snapshot(self, symbols):
        snap = self.inner.snapshot(symbols)
        if snap.ts.time() >= self.at:
            raise TokenExpired("TokenException (HTTP 403): Incorrect `api_key` or `access_token`.")
        return snap


def test_a_session_lost_mid_day_stops_entries_and_the_day_goes_on(tmp_path: Path) -> None:
    s = settings(tmp_path)
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    run.deps.market = SessionLostAt(run.deps.market, time(13, 0))
    result = run_day(s, TRADING_DAY, run=run)
    intents = [d for _, d in run.deps.store.list(f"days/{TRADING_DAY}/intents")]
    entries = [d for d in intents if d["purpose"] == "entry"]
    assert entries and all(datetime.fromisoformat(d["decided_at"]).time() < time(13, 0) for d in entries)
    log = [
        json.loads(x)
        for x in (run.root / "archive" / "logs" / str(TRADING_DAY) / "tick_stocks.jsonl")
        .read_text()
        .splitlines()
    ]
    unavailable = [e for e in log if e["severity"] == "ERROR" and "market data unavailable" in e["message"]]
    assert len(unavailable) == 150  # 13:00–15:29, one a minute, each saying why
    assert "TokenException" in unavailable[0]["message"]
    assert result["trading_day"]
