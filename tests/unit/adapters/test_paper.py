"""tron.adapters.paper: the paper broker rejects partial lots, and rests protective stops (SL-M, SL) that it
works against the market's minute candles with the shared stop-fill model (tron.domain.stop_fill)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.support.days import at, embedded_deps
from tron.adapters.clock import VirtualClock
from tron.adapters.paper import PaperBroker
from tron.adapters.sqlite_store import SqliteStore
from tron.domain.models import (
    Asset,
    Candle,
    DailyBar,
    Instrument,
    OrderIntent,
    Purpose,
    Quote,
    Side,
    Snapshot,
)
from tron.ports import BrokerOrder, BrokerUnavailable, OrderRejected

DAY = date(2026, 11, 23)
SYM = "ACME"  # a ₹100 stock, tick 0.05
OPT = "NIFTY26NOV26000CE"  # a ₹112 option, tick 0.05


def hms(h: int, m: int, s: int = 0) -> datetime:
    """h:m:s IST on DAY."""
    return at(h, m) + timedelta(seconds=s)


def bar(h: int, m: int, o: float, hi: float, lo: float, c: float) -> Candle:
    """The minute candle starting at h:m."""
    return Candle(at(h, m), o, hi, lo, c, 1000)


@dataclass
class FakeMarket:
    """MarketData as the port promises it: each quote stamped with the clock's now, and the given minute
    candles that start at or after ``since`` and have completed by the clock's now. Records what the broker
    asked."""

    clock: VirtualClock
    prices: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # bid, ask, last
    candles: dict[str, list[Candle]] = field(default_factory=dict)
    asked: list[tuple[str, datetime]] = field(default_factory=list)

    def quote(self, symbol: str, bid: float, ask: float, last: float | None = None) -> None:
        self.prices[symbol] = (bid, ask, (bid + ask) / 2 if last is None else last)

    def add(self, symbol: str, *candles: Candle) -> None:
        self.candles.setdefault(symbol, []).extend(candles)

    def instruments(self, asset: Asset) -> list[Instrument]:
        return []

    def snapshot(self, symbols: list[str]) -> Snapshot:
        now = self.clock.now()
        quotes = {}
        for s in symbols:
            if s in self.prices:
                bid, ask, last = self.prices[s]
                quotes[s] = Quote(s, now, last, bid, ask, 1000, 100.0, max(ask, 120.0), 1.0, 100.0)
        return Snapshot(now, quotes)

    def daily_history(self, symbol: str, before: date, days: int) -> list[DailyBar]:
        return []

    def minute_bars(self, symbol: str, since: datetime) -> list[Candle]:
        self.asked.append((symbol, since))
        now = self.clock.now()
        return [
            c
            for c in self.candles.get(symbol, [])
            if since <= c.start and c.start + timedelta(minutes=1) <= now
        ]

    def preflight(self) -> str | None:
        return None


@dataclass
class Env:
    clock: VirtualClock
    market: FakeMarket
    store: SqliteStore
    broker: PaperBroker

    def now(self, h: int, m: int, s: int = 0) -> None:
        self.clock.set(hms(h, m, s))

    def state(self, order_id: str) -> BrokerOrder:
        return self.broker.order_states(DAY, [order_id])[order_id]

    def doc(self, order_id: str) -> dict:
        d = self.store.get(f"paper/{DAY.isoformat()}/orders/{order_id}")
        assert d is not None
        return d


@pytest.fixture
def env() -> Env:
    """10:00:30 on DAY; ACME quoted 100.00 / 100.40 (half the spread 0.20), the option 111.90 / 112.10."""
    clock = VirtualClock(hms(10, 0, 30))
    market = FakeMarket(clock)
    market.quote(SYM, 100.00, 100.40, 100.20)
    market.quote(OPT, 111.90, 112.10, 112.00)
    store = SqliteStore(":memory:")
    return Env(clock, market, store, PaperBroker(store, market, clock))


def stop(
    side: Side = Side.SELL,
    trigger: float = 99.0,
    order_type: str = "SL-M",
    limit: float | None = None,
    purpose: Purpose = Purpose.PROTECT,
    iid: str = "p1",
    decided: datetime | None = None,
) -> OrderIntent:
    """A resting stop of 10 ACME (a long's SELL stop unless told), decided at 10:00."""
    return OrderIntent(
        iid, DAY, Asset.STOCKS, SYM, "NSE", side, 10, purpose, "orb", "stop", decided or at(10, 0),
        order_type=order_type, trigger=trigger, limit=limit,
    )  # fmt: skip


def option_sl(trigger: float = 110.0, limit: float | None = 107.8) -> OrderIntent:
    """A long option's SELL SL (options rest SL, never SL-M) of 65, decided at 10:00."""
    return OrderIntent(
        "o1", DAY, Asset.OPTIONS, OPT, "NFO", Side.SELL, 65, Purpose.PROTECT, "orb", "stop", at(10, 0),
        segment="options", product="MIS", order_type="SL", trigger=trigger, limit=limit,
    )  # fmt: skip


def exit_of(side: Side = Side.SELL, decided: datetime | None = None) -> OrderIntent:
    """The exit of the 10 ACME, a MARKET order."""
    return OrderIntent(
        "x1", DAY, Asset.STOCKS, SYM, "NSE", side, 10, Purpose.EXIT, "orb", "exit", decided or at(10, 1),
    )  # fmt: skip


def test_paper_broker_rejects_partial_lots(tmp_path) -> None:
    deps = embedded_deps(tmp_path)
    deps.clock.set(at(10, 0))
    fut = deps.market.instruments(Asset.FUTURES)[1]
    bad = OrderIntent(
        "x", DAY, Asset.FUTURES, fut.symbol, "NFO", Side.BUY, 64, Purpose.ENTRY, "orb", "", at(9, 59),
        segment="futures",
    )  # fmt: skip
    with pytest.raises(OrderRejected, match="not a multiple of the lot size 65"):
        deps.broker.place(bad)
    ok = OrderIntent(**{**bad.__dict__, "qty": 130})
    assert deps.broker.place(ok).filled_qty == 130


# ---------------------------------------------------------------------------------------- resting stops
def test_a_placed_stop_rests_trigger_pending_without_a_fill(env: Env) -> None:
    placed = env.broker.place(stop())
    assert (placed.status, placed.filled_qty, placed.avg_price) == ("TRIGGER PENDING", 0, Decimal(0))
    assert placed.ts == hms(10, 0, 30)  # the quote it was placed on
    assert env.broker.find_by_tag(DAY, stop().tag) == placed
    assert env.state(placed.order_id) == placed  # no candle completed since: nothing to work
    assert env.doc(placed.order_id)["order_type"] == "SL-M"


def test_stop_rejected_without_its_trigger_or_an_sl_without_its_limit(env: Env) -> None:
    with pytest.raises(OrderRejected, match="needs its trigger"):
        env.broker.place(OrderIntent(**{**stop().__dict__, "trigger": None}))
    with pytest.raises(OrderRejected, match="needs its trigger"):
        env.broker.place(option_sl(limit=None))
    with pytest.raises(OrderRejected, match="MARKET orders and rests SL-M and SL"):
        env.broker.place(OrderIntent(**{**stop().__dict__, "order_type": "LIMIT"}))
    assert env.broker.orders_with_tag(DAY, stop().tag) == []


@pytest.mark.parametrize(
    ("placed", "status", "price"),
    [
        # placed inside the 10:00 minute: that candle's low (95) may have traded before the stop existed
        (hms(10, 0, 30), "TRIGGER PENDING", Decimal(0)),
        # placed at 10:00:00 sharp, the whole 10:00 candle is after it: through 99 on its way down
        # (open 100.2 → high 100.3 → low 95), at the trigger 99 less max(1 tick, half spread 0.20,
        # 2 bps = 0.0198) = 98.80, inside the 2% protection (97.05)
        (hms(10, 0), "COMPLETE", Decimal("98.80")),
    ],
)
def test_stop_is_active_only_from_the_candle_after_it_was_placed(
    env: Env, placed: datetime, status: str, price: Decimal
) -> None:
    env.clock.set(placed)
    env.market.add(
        SYM,
        bar(10, 0, 100.2, 100.3, 95.0, 95.5),  # through the trigger 99
        bar(10, 1, 100.0, 100.5, 99.5, 100.2),  # never reaches 99
    )
    order = env.broker.place(stop(decided=at(9, 59)))
    env.now(10, 2)
    got = env.state(order.order_id)
    assert (got.status, got.avg_price) == (status, price)
    assert env.market.asked[0] == (SYM, placed)  # the candles asked for start at the placement


@pytest.mark.parametrize(
    ("bid", "ask", "price"),
    [
        # half the spread (0.20) beats 1 tick (0.05) and 2 bps of 99 (0.0198): 99 - 0.20 = 98.80
        (100.00, 100.40, Decimal("98.80")),
        # a one-tick spread: half of it (0.025) and 2 bps lose to 1 tick: 99 - 0.05 = 98.95
        (99.95, 100.00, Decimal("98.95")),
        # half of a ₹4 spread (2.00) would be 97.00, beyond the 2% market protection of 99 (97.02 → 97.05)
        (98.00, 102.00, Decimal("97.05")),
    ],
)
def test_sell_stop_fills_near_its_trigger_in_a_later_candle_through_it(
    env: Env, bid: float, ask: float, price: Decimal
) -> None:
    order = env.broker.place(stop())
    env.market.add(
        SYM,
        bar(10, 1, 100.1, 100.6, 99.4, 100.0),  # low 99.4: above the trigger
        bar(10, 2, 100.2, 100.3, 98.5, 98.7),  # closed down: open → high → low 98.5, through 99
    )
    env.now(10, 2)
    assert env.state(order.order_id).status == "TRIGGER PENDING"  # the 10:01 candle did not reach it
    env.market.quote(SYM, bid, ask, 99.0)  # the spread of the quote when it is worked
    env.now(10, 3, 5)
    filled = env.state(order.order_id)
    assert (filled.status, filled.filled_qty, filled.avg_price) == ("COMPLETE", 10, price)
    assert filled.ts == at(10, 3)  # the end of the candle that filled it
    assert env.broker.find_by_tag(DAY, stop().tag) == filled


@pytest.mark.parametrize(
    "candle",
    [
        bar(10, 1, 97.0, 97.3, 96.5, 96.8),  # gapped down, closed down
        bar(10, 1, 97.0, 98.0, 96.9, 97.5),  # gapped down, closed up (open → low → high)
    ],
)
def test_a_gap_down_fills_near_the_open(env: Env, candle: Candle) -> None:
    order = env.broker.place(stop())
    env.market.add(SYM, candle)
    env.now(10, 2)
    # triggered at the open 97 (not the trigger 99): 97 - max(0.05, 0.20, 0.0194) = 96.80 (protection 95.10)
    got = env.state(order.order_id)
    assert (got.status, got.filled_qty, got.avg_price) == ("COMPLETE", 10, Decimal("96.80"))


@pytest.mark.parametrize(
    ("candle", "price"),
    [
        # closed up: open 100.5 → low 100.4 → high 101.5, through 101: 101 + 0.20 = 101.20 (protection 102.00)
        (bar(10, 2, 100.5, 101.5, 100.4, 101.2), Decimal("101.20")),
        # gapped up to 102: 102 + 0.20 = 102.20 (protection 1% of 102 = 103.02 → 103.00)
        (bar(10, 2, 102.0, 102.5, 101.8, 102.4), Decimal("102.20")),
    ],
)
def test_a_buy_stop_covering_a_short_mirrors_it(env: Env, candle: Candle, price: Decimal) -> None:
    order = env.broker.place(stop(Side.BUY, trigger=101.0))
    env.market.add(SYM, bar(10, 1, 100.5, 100.95, 100.1, 100.8), candle)  # 10:01: high 100.95, below 101
    env.now(10, 2)
    assert env.state(order.order_id).status == "TRIGGER PENDING"
    env.now(10, 3)
    got = env.state(order.order_id)
    assert (got.status, got.filled_qty, got.avg_price, got.ts) == ("COMPLETE", 10, price, at(10, 3))


OPTION_CANDLES = [
    bar(10, 1, 111.5, 112.0, 110.5, 111.0),  # low 110.5: not triggered
    bar(10, 2, 106.0, 107.0, 104.0, 105.0),  # gapped through the trigger 110 and the limit 107.80, never back
    bar(10, 3, 105.0, 107.75, 104.5, 107.0),  # high 107.75: short of the limit
    bar(10, 4, 107.0, 108.2, 106.8, 108.0),  # high 108.2: trades at the limit
]


def test_option_sl_rests_open_past_its_limit_and_fills_at_it_later(env: Env) -> None:
    order = env.broker.place(option_sl())
    assert order.status == "TRIGGER PENDING"
    env.market.add(OPT, *OPTION_CANDLES)
    seen = []
    for minute in (2, 3, 4, 5):
        env.now(10, minute)
        got = env.state(order.order_id)
        seen.append((got.status, got.filled_qty, got.avg_price))
    assert seen == [
        ("TRIGGER PENDING", 0, Decimal(0)),
        ("OPEN", 0, Decimal(0)),  # triggered at the open 106, below its limit: rests as a limit order
        ("OPEN", 0, Decimal(0)),
        ("COMPLETE", 65, Decimal("107.80")),  # at its limit, not the better 108.2
    ]
    assert env.state(order.order_id).ts == at(10, 5)


def test_option_sl_worked_all_at_once_fills_at_its_limit(env: Env) -> None:
    order = env.broker.place(option_sl())
    env.market.add(OPT, *OPTION_CANDLES)
    env.now(10, 5)
    got = env.state(order.order_id)
    assert (got.status, got.filled_qty, got.avg_price, got.ts) == (
        "COMPLETE",
        65,
        Decimal("107.80"),
        at(10, 5),
    )


def test_option_sl_swept_through_fills_like_a_stop_never_past_its_limit(env: Env) -> None:
    order = env.broker.place(option_sl())
    env.market.add(OPT, bar(10, 1, 111.0, 111.2, 108.0, 108.5))  # open → high → low 108: through 110
    env.now(10, 2)
    # at the trigger 110 (marketable: above the limit 107.80) less max(0.05, half of 0.20, 2 bps 0.022)
    got = env.state(order.order_id)
    assert (got.status, got.avg_price) == ("COMPLETE", Decimal("109.90"))


# ---------------------------------------------------------------------------------------- modify
@pytest.mark.parametrize(
    ("to", "candles", "status", "price"),
    [
        # loosened to 98: the 10:01 candle's low 98.5 was through 99 only; 10:02 goes through 98:
        # 98 - 0.20 = 97.80
        (
            98.0,
            [bar(10, 1, 99.8, 100.0, 98.5, 98.9), bar(10, 2, 98.6, 98.7, 97.5, 97.8)],
            "COMPLETE",
            "97.80",
        ),
        (98.0, [bar(10, 1, 99.8, 100.0, 98.5, 98.9)], "TRIGGER PENDING", "0"),
        # tightened to 99.50: the low 99.3 never reached 99 but goes through 99.50: 99.50 - 0.20 = 99.30
        (99.5, [bar(10, 1, 100.0, 100.1, 99.3, 99.6)], "COMPLETE", "99.30"),
    ],
)
def test_modify_moves_the_trigger(
    env: Env, to: float, candles: list[Candle], status: str, price: str
) -> None:
    order = env.broker.place(stop())
    env.now(10, 0, 50)
    trail = stop(trigger=to, purpose=Purpose.TRAIL, iid="t1", decided=hms(10, 0, 40))
    moved = env.broker.modify(order.order_id, trail)
    assert (moved.order_id, moved.status, moved.filled_qty) == (order.order_id, "TRIGGER PENDING", 0)
    assert Decimal(env.doc(order.order_id)["trigger"]) == Decimal(str(to))
    env.market.add(SYM, *candles)
    env.now(10, 3)
    got = env.state(order.order_id)
    assert (got.status, got.avg_price) == (status, Decimal(price))


def test_modify_works_the_completed_candles_with_the_old_trigger_first(env: Env) -> None:
    order = env.broker.place(stop())
    env.market.add(SYM, bar(10, 1, 99.8, 100.0, 98.5, 98.9))  # through the old 99, not the new 98
    env.now(10, 2, 10)
    with pytest.raises(OrderRejected, match="cannot be modified as it is complete"):
        env.broker.modify(order.order_id, stop(trigger=98.0, purpose=Purpose.TRAIL, iid="t1"))
    got = env.state(order.order_id)
    assert (got.status, got.avg_price) == ("COMPLETE", Decimal("98.80"))  # 99 - 0.20, the old trigger's fill
    assert Decimal(env.doc(order.order_id)["trigger"]) == Decimal(99)


def test_modify_refused_when_the_last_price_is_through_the_new_trigger(env: Env) -> None:
    order = env.broker.place(stop())  # last 100.20
    with pytest.raises(OrderRejected, match=r"already crossed by the last price 100\.2"):
        env.broker.modify(order.order_id, stop(trigger=100.5, purpose=Purpose.TRAIL, iid="t1"))
    with pytest.raises(OrderRejected, match="a trail needs its trigger"):
        env.broker.modify(order.order_id, OrderIntent(**{**stop().__dict__, "trigger": None}))
    assert Decimal(env.doc(order.order_id)["trigger"]) == Decimal(99)  # where it was
    assert env.state(order.order_id).status == "TRIGGER PENDING"


def test_modify_of_a_buy_stop_is_refused_when_the_last_price_is_through_it(env: Env) -> None:
    order = env.broker.place(stop(Side.BUY, trigger=101.0))  # last 100.20
    with pytest.raises(OrderRejected, match="already crossed"):
        env.broker.modify(order.order_id, stop(Side.BUY, trigger=100.0, purpose=Purpose.TRAIL, iid="t1"))
    moved = env.broker.modify(order.order_id, stop(Side.BUY, trigger=100.5, purpose=Purpose.TRAIL, iid="t1"))
    assert moved.status == "TRIGGER PENDING"


# ---------------------------------------------------------------------------------------- convert
def test_convert_turns_a_resting_stop_into_the_exit_at_the_quote(env: Env) -> None:
    order = env.broker.place(stop())
    env.now(10, 1, 30)
    done = env.broker.convert(order.order_id, exit_of(decided=at(10, 1)))
    # a SELL at the bid 100.00, the same order (so stop and exit can never both fill)
    assert (done.order_id, done.status, done.filled_qty, done.avg_price) == (
        order.order_id, "COMPLETE", 10, Decimal("100.00"),
    )  # fmt: skip
    assert done.ts == hms(10, 1, 30)
    doc = env.doc(order.order_id)
    assert (doc["order_type"], doc["converted_by"]) == ("MARKET", "x1")
    env.market.add(SYM, bar(10, 2, 99.8, 100.0, 95.0, 95.5))  # through the old trigger afterwards
    env.now(10, 5)
    assert env.state(order.order_id) == done  # no second fill
    assert env.broker.orders_with_tag(DAY, stop().tag) == [done]


def test_convert_waits_for_a_quote_after_the_exit_decision(env: Env) -> None:
    order = env.broker.place(stop())
    env.now(10, 1, 30)
    with pytest.raises(BrokerUnavailable, match="no snapshot after"):
        env.broker.convert(order.order_id, exit_of(decided=hms(10, 1, 30)))
    assert env.state(order.order_id).status == "TRIGGER PENDING"


def test_convert_of_a_stop_that_already_filled_answers_its_fill(env: Env) -> None:
    order = env.broker.place(stop())
    env.market.add(SYM, bar(10, 1, 99.8, 100.0, 98.5, 98.9))  # through 99: 98.80
    env.now(10, 2, 30)
    done = env.broker.convert(order.order_id, exit_of(decided=at(10, 2)))
    assert (done.status, done.filled_qty, done.avg_price, done.ts) == (
        "COMPLETE",
        10,
        Decimal("98.80"),
        at(10, 2),
    )
    assert "converted_by" not in env.doc(order.order_id)  # not filled a second time at the bid 100.00
    assert env.broker.convert(order.order_id, exit_of(decided=at(10, 2))) == done
    assert env.state(order.order_id) == done


def test_convert_of_a_triggered_sl_fills_at_the_quote(env: Env) -> None:
    order = env.broker.place(option_sl())
    env.market.add(OPT, OPTION_CANDLES[0], OPTION_CANDLES[1])
    env.now(10, 3, 20)
    exit_ = OrderIntent(
        **{**option_sl().__dict__, "intent_id": "x2", "order_type": "MARKET", "decided_at": at(10, 3)}
    )
    done = env.broker.convert(order.order_id, exit_)
    assert (done.status, done.filled_qty, done.avg_price) == ("COMPLETE", 65, Decimal("111.90"))  # the bid


def test_convert_of_a_cancelled_stop_is_rejected_without_a_fill(env: Env) -> None:
    order = env.broker.place(stop())
    env.broker.cancel(order.order_id)
    env.now(10, 1, 30)
    got = env.broker.convert(order.order_id, exit_of(decided=at(10, 1)))
    assert (got.status, got.filled_qty) == ("REJECTED", 0)
    assert "cancelled" in got.message
    assert env.state(order.order_id).status == "CANCELLED"


# ---------------------------------------------------------------------------------------- cancel
def test_cancel_of_a_resting_stop(env: Env) -> None:
    order = env.broker.place(stop())
    assert env.broker.cancel(order.order_id) == order.order_id
    env.market.add(SYM, bar(10, 1, 99.8, 100.0, 95.0, 95.5))  # through the trigger: but it is cancelled
    env.now(10, 3)
    got = env.state(order.order_id)
    assert (got.status, got.filled_qty) == ("CANCELLED", 0)
    with pytest.raises(OrderRejected, match="cancelled"):
        env.broker.cancel(order.order_id)


def test_cancel_of_a_stop_that_filled_meanwhile_is_refused(env: Env) -> None:
    order = env.broker.place(stop())
    env.market.add(SYM, bar(10, 1, 99.8, 100.0, 98.5, 98.9))
    env.now(10, 2, 10)
    with pytest.raises(OrderRejected, match="complete"):
        env.broker.cancel(order.order_id)
    assert env.state(order.order_id).avg_price == Decimal("98.80")
    with pytest.raises(OrderRejected, match="no paper order"):
        env.broker.cancel("nope")


# ---------------------------------------------------------------------------------------- idempotence
def test_asking_twice_works_each_candle_once_and_never_fills_twice(env: Env) -> None:
    order = env.broker.place(stop())
    market = env.broker.place(exit_of(decided=at(10, 0)))  # a MARKET order: complete at the bid at once
    env.market.add(SYM, bar(10, 1, 100.1, 100.6, 99.4, 100.0))
    env.now(10, 2)
    first = env.broker.order_states(DAY, [order.order_id, market.order_id, "unknown"])
    assert set(first) == {order.order_id, market.order_id}  # an unknown order is left out
    assert first[order.order_id].status == "TRIGGER PENDING"
    assert first[market.order_id].avg_price == Decimal("100.00")
    assert env.broker.order_states(DAY, [order.order_id, market.order_id]) == first
    # the second ask starts after the candle already worked
    assert [s for _, s in env.market.asked] == [hms(10, 0, 30), at(10, 2)]
    env.market.add(SYM, bar(10, 2, 100.2, 100.3, 98.5, 98.7), bar(10, 3, 98.0, 98.2, 90.0, 90.5))
    env.now(10, 3)
    filled = env.state(order.order_id)
    assert (filled.status, filled.filled_qty, filled.avg_price) == ("COMPLETE", 10, Decimal("98.80"))
    env.now(10, 6)
    for _ in range(2):  # later candles (10:03 falls to 90) never fill it again
        assert env.state(order.order_id) == filled
    assert len(env.market.asked) == 3  # a complete order is not worked any more


# ---------------------------------------------------------------------------------------- bad days
@pytest.mark.parametrize("quote", ["absent", "one-sided"])
def test_order_states_answers_without_a_good_quote(env: Env, quote: str) -> None:
    order = env.broker.place(stop())
    env.market.add(SYM, bar(10, 1, 99.8, 100.0, 98.5, 98.9))
    if quote == "absent":
        del env.market.prices[SYM]
    else:
        env.market.quote(SYM, 0.0, 99.0, 99.0)  # no bid: quote_problem refuses it
    env.now(10, 2)
    states = env.broker.order_states(DAY, [order.order_id])  # the stop is still worked (without a spread)
    assert states[order.order_id].status in ("TRIGGER PENDING", "COMPLETE")


def test_modify_of_an_sl_without_its_limit_leaves_a_working_order(env: Env) -> None:
    order = env.broker.place(option_sl())
    try:
        env.broker.modify(order.order_id, option_sl(trigger=111.0, limit=None))
    except OrderRejected:
        pass  # refusing it, as place does, is as good as keeping the limit
    env.market.add(OPT, bar(10, 1, 112.0, 112.2, 109.0, 109.5))
    env.now(10, 2)
    assert env.state(order.order_id).status in ("TRIGGER PENDING", "OPEN", "COMPLETE")
