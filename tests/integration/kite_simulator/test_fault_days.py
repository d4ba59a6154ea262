"""Fault days: a whole day of TRON's on `--broker kite` against a simulator started separately (`tron kite-sim`,
its own process and clock), with a fault injected from outside through its control API at a minute of the
day. Whatever the fault, the account must end the day as a trader expects: no order placed twice, no
position reversed by an exit or left open at the close, any drift from the book recorded, and the day's loss
within the daily limit. The README's table "Faults against the Kite simulator" lists these days."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from kiteconnect import KiteConnect

from tests.support.days import settings
from tests.support.kite_sim import kite_sim_process
from tron.adapters.kite import ACCESS_TOKEN_SECRET
from tron.domain.models import Asset, OrderIntent, Purpose
from tron.domain.money import to_tick
from tron.domain.protect import protect_id
from tron.domain.timeutil import IST
from tron.runday.embedded import DayRun
from tron.runday.external import ExternalSimError, control, finish_external_day, prepare_external_day
from tron.services.kill_switch import set_kill_switch
from tron.services.paths import intents_path, reconciliation_path, replay_path

DAY = date(2026, 11, 23)
SPEED = 1200  # simulated seconds a second: the day (08:59–15:46) in some 21 s

# a simulator on the wall clock: run alone, not beside a busy worker (make test)
pytestmark = [pytest.mark.slow, pytest.mark.serial]


def simulator() -> Any:
    """A `tron kite-sim` process of its own, 08:59 on DAY at SPEED."""
    args = ("--date", DAY.isoformat(), "--time", "08:59", "--speed", str(SPEED), "--symbols", "5")
    return kite_sim_process(*args, "--no-rate-limits")


def ctl(url: str, what: str, body: dict[str, Any] | None = None) -> Any:
    """The control API, waited for while the simulator restarts (it listens again within a second)."""
    for _ in range(500):
        try:
            return control(url, what, body)
        except ExternalSimError:
            time.sleep(0.02)
    return control(url, what, body)


def sim_now(url: str) -> datetime:
    return datetime.fromisoformat(ctl(url, "clock")["now"])


def later(url: str, hhmm: str, then: Callable[[], Any]) -> threading.Thread:
    """Call `then` from another thread once the simulator's clock reaches hh:mm (while TRON may hang)."""

    def wait() -> None:
        while sim_now(url).strftime("%H:%M") < hhmm:
            time.sleep(0.01)
        then()

    t = threading.Thread(target=wait, daemon=True)
    t.start()
    return t


@dataclass
class FaultDay:
    """A day run in this process against the simulator at `url`; `at[hh:mm]` runs after that minute's jobs."""

    url: str
    run: DayRun
    loss_limit: Decimal
    at: dict[str, Callable[[], Any]] = field(default_factory=dict)
    every_minute: Callable[[datetime], Any] | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    lost_at: datetime | None = None
    relogged: datetime | None = None
    dead_lettered_at: str | None = None
    waiting: tuple[str, datetime] | None = None

    def on_minute(self, t: datetime, i: int, total: int) -> None:
        if self.every_minute is not None:
            self.every_minute(t)
        if (act := self.at.get(t.strftime("%H:%M"))) is not None:
            out = act()
            if isinstance(out, threading.Thread):
                self.threads.append(out)

    def finish(self) -> dict[str, Any]:
        result = finish_external_day(self.run, DAY, self.url, self.on_minute)
        for t in self.threads:
            t.join(timeout=30)
        result["account"] = ctl(self.url, "state")
        return result

    def events(self, asset: str = "stocks") -> list[dict[str, Any]]:
        logs = Path(self.run.root) / "archive" / "logs" / DAY.isoformat() / f"tick_{asset}.jsonl"
        return [json.loads(x) for x in logs.read_text().splitlines()] if logs.exists() else []

    def open_tron_position(
        self, exchanges: tuple[str, ...] = ("NSE", "NFO"), stop_away: float = 0.0
    ) -> tuple[str, int] | None:
        """A symbol TRON holds at the broker right now and its signed quantity (None if it holds none); with
        `stop_away`, only one whose resting stop is at least that fraction of the price away (a stop about
        to trigger fills before any tick can see a manual close: see the README's "Not yet")."""
        account = ctl(self.url, "state")
        tagged = {o["tradingsymbol"] for o in account["orders"] if o.get("tag")}
        stops = {
            o["tradingsymbol"]: float(o["trigger_price"])
            for o in account["orders"]
            if o.get("tag") and o["status"] == "TRIGGER PENDING"
        }
        for p in account["positions"]:
            symbol = p["tradingsymbol"]
            if not (p["quantity"] and symbol in tagged and p["exchange"] in exchanges):
                continue
            if stop_away and symbol in stops:
                price = self.kite().ltp(f"{p['exchange']}:{symbol}")[f"{p['exchange']}:{symbol}"][
                    "last_price"
                ]
                if abs(price - stops[symbol]) < stop_away * price:
                    continue
            return symbol, int(p["quantity"])
        return None

    def kite(self) -> KiteConnect:
        """The official client on the simulator, logged in (as the trader's Kite app is)."""
        token = ctl(self.url, "login", {})["access_token"]
        return KiteConnect(ctl(self.url, "clock")["api_key"], root=self.url, access_token=token)


def fault_day(url: str, tmp_path: Path, **kite: Any) -> FaultDay:
    s = settings(tmp_path, symbols=5)
    s = s.model_copy(update={"kite": s.kite.model_copy(update=kite)})
    return FaultDay(url, prepare_external_day(s, DAY, url, root=tmp_path / "run"), s.risk.daily_loss_limit)


def at(order: dict[str, Any]) -> datetime:
    """When the order reached the broker (IST)."""
    return datetime.fromisoformat(order["order_timestamp"]).replace(tzinfo=IST)


def orders_between(result: dict[str, Any], start: str, end: str) -> list[dict[str, Any]]:
    """TRON's orders placed at the broker from hh:mm `start` to before `end`."""
    return [
        o
        for o in result["account"]["orders"]
        if o.get("tag") and start <= datetime.fromisoformat(o["order_timestamp"]).strftime("%H:%M") < end
    ]


def _story(day: FaultDay, account: dict[str, Any], trade: dict[str, Any]) -> str:
    """What happened on the trade's symbol: the broker's orders and TRON's intents (a failure's message)."""
    symbol = trade["tradingsymbol"]
    keys = ("order_timestamp", "order_id", "transaction_type", "order_type", "quantity", "status", "tag")
    orders = [tuple(o.get(k) for k in keys) for o in account["orders"] if o["tradingsymbol"] == symbol]
    intents = [
        (d["intent_id"], d["state"], d.get("order_id"), [h.get("reason") for h in d.get("history", [])])
        for _, d in day.run.deps.store.list(intents_path(DAY.isoformat()))
        if d["symbol"] == symbol
    ]
    return f"TRON's order {trade['order_id']} opened a position in {symbol}: {orders} {intents}"


def assert_the_account_is_safe(day: FaultDay, result: dict[str, Any]) -> Decimal:
    """The invariants of every fault day; the day's net P&L at the broker."""
    account = result["account"]
    tags = [o["tag"] for o in account["orders"] if o.get("tag")]
    assert tags and len(tags) == len(set(tags)), "an order was placed twice"
    assert {p["tradingsymbol"]: p["quantity"] for p in account["positions"] if p["quantity"]} == {}
    entries = {
        OrderIntent.from_dict(d).tag
        for _, d in day.run.deps.store.list(intents_path(DAY.isoformat()))
        if d["purpose"] == Purpose.ENTRY
    }
    exits = {o["order_id"] for o in account["orders"] if o.get("tag") and o["tag"] not in entries}
    held: dict[str, int] = {}
    cash = Decimal(0)
    for t in sorted(account["trades"], key=lambda t: (t["fill_timestamp"], t["trade_id"])):
        qty = int(t["quantity"]) * (1 if t["transaction_type"] == "BUY" else -1)
        before = held.get(t["tradingsymbol"], 0)
        held[t["tradingsymbol"]] = after = before + qty
        assert before * after >= 0, f"{t['tradingsymbol']} reversed by order {t['order_id']}"
        if t["order_id"] in exits:  # a stop or an exit of TRON's only ever brings a position towards flat
            assert abs(after) < abs(before), _story(day, account, t)
        cash -= qty * Decimal(str(t["average_price"]))
    charges = Decimal(str(account["charges"])) + sum(
        Decimal(str(a["charges"])) for a in result["assets"].values()
    )
    net = cash - charges  # the simulator charges only its square-offs: TRON's own orders at TRON's model
    assert net >= -day.loss_limit, f"the day lost {net}, past the limit {day.loss_limit}"
    close = day.run.deps.store.get(reconciliation_path(DAY.isoformat()))
    assert close is not None, "the close was not reconciled with the broker"
    return net


@dataclass
class Outage:
    """A fault that starts at the first minute from `after` at which TRON holds a position at the broker."""

    after: str
    start: Callable[[FaultDay, tuple[str, int]], Any]
    exchanges: tuple[str, ...] = ("NSE", "NFO")
    stop_away: float = 0.0
    began: str | None = None
    held: tuple[str, int] | None = None

    def __call__(self, day: FaultDay, t: datetime) -> None:
        if self.began is None and t.strftime("%H:%M") >= self.after:
            if (held := day.open_tron_position(self.exchanges, self.stop_away)) is not None:
                self.began, self.held = t.strftime("%H:%M"), held
                self.start(day, held)


# ---------------------------------------------------------------- the broker unreachable, restarted, logged out


@pytest.fixture(scope="module")
def connectivity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultDay, dict[str, Any]]]:
    """Kite hangs 09:40–09:43 and restarts at 09:50 (down some 1.5 s: half an hour at this speed); from 11:00,
    once TRON holds a position, the session dies, and the trader logs in again 20 minutes later."""
    with simulator() as url:
        day = fault_day(url, tmp_path_factory.mktemp("connectivity"))

        def hang() -> threading.Thread:
            ctl(url, "pause", {})
            return later(url, "09:43", lambda: ctl(url, "resume", {}))

        def logout(day: FaultDay, held: tuple[str, int]) -> None:
            ctl(url, "invalidate-token", {})
            day.lost_at = sim_now(url)
            h, m = divmod(int((lost.began or "")[:2]) * 60 + int((lost.began or "")[3:]) + 20, 60)
            day.at[f"{h:02d}:{m:02d}"] = login

        def login() -> None:  # what the kite_login function stores after the trader's browser login
            day.run.deps.secrets.put(ACCESS_TOKEN_SECRET, ctl(url, "login", {})["access_token"])
            day.relogged = sim_now(url)

        lost = Outage("11:00", logout)
        day.at.update({"09:40": hang, "09:50": lambda: ctl(url, "restart", {})})
        day.every_minute = lambda t: lost(day, t)
        result = day.finish()
        result["lost"] = lost
        yield day, result


def test_every_entry_rests_its_stop_trails_it_and_converts_it(
    connectivity: tuple[FaultDay, dict[str, Any]],
) -> None:
    """The resting-stop path through a whole day at the separate simulator: every stock and futures entry
    that filled has its stop resting at the broker, trails move it by modification (no new order), and an
    exit of a position whose stop rests is that stop converted (the same broker order), never a second one."""
    day, _ = connectivity
    intents = {d["intent_id"]: d for _, d in day.run.deps.store.list(intents_path(DAY.isoformat()))}
    entries = [d for d in intents.values() if d["purpose"] == Purpose.ENTRY and d["state"] == "filled"]
    protects = [intents.get(protect_id(e["intent_id"])) for e in entries if e["asset"] != "options"]
    assert protects and all(p is not None for p in protects)  # claimed with every fill
    rested = [p for p in protects if p and p.get("order_id")]  # the rest: closed before the stop rested
    assert len(rested) >= len(protects) / 2, [(p["intent_id"], p["state"]) for p in protects if p]
    trails = [d for d in intents.values() if d["purpose"] == Purpose.TRAIL and d["state"] == "resting"]
    stops = {d["order_id"] for d in intents.values() if d["purpose"] == Purpose.PROTECT and d.get("order_id")}
    assert trails and all(d["order_id"] in stops for d in trails)  # a trail moved a resting stop
    converted = {
        d["history"][-1]["reason"].removeprefix("turned into the exit "): d["order_id"]
        for d in intents.values()
        if d["purpose"] == Purpose.PROTECT
        and d["history"][-1].get("reason", "").startswith("turned into the exit")
    }
    assert converted and all(intents[exit_id]["order_id"] == oid for exit_id, oid in converted.items())


def test_the_simulator_hung_for_three_minutes(connectivity: tuple[FaultDay, dict[str, Any]]) -> None:
    day, result = connectivity
    assert_the_account_is_safe(day, result)
    assert result["kite"]["book_matches_broker"], result["kite"]["mismatches"]
    assert not any(e["message"].startswith("drift:") for e in day.events() if e["time"][11:16] < "11:00")


def test_the_simulator_restarted(connectivity: tuple[FaultDay, dict[str, Any]]) -> None:
    day, result = connectivity
    assert_the_account_is_safe(day, result)
    replay = day.run.deps.archive.read(replay_path(DAY.isoformat(), "stocks")) or b""
    decided = {json.loads(x)["now"][11:16] for x in replay.decode().splitlines()}
    assert any("09:51" < m < "11:00" for m in decided), "no tick decided once the simulator was back"


def test_the_session_lost_and_a_new_login_20_minutes_later(
    connectivity: tuple[FaultDay, dict[str, Any]],
) -> None:
    day, result = connectivity
    lost: Outage = result["lost"]
    assert lost.began and lost.held and day.lost_at and day.relogged, "TRON held nothing from 11:00"
    assert_the_account_is_safe(day, result)
    assert [
        o for o in result["account"]["orders"] if o.get("tag") and day.lost_at < at(o) < day.relogged
    ] == []
    assert "Kite session expired" in (result["halted"] or "")
    symbol, _ = lost.held
    closed = [
        o for o in result["account"]["orders"] if o["tradingsymbol"] == symbol and o["status"] == "COMPLETE"
    ]
    last = max(closed, key=lambda o: o["exchange_update_timestamp"])
    assert last["exchange_update_timestamp"][11:16] >= lost.began  # closed after the session was lost:
    assert last.get("tag")  # by its resting stop meanwhile, or by TRON once logged in again
    assert result["kite"]["book_matches_broker"], result["kite"]["mismatches"]


# ---------------------------------------------------------------- the account touched outside TRON


@pytest.fixture(scope="module")
def touched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultDay, dict[str, Any]]]:
    """From 09:45, once TRON holds a position, TRON hangs on a paused broker while the broker squares off
    every MIS position (as at 15:20 when TRON's own square-off is blocked); from 10:15, once TRON holds a
    stock, the trader closes it in the Kite app; at 12:00 the trader leaves a limit order waiting."""
    with simulator() as url:
        day = fault_day(url, tmp_path_factory.mktemp("touched"))

        def close_by_hand(day: FaultDay, held: tuple[str, int]) -> None:
            symbol, qty = held
            side = "SELL" if qty > 0 else "BUY"
            order = {
                "exchange": "NSE",
                "tradingsymbol": symbol,
                "transaction_type": side,
                "quantity": abs(qty),
            }
            ctl(url, "orders", order | {"order_type": "MARKET", "product": "MIS"})

        def block(day: FaultDay, held: tuple[str, int]) -> None:  # TRON hangs; the broker squares off
            ctl(url, "pause", {})
            try:
                ctl(url, "square-off", {"segment": "all"})
            finally:
                ctl(url, "resume", {})

        def wait_to_buy() -> None:  # a limit order from the Kite app, below the market, on a symbol of TRON's
            held = {p["tradingsymbol"] for p in ctl(url, "state")["positions"] if p["quantity"]}
            symbol = next(
                i.symbol for i in day.run.deps.market.instruments(Asset.STOCKS) if i.symbol not in held
            )
            kite = day.kite()
            price = float(
                to_tick(kite.ltp(f"NSE:{symbol}")[f"NSE:{symbol}"]["last_price"] * 0.95, Decimal("0.05"))
            )
            order = {"exchange": "NSE", "tradingsymbol": symbol, "transaction_type": "BUY", "quantity": 1}
            ctl(url, "orders", order | {"order_type": "LIMIT", "price": price, "product": "CNC"})
            day.waiting = symbol, sim_now(url)

        blocked, manual = Outage("09:45", block), Outage("10:15", close_by_hand, ("NSE",), stop_away=0.005)
        day.at["12:00"] = wait_to_buy

        def every_minute(t: datetime) -> None:
            manual(day, t)
            blocked(day, t)

        day.every_minute = every_minute
        result = day.finish()
        result["manual"], result["blocked"] = manual, blocked
        yield day, result


def test_a_manual_close_of_a_tron_position_in_the_kite_app(touched: tuple[FaultDay, dict[str, Any]]) -> None:
    day, result = touched
    manual: Outage = result["manual"]
    assert manual.began and manual.held
    assert_the_account_is_safe(day, result)
    symbol, _ = manual.held
    assert any(e["message"].startswith(f"drift: {symbol}") and e["severity"] == "ERROR" for e in day.events())


def test_a_manual_order_waiting_on_a_tron_symbol(touched: tuple[FaultDay, dict[str, Any]]) -> None:
    """A limit order from the Kite app waits on a symbol TRON trades: the next tick reports it (ERROR) and
    TRON enters nothing on that symbol while it works."""
    day, result = touched
    assert day.waiting is not None
    symbol, since = day.waiting
    reported = [e for e in day.events() if e["message"].startswith(f"foreign_order: {symbol}")]
    assert reported and reported[0]["severity"] == "ERROR"
    assert datetime.fromisoformat(reported[0]["time"]) - since < timedelta(minutes=3)  # the next ticks
    assert [
        o
        for o in result["account"]["orders"]
        if o["tradingsymbol"] == symbol and o.get("tag") and at(o) > since
    ] == []


def test_the_brokers_auto_square_off_when_tron_s_is_blocked(touched: tuple[FaultDay, dict[str, Any]]) -> None:
    day, result = touched
    assert result["blocked"].began, "TRON held nothing from 09:45 to be blocked on"
    assert_the_account_is_safe(day, result)
    assert result["kite"]["auto_square_offs"] > 0


# ---------------------------------------------------------------- the executors


def racing(bus: Any) -> None:
    """Every delivery handled by two executors at once (as two instances given the same message)."""
    drain = bus.drain

    def both(handler: Callable[[bytes, dict[str, str]], None]) -> Callable[[bytes, dict[str, str]], None]:
        def deliver(data: bytes, attributes: dict[str, str]) -> None:
            errors: list[Exception] = []
            go = threading.Barrier(2)

            def one() -> None:
                go.wait()
                try:
                    handler(data, attributes)
                except Exception as e:
                    errors.append(e)

            pair = [threading.Thread(target=one) for _ in range(2)]
            for t in pair:
                t.start()
            for t in pair:
                t.join()
            if errors:
                raise errors[0]

        return deliver

    bus.drain = lambda topic, handler: drain(topic, both(handler))


@pytest.fixture(scope="module")
def executors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultDay, dict[str, Any]]]:
    """Two executors race every message all day; from 10:00, once TRON holds a position, every order and
    portfolio call fails (quotes still answer) and the kill switch flattens: the exit is dead-lettered,
    then the calls work again."""
    with simulator() as url:
        # Wall-clock waits scaled to the simulator's speed: no retries inside a delivery (each would wait
        # minutes of the day), the breaker open for a minute of the day, not half an hour.
        day = fault_day(url, tmp_path_factory.mktemp("executors"), retries=0, breaker_cooloff_s=60 / SPEED)
        racing(day.run.bus)

        def flatten_while_failing(day: FaultDay, held: tuple[str, int]) -> None:
            for path in ("/orders", "/portfolio"):  # the account unreadable too: nothing settles the exit
                ctl(url, "fail", {"path": path, "times": 10**6})
            now = day.run.deps.clock.now()
            set_kill_switch(day.run.deps.store, True, "fault drill", True, now, "test")

        def until_dead_lettered(t: datetime) -> None:
            flatten(day, t)
            if day.run.bus.dead_letters and day.dead_lettered_at is None:
                ctl(url, "clear-faults", {})
                day.dead_lettered_at = t.strftime("%H:%M")

        flatten = Outage("10:00", flatten_while_failing)
        day.every_minute = until_dead_lettered
        result = day.finish()
        yield day, result


def test_two_executors_racing_every_intent(executors: tuple[FaultDay, dict[str, Any]]) -> None:
    day, result = executors
    assert_the_account_is_safe(day, result)
    assert result["duplicate_deliveries_ignored"] > 0


def test_a_dead_lettered_exit(executors: tuple[FaultDay, dict[str, Any]]) -> None:
    day, result = executors
    assert result["bus"]["dead_lettered"] > 0 and day.dead_lettered_at
    assert_the_account_is_safe(day, result)
    assert result["kite"]["auto_square_offs"] == 0  # TRON's own exits closed everything
    assert result["kite"]["book_matches_broker"], result["kite"]["mismatches"]
