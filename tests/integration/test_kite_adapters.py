"""TRON's Kite adapters driving the real `kiteconnect` client against the Kite simulator on loopback: every
route they use, 429s, network errors, rejections, token expiry, partial fills, market protection, and the
crash between the broker's accept and TRON's record — resolved by adopting the order by its tag."""

from __future__ import annotations

import itertools
import json
import logging
import sys
import time as wall
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app
from kiteconnect import exceptions as kex

from tests.support.kite_client import settled
from tests.support.kite_sim import KiteSimHandle, running_kite_sim
from tests.support.logs import tron_records
from tests.support.netfault import DelayingProxy
from tests.support.paths import REPO
from tron.adapters.clock import VirtualClock
from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.kite import (
    API_SECRET_SECRET,
    CircuitBreaker,
    KiteBroker,
    KiteMarketData,
    KiteSession,
    KiteTokenExchange,
    RateLimiter,
    TokenExpired,
)
from tron.bootstrap import embedded
from tron.config.settings import load_settings
from tron.domain.models import Asset, OrderIntent, Purpose, Side, order_tag
from tron.domain.money import to_tick
from tron.domain.timeutil import ist
from tron.ports import BrokerUnavailable, LoginError, OrderRejected
from tron.services.claims import intent_doc
from tron.services.deps import Deps
from tron.services.execute_order import Busy, execute_order
from tron.services.kite_login import answer, complete_login
from tron.services.paths import book_path, day_path, intent_path
from tron.services.plan_day import plan_day
from tron.services.tick import tick
from tron.sim.kite import engine
from tron.sim.market import GeneratedMarketData

DAY = date(2026, 11, 23)
TICK = Decimal("0.05")


@pytest.fixture(autouse=True)
def _defaults_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings' defaults, not the repository's config/tron.yaml (which other work may be changing)."""
    empty = tmp_path / "tron.yaml"
    empty.write_text("{}\n")
    monkeypatch.setenv("TRON_CONFIG", str(empty))


class FakeTime:
    """A monotonic timer shared by the simulator's rate limiter and the client's sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


REQUESTS = itertools.count(100)
# The simulator's orders end asynchronously (some 30 ms of wall time): the broker follows them in real time.
FOLLOW: dict[str, Any] = {"follow_polls": 50, "poll_interval": 0.01, "sleep": wall.sleep}


def login(ks: KiteSimHandle, secrets: EnvSecrets) -> dict[str, Any]:
    """The daily login through POST /session/token with the real client (a request token is good once)."""
    secrets.put(API_SECRET_SECRET, ks.api_secret)
    token = f"req{next(REQUESTS)}"
    return complete_login(secrets, KiteTokenExchange(ks.api_key, secrets, ks.url), token, ks.clock)


def adapters(
    ks: KiteSimHandle, ft: FakeTime | None = None, limits: bool = False, **broker_kw: Any
) -> tuple[KiteSession, KiteMarketData, KiteBroker]:
    ft = ft or FakeTime()
    secrets = EnvSecrets({})
    login(ks, secrets)
    session = KiteSession(
        ks.api_key,
        secrets,
        ks.url,
        limiter=RateLimiter(monotonic=ft.monotonic, sleep=ft.sleep, enabled=limits),
        breaker=CircuitBreaker(5, 30, ft.monotonic),
        backoff=0.5,
        sleep=ft.sleep,
    )
    symbols = [i.symbol for i in ks.market.instruments(Asset.STOCKS)]
    market = KiteMarketData(session, ks.clock, symbols, {"AXISBANK": "Banks"})
    broker = KiteBroker(session, ks.clock, **{**FOLLOW, **broker_kw})
    return session, market, broker


def intent(
    symbol: str = "AXISBANK",
    qty: int = 10,
    side: Side = Side.BUY,
    purpose: Purpose = Purpose.ENTRY,
    at: datetime | None = None,
    exchange: str = "NSE",
    asset: Asset = Asset.STOCKS,
) -> OrderIntent:
    at = at or ist(DAY, time(10, 0))
    return OrderIntent(
        intent_id=f"{DAY:%Y%m%d}-{asset}-orb-{symbol}-{purpose}-{at:%H%M}",
        day=DAY,
        asset=asset,
        symbol=symbol,
        exchange=exchange,
        side=side,
        qty=qty,
        purpose=purpose,
        strategy="orb",
        reason="integration test",
        decided_at=at,
        segment="equity_intraday" if asset is Asset.STOCKS else "futures",
    )


@pytest.fixture
def logs() -> Iterator[list[logging.LogRecord]]:
    """TRON's log records (tests.support.logs)."""
    with tron_records() as handler:
        yield handler.records


@pytest.fixture
def ks() -> Iterator[KiteSimHandle]:
    with running_kite_sim(symbols=10) as handle:
        yield handle


# ---------------------------------------------------------------------------------------------- login
def test_the_daily_login_exchanges_the_request_token_for_a_stored_access_token(ks: KiteSimHandle) -> None:
    secrets = EnvSecrets({})
    out = login(ks, secrets)
    token = secrets.get("kite_access_token")
    assert token and token not in json.dumps(out)
    assert out["user_id"] == "SIM001" and out["valid_until"] == "2026-11-24T06:00:00+05:30"
    ks.client(login=False).set_access_token(token)
    # a request token is good once; a wrong api secret is refused; neither stores anything
    again = EnvSecrets({})
    again.put(API_SECRET_SECRET, ks.api_secret)
    used = f"req{next(REQUESTS) - 1}"
    status, body = answer(again, KiteTokenExchange(ks.api_key, again, ks.url), used, ks.clock)
    assert status == 400 and "refused" in body["error"] and again.get("kite_access_token") is None
    bad = EnvSecrets({})
    bad.put(API_SECRET_SECRET, "wrong")
    with pytest.raises(LoginError, match="checksum"):
        complete_login(bad, KiteTokenExchange(ks.api_key, bad, ks.url), "fresh1", ks.clock)


# ---------------------------------------------------------------------------------------------- market data
def test_instruments_for_every_asset_with_lot_and_tick_sizes_cached_per_day(ks: KiteSimHandle) -> None:
    session, market, _ = adapters(ks)
    stocks = market.instruments(Asset.STOCKS)
    assert [i.symbol for i in stocks] == [i.symbol for i in ks.market.instruments(Asset.STOCKS)]
    axis = next(i for i in stocks if i.symbol == "AXISBANK")
    assert (axis.exchange, axis.lot_size, axis.tick_size, axis.sector) == ("NSE", 1, Decimal("0.05"), "Banks")
    futs = market.instruments(Asset.FUTURES)
    assert futs and all(f.exchange == "NFO" and f.lot_size == 65 and f.segment == "futures" for f in futs)
    assert [f.symbol for f in futs] == [i.symbol for i in ks.market.instruments(Asset.FUTURES)]
    opts = market.instruments(Asset.OPTIONS)
    assert [o.symbol for o in opts] == [i.symbol for i in ks.market.instruments(Asset.OPTIONS)]
    assert {o.symbol[-2:] for o in opts} == {"CE", "PE"}
    market.instruments(Asset.STOCKS)
    assert session.calls["instruments"] == 2  # NSE and NFO, once each today
    ks.advance(minutes=24 * 60)
    login(ks, session.secrets)  # type: ignore[arg-type]  (yesterday's token expired at 06:00)
    market.instruments(Asset.STOCKS)
    assert session.calls["instruments"] == 3  # a new day reads the dump again


def test_a_snapshot_is_kites_quote_in_ist_batched_under_the_limit() -> None:
    with running_kite_sim(symbols=600) as ks:
        session, market, _ = adapters(ks)
        symbols = [i.symbol for i in market.instruments(Asset.STOCKS)]
        snap = market.snapshot(symbols)  # the simulator refuses more than 500 per call, as Kite does
        assert session.calls["quote"] == 2 and len(snap.quotes) == 600
        ref = ks.market.snapshot(symbols)
        for s in ("AXISBANK", "SYN600"):
            q, r = snap.quotes[s], ref.quotes[s]
            assert q.ts == ks.clock.now() and q.ts.utcoffset() == timedelta(hours=5, minutes=30)
            assert (q.last, q.volume, q.open, q.high, q.low, q.prev_close) == (
                r.last, r.volume, r.open, r.high, r.low, r.prev_close
            )  # fmt: skip
            assert q.bid == r.bid and q.ask == r.ask
        index = market.snapshot(["NIFTY 50"]).quotes["NIFTY 50"]
        assert index.volume == 0 and index.bid == index.ask == index.last


def test_daily_history_is_the_sessions_before_the_day(ks: KiteSimHandle) -> None:
    session, market, _ = adapters(ks)
    bars = market.daily_history("NIFTY 50", DAY, 10)
    ref = ks.market.daily_history("NIFTY 50", DAY, 10)
    assert [b.day for b in bars] == [b.day for b in ref] and len(bars) == 10
    assert [round(b.close, 2) for b in bars] == [round(b.close, 2) for b in ref]
    market.daily_history("NIFTY 50", DAY, 10)
    assert session.calls["historical_data"] == 1  # cached
    assert market.warm_up(DAY, ["NIFTY 50"], 10) == 10


def test_minute_candles_are_the_simulators_read_once_each(ks: KiteSimHandle) -> None:
    session, market, _ = adapters(ks)
    ks.set(ist(DAY, time(10, 0, 30)))
    since = ist(DAY, time(9, 50))
    got = market.minute_bars("AXISBANK", since)
    assert [c.start.time() for c in got] == [time(9, m) for m in range(50, 60)]  # 10:00 is not complete
    assert got == ks.market.minute_bars("AXISBANK", since)  # the same candles paper reads
    calls = session.calls["historical_data"]
    assert market.minute_bars("AXISBANK", ist(DAY, time(9, 59))) == got[-1:]
    assert session.calls["historical_data"] == calls  # cached: no request
    ks.advance(minutes=1)
    assert [c.start.time() for c in market.minute_bars("AXISBANK", ist(DAY, time(9, 59)))] == [
        time(9, 59), time(10, 0)
    ]  # fmt: skip
    assert session.calls["historical_data"] == calls + 1  # only the new minute asked for


# ---------------------------------------------------------------------------------------------- orders
def test_place_follow_status_positions_modify_cancel(ks: KiteSimHandle) -> None:
    _, market, broker = adapters(ks)
    assert broker.preflight() is None
    it = intent()
    o = broker.place(it)
    assert (o.status, o.filled_qty, o.tag) == ("COMPLETE", 10, it.tag)
    ask = market.snapshot(["AXISBANK"]).quotes["AXISBANK"].ask
    assert o.avg_price == Decimal(str(ask)) and o.ts == ks.clock.now()
    assert broker.order_status(o.order_id).status == "COMPLETE"
    assert [(p.symbol, p.quantity, p.product) for p in broker.positions()] == [("AXISBANK", 10, "MIS")]
    sent = broker.orders()[0]
    assert sent["market_protection"] == -1 and sent["tag"] == it.tag
    assert sent["order_type"] == "LIMIT" and sent["price"] >= float(
        o.avg_price
    )  # Kite shows the LIMIT it made
    # modify and cancel a resting LIMIT order (placed with the raw client: TRON itself sends MARKET only)
    kite = ks.client()
    kite.set_access_token(broker.session.secrets.get("kite_access_token"))
    limit_id = kite.place_order(
        variety="regular", exchange="NSE", tradingsymbol="AXISBANK", transaction_type="BUY", quantity=1,
        product="MIS", order_type="LIMIT", price=float(to_tick(ask * 0.95, TICK)),
    )  # fmt: skip
    settled(kite, limit_id)  # Kite refuses to modify an order still passing its OMS
    assert broker.modify_order(limit_id, price=to_tick(ask * 0.96, TICK)) == limit_id
    assert settled(kite, limit_id)["status"] == "OPEN"  # Kite modifies asynchronously
    broker.cancel(limit_id)
    settled(kite, limit_id)
    assert broker.order_status(limit_id).status == "REJECTED"  # cancelled with nothing filled
    with pytest.raises(OrderRejected, match=r"OrderException.*cancelled"):
        broker.cancel(limit_id)


def test_market_protection_is_never_zero(ks: KiteSimHandle) -> None:
    with pytest.raises(ValueError, match="market_protection"):
        adapters(ks, market_protection=0)
    _, _, broker = adapters(ks, market_protection=3)
    broker.place(intent())
    assert broker.orders()[-1]["market_protection"] == 3
    kite = ks.client()  # what Kite does with 0, and why the adapter never sends it
    with pytest.raises(kex.InputException, match="market protection"):
        kite.place_order(
            variety="regular", exchange="NSE", tradingsymbol="AXISBANK", transaction_type="BUY", quantity=1,
            product="MIS", order_type="MARKET", market_protection=0,
        )  # fmt: skip


def test_a_partial_fill_is_followed_then_the_rest_cancelled() -> None:
    with running_kite_sim(symbols=10, liquidity=engine.Liquidity(equity=Decimal("20000"))) as ks:
        _, _, broker = adapters(ks)
        o = broker.place(intent(qty=400))
        assert o.status == "CANCELLED" and 0 < o.filled_qty < 400
        hist = broker.session.call("other", "h", lambda c: c.order_history(o.order_id))
        assert hist[-1]["cancelled_quantity"] == 400 - o.filled_qty
        assert [p.quantity for p in broker.positions()] == [o.filled_qty]


# ---------------------------------------------------------------------------------------------- resting stops
def stop(
    trigger: float,
    symbol: str = "AXISBANK",
    qty: int = 10,
    side: Side = Side.SELL,
    order_type: str = "SL-M",
    limit: float | None = None,
    purpose: Purpose = Purpose.PROTECT,
    at: datetime | None = None,
    **kw: Any,
) -> OrderIntent:
    """A protect (or, with purpose TRAIL, a trail) intent: the stop's side, type, trigger and limit."""
    base = intent(symbol, qty, side, purpose, at, **kw)
    segment = "options" if base.asset is Asset.OPTIONS else base.segment
    return replace(base, order_type=order_type, trigger=trigger, limit=limit, segment=segment)


def last_price(ks: KiteSimHandle, symbol: str) -> float:
    return ks.market.snapshot([symbol]).quotes[symbol].last


def symbol_orders(broker: KiteBroker, symbol: str) -> list[dict[str, Any]]:
    return [o for o in broker.orders() if o["tradingsymbol"] == symbol]


def through_next_minute(ks: KiteSimHandle, symbol: str) -> tuple[Side, float]:
    """A stop the minute starting now trades through (read ahead in the generated market): its side and a
    trigger on the tick grid, on the untouched side of the last price, so Kite takes it."""
    now = ks.clock.now()
    ahead = GeneratedMarketData(ks.market.gen, VirtualClock(now + timedelta(minutes=1)))
    bar = ahead.minute_bars(symbol, now)[0]
    ltp = last_price(ks, symbol)
    high, low = float(to_tick(bar.high, TICK, up=False)), float(to_tick(bar.low, TICK, up=True))
    if high > ltp:
        return Side.BUY, high  # a short's stop, reached on the way up
    assert low < ltp, f"{symbol}'s next minute does not move: pick another symbol"
    return Side.SELL, low


def test_a_protect_rests_trigger_pending_with_its_tag_and_market_protection(ks: KiteSimHandle) -> None:
    _, _, broker = adapters(ks, market_protection=3)
    assert broker.place(intent(qty=10)).status == "COMPLETE"
    trigger = float(to_tick(last_price(ks, "AXISBANK") * 0.98, TICK))
    it = stop(trigger)
    o = broker.place(it)
    assert (o.status, o.filled_qty, o.tag, o.ambiguous) == ("TRIGGER PENDING", 0, it.tag, False)
    wall.sleep(0.05)  # nothing moves it while the clock stands: no cancel, no fill
    sent = next(x for x in broker.orders() if x["order_id"] == o.order_id)
    assert (sent["order_type"], sent["transaction_type"], sent["trigger_price"]) == ("SL-M", "SELL", trigger)
    assert (sent["market_protection"], sent["tag"], sent["validity"], sent["status"]) == (
        3, it.tag, "DAY", "TRIGGER PENDING"
    )  # fmt: skip
    assert broker.find_by_tag(DAY, it.tag) == replace(o, ambiguous=False)  # adopted resting, not cancelled
    assert broker.order_status(o.order_id).status == "TRIGGER PENDING"
    with pytest.raises(OrderRejected, match="trigger price"):
        broker.place(stop(None, at=ist(DAY, time(10, 1))))  # type: ignore[arg-type]


def test_a_trail_moves_the_trigger_and_always_carries_market_protection(ks: KiteSimHandle) -> None:
    session, _, broker = adapters(ks)
    broker.place(intent(qty=10))
    ltp = last_price(ks, "AXISBANK")
    o = broker.place(stop(float(to_tick(ltp * 0.97, TICK))))
    # the trail comes from a broker configured with another protection: Kite must be sent it on every modify
    # of an SL-M (the old modify sent it only with a change of order type, so the order kept -1)
    trailing = KiteBroker(session, ks.clock, market_protection=4, **FOLLOW)
    moved = float(to_tick(ltp * 0.99, TICK))
    out = trailing.modify(o.order_id, stop(moved, purpose=Purpose.TRAIL, at=ist(DAY, time(10, 1))))
    assert (out.order_id, out.status, out.filled_qty, out.tag) == (o.order_id, "TRIGGER PENDING", 0, o.tag)
    history = session.call("other", "h", lambda c: c.order_history(o.order_id))
    statuses = [h["status"] for h in history]
    assert "MODIFIED" in statuses and statuses[-1] == "TRIGGER PENDING"
    assert (history[-1]["trigger_price"], history[-1]["market_protection"]) == (moved, 4)
    assert history[-1]["order_type"] == "SL-M" and history[-1]["quantity"] == 10


def test_the_simulator_takes_a_modification_with_automatic_market_protection(ks: KiteSimHandle) -> None:
    """Kite takes market_protection -1 (automatic) on a modify as on a place; the simulator used to parse it as
    a price and refuse it ("'-1' is not a valid price"), so no trail with the default protection got through."""
    kite = ks.client()
    trigger = float(to_tick(last_price(ks, "AXISBANK") * 0.98, TICK))
    oid = kite.place_order(
        variety="regular", exchange="NSE", tradingsymbol="AXISBANK", transaction_type="SELL", quantity=1,
        product="MIS", order_type="SL-M", trigger_price=trigger, market_protection=5,
    )  # fmt: skip
    assert settled(kite, oid)["status"] == "TRIGGER PENDING"
    assert kite.modify_order("regular", oid, trigger_price=trigger + 0.5, market_protection=-1) == oid
    last = settled(kite, oid)
    assert (last["status"], last["trigger_price"], last["market_protection"]) == (
        "TRIGGER PENDING", trigger + 0.5, -1
    )  # fmt: skip
    with pytest.raises(kex.InputException, match="market_protection"):
        kite.modify_order("regular", oid, market_protection=-2)


def test_a_trail_to_a_trigger_already_crossed_is_refused_and_leaves_the_stop(ks: KiteSimHandle) -> None:
    session, _, broker = adapters(ks)
    broker.place(intent(qty=10))
    ltp = last_price(ks, "AXISBANK")
    trigger = float(to_tick(ltp * 0.98, TICK))
    o = broker.place(stop(trigger))
    crossed = float(to_tick(ltp * 1.01, TICK))  # a sell stop above the last price
    with pytest.raises(OrderRejected, match=r"InputException.*Trigger price"):
        broker.modify(o.order_id, stop(crossed, purpose=Purpose.TRAIL, at=ist(DAY, time(10, 1))))
    history = session.call("other", "h", lambda c: c.order_history(o.order_id))
    assert [h["status"] for h in history][-1] == "TRIGGER PENDING"
    assert not any(h["status"].startswith("MODIF") for h in history)
    assert history[-1]["trigger_price"] == trigger


def test_convert_turns_a_resting_sl_m_into_the_exit_with_no_second_order(ks: KiteSimHandle) -> None:
    _, _, broker = adapters(ks)
    entry = broker.place(intent(qty=10))
    o = broker.place(stop(float(to_tick(last_price(ks, "AXISBANK") * 0.98, TICK))))
    ks.advance(seconds=20)
    exit_ = intent(qty=10, side=Side.SELL, purpose=Purpose.EXIT, at=ist(DAY, time(10, 0, 20)))
    out = broker.convert(o.order_id, exit_)
    assert (out.order_id, out.status, out.filled_qty, out.tag) == (o.order_id, "COMPLETE", 10, o.tag)
    orders = symbol_orders(broker, "AXISBANK")
    assert {x["order_id"] for x in orders} == {entry.order_id, o.order_id}  # the stop became the exit
    fills = [t for t in broker.trades() if t["order_id"] == o.order_id]
    assert sum(t["quantity"] for t in fills) == 10
    assert out.avg_price == Decimal(str(fills[0]["average_price"])) and out.avg_price > 0
    assert [p.quantity for p in broker.positions()] == [0]
    assert out == broker.convert(o.order_id, exit_)  # delivered again: answered as it ended


def test_convert_after_the_stop_filled_returns_the_stops_fill(ks: KiteSimHandle) -> None:
    _, _, broker = adapters(ks)
    side, trigger = through_next_minute(ks, "AXISBANK")
    entry = broker.place(intent(qty=10, side=side.opposite))
    assert entry.status == "COMPLETE"
    o = broker.place(stop(trigger, side=side))
    assert o.status == "TRIGGER PENDING"
    ks.advance(minutes=1)  # the minute's bar trades through the trigger: Kite fills the stop
    assert broker.order_states(DAY, [o.order_id])[o.order_id].status == "COMPLETE"
    exit_ = intent(qty=10, side=side, purpose=Purpose.EXIT, at=ist(DAY, time(10, 1)))
    out = broker.convert(o.order_id, exit_)
    fills = [t for t in broker.trades() if t["order_id"] == o.order_id]
    assert (out.status, out.filled_qty) == ("COMPLETE", 10) and len(fills) == 1
    assert out.avg_price == Decimal(str(fills[0]["average_price"]))
    beyond = (
        out.avg_price - Decimal(str(trigger)) if side is Side.BUY else Decimal(str(trigger)) - out.avg_price
    )
    assert Decimal(0) <= beyond < Decimal(1)  # filled just beyond its trigger (the stop-fill model)
    assert {x["order_id"] for x in symbol_orders(broker, "AXISBANK")} == {entry.order_id, o.order_id}
    assert [p.quantity for p in broker.positions()] == [0]


def test_an_options_stop_rests_as_sl_and_converts_to_a_marketable_limit(ks: KiteSimHandle) -> None:
    _, market, broker = adapters(ks)
    options = market.instruments(Asset.OPTIONS)
    quotes = market.snapshot([o.symbol for o in options]).quotes
    opt = next(o for o in options if 100 < quotes[o.symbol].last < 500)
    kw: dict[str, Any] = {"exchange": "NFO", "asset": Asset.OPTIONS, "qty": opt.lot_size}
    entry = broker.place(intent(opt.symbol, **kw))
    assert entry.status == "COMPLETE"
    ltp = quotes[opt.symbol].last
    trigger = float(to_tick(ltp * 0.9, TICK))
    with pytest.raises(OrderRejected, match="SL-M orders are not allowed for option"):
        broker.place(stop(trigger, opt.symbol, **kw))
    it = stop(trigger, opt.symbol, order_type="SL", limit=float(to_tick(trigger * 0.95, TICK)), **kw)
    o = broker.place(it)
    assert (o.status, o.tag) == ("TRIGGER PENDING", it.tag)
    sent = next(x for x in broker.orders() if x["order_id"] == o.order_id)
    assert (sent["order_type"], sent["trigger_price"], sent["price"]) == ("SL", trigger, it.limit)
    exit_ = replace(intent(opt.symbol, side=Side.SELL, purpose=Purpose.EXIT, **kw), segment="options")
    out = broker.convert(o.order_id, exit_)
    assert (out.order_id, out.status, out.filled_qty) == (o.order_id, "COMPLETE", opt.lot_size)
    last = broker.session.call("other", "h", lambda c: c.order_history(o.order_id))[-1]
    # a LIMIT 2% under the last price (Kite's automatic protection for a ₹100–500 option), inside NSE's band
    assert last["order_type"] == "LIMIT" and last["price"] == float(to_tick(ltp * 0.98, TICK, up=True))
    assert ltp * 0.97 < float(out.avg_price) <= ltp
    assert {x["order_id"] for x in symbol_orders(broker, opt.symbol)} == {entry.order_id, o.order_id}
    assert [p.quantity for p in broker.positions()] == [0]


def test_order_states_reads_many_orders_in_one_call(ks: KiteSimHandle) -> None:
    session, _, broker = adapters(ks)
    filled = broker.place(intent(qty=10))
    ltp = last_price(ks, "AXISBANK")
    resting = broker.place(stop(float(to_tick(ltp * 0.98, TICK))))
    gone = broker.place(stop(float(to_tick(ltp * 0.95, TICK)), qty=5, at=ist(DAY, time(10, 1))))
    broker.cancel(gone.order_id)
    kite = ks.client()
    assert settled(kite, gone.order_id)["status"] == "CANCELLED"
    before = session.calls.get("orders", 0)
    states = broker.order_states(DAY, [filled.order_id, resting.order_id, gone.order_id, "261123999999999"])
    assert session.calls["orders"] == before + 1
    assert {k: (v.status, v.filled_qty) for k, v in states.items()} == {
        filled.order_id: ("COMPLETE", 10),
        resting.order_id: ("TRIGGER PENDING", 0),
        gone.order_id: ("CANCELLED", 0),  # as Kite says it, not turned into REJECTED
    }
    got = states[filled.order_id]
    assert (got.avg_price, got.ts, got.tag) == (filled.avg_price, filled.ts, filled.tag)
    assert got.ts.utcoffset() == timedelta(hours=5, minutes=30)


def test_a_protect_with_an_expired_token_is_retried_not_rejected(ks: KiteSimHandle) -> None:
    _, _, broker = adapters(ks)
    broker.place(intent(qty=10))
    ks.sim.expire_tokens()
    with pytest.raises(TokenExpired):
        broker.place(stop(float(to_tick(last_price(ks, "AXISBANK") * 0.98, TICK))))


# ---------------------------------------------------------------------------------------------- errors
def test_429_is_retried_with_backoff_and_the_client_side_limiter_avoids_it() -> None:
    ft = FakeTime()
    with running_kite_sim(symbols=10, rate_limits=True, timer=ft.monotonic) as ks:
        session, market, _ = adapters(ks, ft)
        market.snapshot(["AXISBANK"])
        assert "BEL" in market.snapshot(["BEL"]).quotes  # 1 quote/s: 429, then retried after backoff
        assert session.retried == 1  # the retry waits out Kite's one-second window (and a jitter)
        limited, market2, _ = adapters(ks, ft, limits=True)
        ft.sleep(5)
        for s in ("AXISBANK", "BEL", "ADANIENT"):
            market2.snapshot([s])
        assert limited.retried == 0 and limited.limiter.waited == pytest.approx(2.0)


def test_network_errors_are_retried_then_broker_unavailable(ks: KiteSimHandle) -> None:
    session, market, broker = adapters(ks)
    ks.sim.drop_connection_next("/quote")
    assert "AXISBANK" in market.snapshot(["AXISBANK"]).quotes and session.retried == 1
    ks.sim.fail_next("/user/profile", "NetworkException", 503, "Kite OMS unreachable", times=4)
    why = broker.preflight()
    assert why is not None and "Kite unreachable" in why and "NetworkException (HTTP 503)" in why
    ks.sim.fail_next("/quote", "NetworkException", 503, times=20)
    for _ in range(2):  # the breaker (5 failures) opens: the next call does not reach Kite
        with pytest.raises(BrokerUnavailable):
            market.snapshot(["AXISBANK"])
    before = ks.sim.requests
    with pytest.raises(BrokerUnavailable, match="circuit open"):
        market.snapshot(["AXISBANK"])
    assert ks.sim.requests == before


@pytest.mark.parametrize(
    ("error_type", "status", "expected"),
    [
        ("NetworkException", 503, BrokerUnavailable),
        ("DataException", 502, BrokerUnavailable),
        ("GeneralException", 500, BrokerUnavailable),
        ("GeneralException", 400, OrderRejected),
        ("InputException", 400, OrderRejected),
        ("OrderException", 500, OrderRejected),
        ("PermissionException", 403, OrderRejected),
        ("TokenException", 403, TokenExpired),
        ("SomethingNewException", 503, BrokerUnavailable),  # unknown types are GeneralException to the client
    ],
)
def test_every_kite_error_type_is_classified(
    ks: KiteSimHandle, error_type: str, status: int, expected: type[Exception]
) -> None:
    session, _, _ = adapters(ks)
    ks.sim.fail_next("/user/profile", error_type, status, f"simulated {error_type}", times=10)
    with pytest.raises(expected, match=f"simulated {error_type}"):
        session.call("other", "profile", lambda c: c.profile())
    sent = 10 - next((f.times for f in ks.sim.faults), 0)
    assert sent == (4 if expected is BrokerUnavailable else 1)  # only transient failures are retried


# ---------------------------------------------------------------------------------------------- the executor
@dataclass
class Day:
    ks: KiteSimHandle
    deps: Deps


@pytest.fixture
def day(ks: KiteSimHandle, tmp_path: Path) -> Day:
    return make_day(ks, tmp_path)


def kite_embedded(ks: KiteSimHandle, tmp_path: Path, symbols: int = 10, **kite: Any) -> Deps:
    """The embedded backend on the simulator's quotes and orders, logged in."""
    s = load_settings(
        data_dir=tmp_path,
        symbols=symbols,
        market_data="kite",
        broker="kite",
        kite={"root": ks.url, "rate_limits": False, **kite},
    )
    deps, _ = embedded(s, ks.clock, tmp_path, log_to_archive=False)
    login(ks, deps.secrets)  # type: ignore[arg-type]
    return deps


def make_day(ks: KiteSimHandle, tmp_path: Path) -> Day:
    deps = kite_embedded(ks, tmp_path, follow_polls=50, poll_interval_s=0.01)
    assert isinstance(deps.broker, KiteBroker)
    doc = plan_day(deps)  # preflight, instruments and history through the simulator
    assert doc["halted"] is None, doc["halted"]
    return Day(ks, deps)


def test_the_account_at_the_open_freezes_symbols_and_cancels_trons_old_orders(
    ks: KiteSimHandle, tmp_path: Path, logs: list[logging.LogRecord]
) -> None:
    """Before the open the account holds what TRON did not place on symbols it trades (a position, a working
    order, an active GTT): entries on them are frozen for the day with an ERROR; an order with TRON's tag
    still working (an earlier day's) is cancelled; a symbol TRON does not trade is left alone."""
    deps = kite_embedded(ks, tmp_path, symbols=5)
    trades = [i.symbol for i in deps.market.instruments(Asset.STOCKS)]
    a, b, c, d = trades[:4]
    outside = next(i.symbol for i in ks.market.instruments(Asset.STOCKS) if i.symbol not in trades[:5])
    kite = ks.client()

    def below(symbol: str) -> float:
        ltp = kite.ltp(f"NSE:{symbol}")[f"NSE:{symbol}"]["last_price"]
        return float(to_tick(ltp * 0.97, Decimal("0.05"), up=False))

    def rest(symbol: str, **kw: Any) -> str:
        return str(
            kite.place_order("regular", "NSE", symbol, "BUY", 1, "MIS", "LIMIT", price=below(symbol), **kw)
        )

    settled(kite, kite.place_order("regular", "NSE", a, "BUY", 5, "MIS", "MARKET", market_protection=-1))
    rest(b)
    ltp_c = kite.ltp(f"NSE:{c}")[f"NSE:{c}"]["last_price"]
    leg = {
        "transaction_type": "BUY",
        "quantity": 1,
        "product": "CNC",
        "order_type": "LIMIT",
        "price": below(c),
    }
    kite.place_gtt("single", c, "NSE", [below(c)], ltp_c, [leg])
    ours = rest(d, tag=order_tag("20261120-stocks-orb-x-entry-1500"))
    settled(kite, ours)  # resting OPEN, as one from an earlier day would be
    rest(outside)
    doc = plan_day(deps)
    assert doc["halted"] is None and sorted(doc["frozen"]) == [a, b, c]
    assert doc["frozen"][a] == "+5 held at the broker at the open"
    assert "TRON did not place" in doc["frozen"][b] and doc["frozen"][c].startswith("gtt ")
    for _ in range(100):  # Kite cancels asynchronously (CANCEL PENDING first)
        if {o["order_id"]: o["status"] for o in kite.orders()}[ours] == "CANCELLED":
            break
        wall.sleep(0.02)
    else:
        pytest.fail(f"order {ours} was not cancelled")
    assert any(
        r.levelname == "ERROR" and r.getMessage().startswith(f"no entries today on {a}, {b}, {c}")
        for r in logs
    )


def test_plan_day_with_an_expired_token_halts_entries_with_an_error(
    ks: KiteSimHandle, tmp_path: Path, logs: list[logging.LogRecord]
) -> None:
    deps = kite_embedded(ks, tmp_path, symbols=10)
    ks.set(ist(DAY, time(9, 0)))
    ks.sim.expire_tokens()  # as at 06:00 when nobody logged in this morning
    doc = plan_day(deps)
    assert doc["status"] == "armed" and doc["halted"].startswith("broker: TokenException")
    assert "no instruments loaded for stocks" in doc["halted"]
    assert any(r.levelname == "ERROR" and "health gate" in r.getMessage() for r in logs)


def deliver(d: Day, it: OrderIntent) -> str:
    if d.deps.store.get(intent_path(DAY.isoformat(), it.intent_id)) is None:
        d.deps.store.create(intent_path(DAY.isoformat(), it.intent_id), intent_doc(it, d.ks.clock.now()))
    return execute_order(d.deps, json.dumps(it.to_dict()).encode())


def book(d: Day) -> dict[str, Any]:
    return d.deps.store.get(book_path(DAY.isoformat(), "stocks")) or {}


def test_input_and_order_errors_are_recorded_rejections(day: Day, logs: list[logging.LogRecord]) -> None:
    fut = day.deps.market.instruments(Asset.FUTURES)[0]
    odd = intent(fut.symbol, qty=10, exchange="NFO", asset=Asset.FUTURES)  # not a whole lot
    assert deliver(day, odd) == "rejected"
    doc = day.deps.store.get(intent_path(DAY.isoformat(), odd.intent_id))
    assert "InputException" in doc["history"][-1]["reason"] and "lot size" in doc["history"][-1]["reason"]
    huge = intent("AXISBANK", qty=100_000, at=ist(DAY, time(10, 1)))  # RMS: insufficient funds → REJECTED
    assert deliver(day, huge) == "rejected"
    doc = day.deps.store.get(intent_path(DAY.isoformat(), huge.intent_id))
    assert "Insufficient funds" in doc["history"][-1]["reason"]
    assert book(day)["orders_rejected"] == 1
    assert any(r.levelname == "ERROR" and "order rejected" in r.getMessage() for r in logs)


def test_an_expired_token_halts_entries_with_an_error_and_exits_go_through_after_a_login(
    day: Day, logs: list[logging.LogRecord]
) -> None:
    entry = intent("AXISBANK", qty=5)
    assert deliver(day, entry) == "filled"
    day.ks.sim.expire_tokens()
    assert "TokenException" in day.deps.broker.preflight()
    day.ks.advance(minutes=1)
    second = intent("BEL", qty=5, at=ist(DAY, time(10, 1)))
    assert deliver(day, second) == "rejected"
    halted = day.deps.store.get(day_path(DAY.isoformat()))["halted"]
    assert "Kite session expired" in halted and "TokenException" in halted
    assert any(r.levelname == "ERROR" and "entries halted" in r.getMessage() for r in logs)
    exit_ = intent("AXISBANK", qty=5, side=Side.SELL, purpose=Purpose.EXIT, at=ist(DAY, time(10, 1)))
    with pytest.raises(TokenExpired):  # not rejected: delivered again until it goes through
        deliver(day, exit_)
    login(day.ks, day.deps.secrets)  # the user logs in again
    day.ks.advance(seconds=day.deps.config.placing_lease_seconds)  # past the placing lease
    assert deliver(day, exit_) == "filled"
    assert book(day)["positions"] == {}
    later = intent("ADANIENT", qty=5, at=ist(DAY, time(10, 2)))
    assert deliver(day, later) == "rejected"  # the day stays halted for entries


def test_a_partial_fill_books_what_was_filled(tmp_path: Path) -> None:
    with running_kite_sim(symbols=10, liquidity=engine.Liquidity(equity=Decimal("20000"))) as ks:
        d = make_day(ks, tmp_path)
        it = intent("AXISBANK", qty=400)
        assert deliver(d, it) == "filled"
        doc = d.deps.store.get(intent_path(DAY.isoformat(), it.intent_id))
        filled = doc["fill"]["qty"]
        assert 0 < filled < 400 and book(d)["positions"]["AXISBANK"]["qty"] == filled
        assert [p.quantity for p in d.deps.broker.positions()] == [filled]


class CrashAfterPlace:
    """The executor's process dies after Kite accepted the order and before TRON recorded it."""

    def __init__(self, inner: KiteBroker) -> None:
        self.inner = inner

    def place(self, it: OrderIntent) -> Any:
        self.inner.place(it)
        raise RuntimeError("process killed after the broker accepted the order")

    def find_by_tag(self, d: date, tag: str) -> Any:
        return self.inner.find_by_tag(d, tag)

    def preflight(self) -> str | None:
        return self.inner.preflight()


def test_a_crash_after_kite_accepted_is_resolved_by_adopting_the_order_by_tag(day: Day) -> None:
    kite = day.deps.broker
    it = intent("AXISBANK", qty=7)
    day.deps.broker = CrashAfterPlace(kite)  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="killed"):
        deliver(day, it)
    day.deps.broker = kite
    with pytest.raises(Busy):  # the placing lease is still held
        deliver(day, it)
    day.ks.advance(seconds=day.deps.config.placing_lease_seconds)
    assert deliver(day, it) == "adopted"
    assert deliver(day, it) == "duplicate"
    tagged = [o for o in kite.orders() if o["tag"] == it.tag]
    assert len(tagged) == 1  # exactly one order at the broker for the intent
    doc = day.deps.store.get(intent_path(DAY.isoformat(), it.intent_id))
    assert doc["order_id"] == tagged[0]["order_id"] and doc["fill"]["adopted"] and doc["attempts"] == 2
    assert book(day)["positions"]["AXISBANK"]["qty"] == 7


def test_an_answer_lost_after_kite_placed_the_order_is_adopted_not_sent_again(day: Day) -> None:
    day.ks.sim.fail_next("/orders", "NetworkException", 503, "gateway timeout", method="POST", after=True)
    it = intent("BEL", qty=3)
    assert deliver(day, it) == "filled"
    tagged = [o for o in day.deps.broker.orders() if o["tag"] == it.tag]
    assert len(tagged) == 1 and tagged[0]["status"] == "COMPLETE"


@pytest.mark.parametrize(
    ("error", "status"), [("InputException", 400), ("OrderException", 400), ("TokenException", 403)]
)
def test_an_order_accepted_whose_state_read_fails_is_unresolved_and_adopted_not_rejected(
    day: Day, error: str, status: int
) -> None:
    """Kite accepted the order, then the order_history read just after failed with a 4xx: the order is at
    the broker (it fills), so the intent is not recorded rejected; it stays unresolved, is delivered again
    and resolved by its tag, and exactly one order exists."""
    day.ks.sim.fail_next(
        "/orders/", error, status, "simulated failure after the order was accepted", method="GET"
    )
    it = intent("BEL", qty=3)
    with pytest.raises(BrokerUnavailable, match="accepted"):
        deliver(day, it)
    if error == "TokenException":
        login(day.ks, day.deps.secrets)  # type: ignore[arg-type]
    day.ks.advance(seconds=day.deps.config.placing_lease_seconds)  # past the placing lease
    wall.sleep(0.1)  # GET /orders lists a new order only after the simulator's visible_after_s (20 ms)
    out = deliver(day, it)
    tagged = [o for o in day.deps.broker.orders() if o["tag"] == it.tag]
    assert len(tagged) == 1 and tagged[0]["status"] == "COMPLETE"
    assert out == "adopted"
    assert book(day)["positions"]["BEL"]["qty"] == 3 and book(day)["orders_rejected"] == 0


def test_an_entry_left_in_placing_when_entries_halt_is_rejected_if_kite_never_got_it(day: Day) -> None:
    """The entries halted (here the loss limit) while an entry was in `placing` without reaching Kite:
    its next delivery looks its tag up, finds nothing and rejects it; it is never placed on a halted day."""
    day.ks.sim.drop_connection_next("/orders", times=8, method="POST")  # never reaches the order book
    it = intent("BEL", qty=3)
    with pytest.raises(BrokerUnavailable):
        deliver(day, it)
    path = day_path(DAY.isoformat())
    day.deps.store.set(path, {**(day.deps.store.get(path) or {}), "halted": "daily loss limit reached"})
    day.ks.advance(seconds=day.deps.config.placing_lease_seconds)  # past the placing lease
    assert deliver(day, it) == "rejected"
    assert [o for o in day.deps.broker.orders() if o["tag"] == it.tag] == []
    doc = day.deps.store.get(intent_path(DAY.isoformat(), it.intent_id))
    assert doc["history"][-1]["reason"] == "entries halted: daily loss limit reached"


# ---------------------------------------------------------------------------------------------- the entry point
MAIN = str(REPO / "functions" / "main.py")


def test_the_kite_login_function_is_a_redirect_url_that_stores_the_token(
    ks: KiteSimHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served by functions-framework as Cloud Run would: Kite redirects the browser to
    …/kite_login?request_token=…&action=login&status=success."""
    monkeypatch.setenv("TRON_KITE__ROOT", ks.url)
    deps, _ = embedded(load_settings(data_dir=tmp_path), ks.clock, tmp_path, log_to_archive=False)
    deps.secrets.put(API_SECRET_SECRET, ks.api_secret)
    app = create_app(target="kite_login", source=MAIN, signature_type="http")
    sys.modules["main"]._deps = deps
    web = app.test_client()
    r = web.get("/?request_token=webreq1&action=login&status=success")
    token = deps.secrets.get("kite_access_token")
    assert r.status_code == 200 and token and token not in r.get_data(as_text=True)
    assert r.get_json()["user_id"] == "SIM001"
    assert web.post("/", json={"request_token": "webreq2"}).status_code == 200
    assert deps.secrets.get("kite_access_token") != token  # a new version
    for bad in ("/", "/?request_token=", "/?request_token=a%20b"):
        r = web.get(bad)
        assert r.status_code == 400 and "request_token" in r.get_json()["error"]
    r = web.get("/?request_token=webreq1")  # already used
    assert r.status_code == 400 and "refused" in r.get_json()["error"]
    assert web.post("/", data="not json", content_type="application/json").status_code == 400


def test_tron_kite_login_prints_the_url_or_stores_a_session(
    ks: KiteSimHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tron import cli

    monkeypatch.setenv("TRON_DATA_DIR", str(tmp_path))
    assert cli.main(["kite-login"]) == 0
    assert "https://kite.zerodha.com/connect/login?v=3&api_key=sim" in capsys.readouterr().out
    monkeypatch.setenv("TRON_KITE__ROOT", ks.url)
    monkeypatch.setenv("TRON_SECRET_KITE_API_SECRET", ks.api_secret)
    assert cli.main(["kite-login", "--request-token", "clireq1"]) == 0
    out = capsys.readouterr().out
    assert "access token stored as kite_access_token" in out and "export" not in out
    assert cli.main(["kite-login", "--request-token", "clireq2", "--print-token"]) == 0
    token = (
        capsys.readouterr().out.strip().splitlines()[-1].removeprefix("export TRON_SECRET_KITE_ACCESS_TOKEN=")
    )
    kite = ks.client(login=False)  # the printed token works against the simulator
    kite.set_access_token(token)
    assert kite.profile()["user_id"] == "SIM001"
    assert cli.main(["kite-login", "--request-token", "clireq1"]) == 2  # used already: refused
    assert "refused" in capsys.readouterr().err
    monkeypatch.delenv("TRON_SECRET_KITE_API_SECRET")
    assert cli.main(["kite-login", "--request-token", "clireq3"]) == 1
    assert "api secret is not set" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- a delayed request
def test_a_place_request_held_in_the_network_cannot_leave_a_second_position(
    ks: KiteSimHandle, tmp_path: Path, logs: list[logging.LogRecord]
) -> None:
    """The client times out on a place request held in the network, finds no order with the tag, places
    again; then the first request arrives. Measured once: a second position open outside TRON's book for
    hours, and no ERROR. Kite has no idempotency key: the tag is looked up again at the next ticks and the
    extra order is cancelled or its fill flattened, with an ERROR."""
    with DelayingProxy(ks.url) as proxy:
        s = load_settings(
            data_dir=tmp_path,
            symbols=10,
            market_data="kite",
            broker="kite",
            kite={
                "root": proxy.url,
                "rate_limits": False,
                "follow_polls": 50,
                "poll_interval_s": 0.01,
                "timeout_s": 1,
            },
        )
        deps, bus = embedded(s, ks.clock, tmp_path, log_to_archive=False)
        login(ks, deps.secrets)  # type: ignore[arg-type]
        assert plan_day(deps)["halted"] is None
        d = Day(ks, deps)
        it = intent("AXISBANK", qty=7)
        proxy.hold_next(b"POST /orders/regular", 2.5)
        assert deliver(d, it) == "filled"
        assert proxy.delivered_late.wait(10)  # the held request has reached the broker now
        wall.sleep(0.3)
        tagged = [o for o in d.deps.broker.orders() if o["tag"] == it.tag]
        assert len(tagged) == 2  # Kite took both: the duplicate exists at the broker
        ks.advance(minutes=1)
        tick(deps, Asset.STOCKS)
        assert any(r.levelname == "ERROR" and "second order" in r.getMessage() for r in logs)
        ks.advance(minutes=1)
        bus.drain(deps.config.orders_topic, lambda data, attrs: execute_order(deps, data, attrs))
        held = {p.symbol: p.quantity for p in d.deps.broker.positions() if p.quantity}
        assert held == {"AXISBANK": 7} == {s: p["qty"] for s, p in book(d)["positions"].items()}
        assert Decimal(book(d)["cash"]) == -sum(  # both of the duplicate's fills are in the book
            Decimal(str(t["average_price"])) * t["quantity"] * (1 if t["transaction_type"] == "BUY" else -1)
            for t in d.deps.broker.trades()
        )


# ---------------------------------------------------------------------------------------------- margins
def test_kites_basket_margin_counts_the_hedges_and_the_account_has_its_cash(ks: KiteSimHandle) -> None:
    from tron.adapters.kite.margins import KiteMargins
    from tron.domain.structures import PlannedLeg

    session, market, _ = adapters(ks)
    margins = KiteMargins(session)
    options = market.instruments(Asset.OPTIONS)
    expiry = min(i.expiry for i in options if i.expiry)
    chain = {(i.option_type, i.strike): i for i in options if i.expiry == expiry}
    spot = ks.market.snapshot(["NIFTY 50"]).quotes["NIFTY 50"].last
    atm = min((k for _, k in chain if k), key=lambda k: abs(k - spot))

    def leg(kind: str, k: float, side: Side) -> PlannedLeg:
        return PlannedLeg(chain[(kind, k)], side, 65, 100.0, None)

    straddle = [leg("CE", atm, Side.SELL), leg("PE", atm, Side.SELL)]
    condor = [*straddle, leg("CE", atm + 300, Side.BUY), leg("PE", atm - 300, Side.BUY)]
    assert margins.basket(condor) < margins.basket(straddle) / 2
    assert margins.available() == ks.sim.capital


@pytest.mark.parametrize("answer", [{}, {"initial": {"total": "lots"}}, {"initial": {"total": -5}}, [1]])
def test_a_malformed_margin_answer_is_unavailable_never_a_guess(answer: Any) -> None:
    from tron.adapters.kite.margins import KiteMargins

    class Session:
        def call(self, kind: str, name: str, fn: Any) -> Any:
            return answer

    with pytest.raises(BrokerUnavailable, match="malformed"):
        KiteMargins(Session()).basket([])  # type: ignore[arg-type]
