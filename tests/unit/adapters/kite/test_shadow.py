"""The shadow broker (dry-run live): every order call built as the Kite broker sends it, checked against Kite's
rules and recorded under days/{date}/shadow, refused as Kite would refuse it, and filled on paper exactly as
the plain paper broker fills it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakes.kite import FakeClient, FakeTime, naive, session
from tron.adapters.clock import VirtualClock
from tron.adapters.kite import KiteBroker
from tron.adapters.kite.shadow import ShadowBroker, kite_problems, shadow_path, shadow_records
from tron.adapters.paper import PaperBroker
from tron.adapters.sqlite_store import SqliteStore
from tron.config.settings import ConfigError, load_settings
from tron.domain.live import Guardrails
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
    slice_tag,
)
from tron.domain.protect import sl_limit
from tron.domain.timeutil import ist
from tron.ports import BrokerOrder, OrderRejected

DAY = date(2026, 11, 23)
SYM = "ACME"  # a ₹100 stock, tick 0.05
OPT = "NIFTY26NOV26000CE"  # a ₹112 option, tick 0.05
TICK = Decimal("0.05")
NOW = ist(DAY, time(10, 0, 30))


@dataclass
class FakeMarket:
    """MarketData: each quote stamped with the clock's now; no minute candles (stops never fill here)."""

    clock: VirtualClock
    prices: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # bid, ask, last

    def instruments(self, asset: Asset) -> list[Instrument]:
        return []

    def snapshot(self, symbols: list[str]) -> Snapshot:
        now = self.clock.now()
        quotes = {
            s: Quote(s, now, last, bid, ask, 1000, 100.0, max(ask, 120.0), 1.0, 100.0)
            for s in symbols
            if s in self.prices
            for bid, ask, last in [self.prices[s]]
        }
        return Snapshot(now, quotes)

    def daily_history(self, symbol: str, before: date, days: int) -> list[DailyBar]:
        return []

    def minute_bars(self, symbol: str, since: datetime) -> list[Candle]:
        return []

    def preflight(self) -> str | None:
        return None


@dataclass
class Env:
    clock: VirtualClock
    market: FakeMarket
    store: SqliteStore
    paper: PaperBroker

    def shadow(self, **kw: Any) -> ShadowBroker:
        return ShadowBroker(self.paper, self.store, self.clock, **kw)

    def records(self) -> list[dict[str, Any]]:
        return shadow_records(self.store, DAY)


def env() -> Env:
    """10:00:30 on DAY; ACME quoted 100.00 / 100.40 (last 100.20), the option 111.90 / 112.10 (last 112.00)."""
    clock = VirtualClock(NOW)
    market = FakeMarket(clock, {SYM: (100.00, 100.40, 100.20), OPT: (111.90, 112.10, 112.00)})
    store = SqliteStore(":memory:")
    return Env(clock, market, store, PaperBroker(store, market, clock))


def intent(
    purpose: Purpose = Purpose.ENTRY,
    side: Side = Side.BUY,
    order_type: str = "MARKET",
    trigger: float | None = None,
    limit: float | None = None,
    option: bool = False,
    name: str = "orb",
) -> OrderIntent:
    symbol = OPT if option else SYM
    return OrderIntent(
        intent_id=f"20261123-{'options' if option else 'stocks'}-{name}-{symbol}-{purpose}-1000",
        day=DAY,
        asset=Asset.OPTIONS if option else Asset.STOCKS,
        symbol=symbol,
        exchange="NFO" if option else "NSE",
        side=side,
        qty=10,
        purpose=purpose,
        strategy="orb",
        reason="test",
        decided_at=ist(DAY, time(10, 0)),
        segment="options" if option else "equity_intraday",
        tick_size=TICK,
        order_type=order_type,
        trigger=trigger,
        limit=limit,
    )


def entry() -> OrderIntent:
    return intent()


def stop(trigger: float = 98.50, purpose: Purpose = Purpose.PROTECT) -> OrderIntent:
    """A sell SL-M resting under the ACME long."""
    return intent(purpose, Side.SELL, "SL-M", trigger)


def option_stop(trigger: float = 100.00, purpose: Purpose = Purpose.PROTECT) -> OrderIntent:
    """A sell SL (options rest no SL-M) under a long call, its limit as TRON sets it."""
    limit = float(sl_limit(Side.SELL, Decimal(str(trigger)), TICK, is_option=True))
    return intent(purpose, Side.SELL, "SL", trigger, limit, option=True)


def exit_(option: bool = False) -> OrderIntent:
    return intent(Purpose.EXIT, Side.SELL, option=option)


def test_an_entry_is_recorded_as_the_place_order_call_kite_would_get() -> None:
    e = env()
    order = e.shadow().place(entry())
    (rec,) = e.records()
    assert rec["kwargs"] == {
        "variety": "regular",
        "exchange": "NSE",
        "tradingsymbol": SYM,
        "transaction_type": "BUY",
        "quantity": 10,
        "product": "MIS",
        "order_type": "MARKET",
        "validity": "DAY",
        "tag": entry().tag,
        "market_protection": -1,
    }
    assert (rec["op"], rec["call"], rec["intent_id"], rec["order_id"]) == (
        "place",
        "place_order",
        entry().intent_id,
        order.order_id,
    )
    assert (rec["at"], rec["problems"], rec["refused"], rec["outcome"]) == (
        NOW.isoformat(),
        [],
        False,
        "COMPLETE",
    )
    assert rec["error"] is None and rec["seq"] == f"{entry().intent_id}-place-1"
    assert e.store.get(f"{shadow_path(DAY)}/{rec['seq']}") is not None


def test_the_algo_id_is_sent_when_configured_and_absent_when_not() -> None:
    e = env()
    e.shadow(algo_id="ALGO42").place(entry())
    e.shadow().place(intent(name="vwap"))
    with_id, without = e.records()
    assert with_id["kwargs"]["algo_id"] == "ALGO42"
    assert "algo_id" not in without["kwargs"]
    with pytest.raises(ValueError, match="algo_id"):
        e.shadow(algo_id="ALGO-42")


def test_the_algo_id_setting_is_letters_and_digits_and_the_kite_broker_sends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tron.yaml").write_text("{}\n")  # the defaults, not the repository's config/tron.yaml
    monkeypatch.setenv("TRON_CONFIG", str(tmp_path / "tron.yaml"))
    assert load_settings(kite={"algo_id": "SEBI0123"}).kite.algo_id == "SEBI0123"
    assert load_settings().kite.algo_id is None
    for bad in ("", "has-dash", "A" * 21):
        with pytest.raises(ConfigError, match=r"kite\.algo_id"):
            load_settings(kite={"algo_id": bad})
    c, ft = Client(), FakeTime()
    c.histories["O1"] = [[{**hist("COMPLETE", 10), "tag": entry().tag}]]
    KiteBroker(session(c, ft), VirtualClock(NOW), sleep=ft.sleep, algo_id="SEBI0123").place(entry())
    assert c.calls[0][1]["algo_id"] == "SEBI0123"


def test_stops_are_recorded_an_sl_m_with_protection_and_an_options_sl_with_its_limit() -> None:
    e = env()
    shadow = e.shadow(market_protection=5)
    sl_m, sl = shadow.place(stop()), shadow.place(option_stop())
    assert (sl_m.status, sl.status) == ("TRIGGER PENDING", "TRIGGER PENDING")
    first, second = e.records()
    assert first["kwargs"] == {
        "variety": "regular",
        "exchange": "NSE",
        "tradingsymbol": SYM,
        "transaction_type": "SELL",
        "quantity": 10,
        "product": "MIS",
        "order_type": "SL-M",
        "validity": "DAY",
        "tag": stop().tag,
        "trigger_price": 98.5,
        "market_protection": 5,
    }
    assert second["kwargs"] == {
        "variety": "regular",
        "exchange": "NFO",
        "tradingsymbol": OPT,
        "transaction_type": "SELL",
        "quantity": 10,
        "product": "MIS",
        "order_type": "SL",
        "validity": "DAY",
        "tag": option_stop().tag,
        "trigger_price": 100.0,
        "price": 97.0,  # 3 % under the trigger: Kite's protection band is tighter than the exchange's 20 %
    }
    assert (first["order_id"], second["order_id"]) == (sl_m.order_id, sl.order_id)


def test_a_trail_a_conversion_and_a_cancel_are_recorded_as_modify_and_cancel_calls() -> None:
    e = env()
    shadow = e.shadow()
    sl_m = shadow.place(stop())
    sl = shadow.place(option_stop())
    spare = shadow.place(stop(97.00, Purpose.TRAIL))  # a second stop, to cancel
    shadow.modify(sl_m.order_id, stop(99.00, Purpose.TRAIL))
    converted = shadow.convert(sl_m.order_id, exit_())
    limit_exit = shadow.convert(sl.order_id, exit_(option=True))
    assert shadow.cancel(spare.order_id) == spare.order_id
    trail, convert_sl_m, convert_sl, cancel = e.records()[3:]
    assert trail["kwargs"] == {
        "variety": "regular",
        "order_id": sl_m.order_id,
        "order_type": "SL-M",
        "quantity": 10,
        "trigger_price": 99.0,
        "market_protection": -1,
    }
    assert (trail["op"], trail["call"], trail["outcome"]) == ("modify", "modify_order", "TRIGGER PENDING")
    assert convert_sl_m["kwargs"] == {
        "variety": "regular",
        "order_id": sl_m.order_id,
        "order_type": "MARKET",
        "market_protection": -1,
    }
    # last 112.00 less the 2 % Kite's automatic protection takes for a ₹100–500 option (109.76), up a tick
    assert convert_sl["kwargs"] == {
        "variety": "regular",
        "order_id": sl.order_id,
        "order_type": "LIMIT",
        "price": 109.8,
    }
    assert (convert_sl_m["op"], convert_sl_m["intent_id"], convert_sl_m["outcome"]) == (
        "convert",
        exit_().intent_id,
        "COMPLETE",
    )
    assert (converted.status, converted.avg_price, limit_exit.status) == (
        "COMPLETE",
        Decimal("100.00"),
        "COMPLETE",
    )
    assert cancel["kwargs"] == {"variety": "regular", "order_id": spare.order_id}
    assert (cancel["call"], cancel["intent_id"], cancel["outcome"]) == ("cancel_order", None, "CANCELLED")
    assert cancel["seq"] == f"{spare.order_id}-cancel-1"


def test_a_convert_of_a_stop_that_already_ended_is_recorded_without_a_call() -> None:
    e = env()
    shadow = e.shadow()
    sl_m = shadow.place(stop())
    shadow.cancel(sl_m.order_id)
    out = shadow.convert(sl_m.order_id, exit_())
    rec = e.records()[-1]
    assert out.status == "REJECTED"  # paper answers a stop that ended unfilled: the exit goes as a new order
    assert (rec["op"], rec["call"], rec["kwargs"], rec["outcome"]) == ("convert", None, None, "REJECTED")


def test_a_trigger_off_the_tick_is_refused_recorded_and_never_reaches_paper() -> None:
    e = env()
    with pytest.raises(OrderRejected, match=r"place_order refused.*not a multiple of the tick size 0.05"):
        e.shadow().place(stop(98.53))
    (rec,) = e.records()
    assert rec["refused"] is True and rec["order_id"] is None
    assert rec["kwargs"]["trigger_price"] == 98.53
    assert rec["problems"] == ["`trigger_price` 98.53 is not a multiple of the tick size 0.05"]
    assert rec["outcome"] is None and rec["error"].startswith("OrderRejected: place_order refused (shadow): ")
    assert e.paper.orders_with_tag(DAY, stop(98.53).tag) == []


@dataclass(frozen=True)
class LongTag(OrderIntent):
    """An intent whose tag breaks Kite's rule (TRON's own tags are always 20 characters)."""

    @property
    def tag(self) -> str:
        return "T" * 21


def test_a_tag_too_long_is_refused_and_recorded() -> None:
    e = env()
    bad = LongTag(**{k: getattr(entry(), k) for k in entry().__dataclass_fields__})
    with pytest.raises(OrderRejected, match="Invalid `tag`"):
        e.shadow().place(bad)
    (rec,) = e.records()
    assert rec["refused"] and rec["kwargs"]["tag"] == "T" * 21
    assert e.paper.net_positions(DAY) == {}


def test_an_sl_m_for_an_option_and_a_crossed_stop_are_refused() -> None:
    e = env()
    shadow = e.shadow()
    with pytest.raises(OrderRejected, match="SL-M orders are not allowed for option contracts"):
        shadow.place(intent(Purpose.PROTECT, Side.SELL, "SL-M", 100.0, option=True))
    with pytest.raises(OrderRejected, match=r"already crossed by the last price 100\.2"):
        shadow.place(stop(100.50))
    sl_m = shadow.place(stop())
    with pytest.raises(OrderRejected, match="already crossed"):
        shadow.modify(sl_m.order_id, stop(100.20, Purpose.TRAIL))
    assert [r["refused"] for r in e.records()] == [True, True, False, True]


def test_an_order_the_kite_broker_itself_would_not_build_is_recorded_without_a_call() -> None:
    e = env()
    with pytest.raises(OrderRejected, match="needs its trigger price"):
        e.shadow().place(intent(Purpose.PROTECT, Side.SELL, "SL-M"))
    (rec,) = e.records()
    assert (rec["call"], rec["kwargs"], rec["refused"]) == (None, None, True)


@pytest.mark.parametrize(
    ("kw", "side", "segment", "last", "problem"),
    [
        (
            {"order_type": "MARKET", "quantity": 1},
            "BUY",
            "equity_intraday",
            None,
            "without market protection",
        ),
        ({"order_type": "SL-M", "trigger_price": 99.0, "market_protection": 0}, "SELL", "futures", None, "0"),
        ({"order_type": "SL", "trigger_price": 99.0, "price": 99.5}, "SELL", "futures", None, "at or below"),
        ({"order_type": "SL", "trigger_price": 99.0, "price": 98.5}, "BUY", "futures", None, "at or above"),
        ({"order_type": "SL", "trigger_price": 99.0, "price": 95.0}, "SELL", "futures", None, "at most 2.97"),
        ({"order_type": "SL", "trigger_price": 99.0}, "SELL", "futures", None, "Missing `price`"),
        ({"order_type": "LIMIT", "price": 98.0}, "SELL", "futures", Decimal(104), "price band"),
        (
            {"order_type": "MARKET", "market_protection": -1, "quantity": 0},
            "BUY",
            "futures",
            None,
            "quantity",
        ),
        (
            {"order_type": "MARKET", "market_protection": -1, "algo_id": "a b"},
            "BUY",
            "futures",
            None,
            "algo_id",
        ),
    ],
)
def test_kites_rules(kw: dict[str, Any], side: str, segment: str, last: Decimal | None, problem: str) -> None:
    problems = kite_problems(kw, side, TICK, segment, last)
    assert len(problems) == 1 and problem in problems[0], problems


def test_a_call_made_again_gets_its_own_record_across_instances() -> None:
    e = env()
    e.shadow().place(stop())
    e.shadow().place(stop())  # another executor instance, the same intent delivered again
    assert [r["seq"] for r in e.records()] == [f"{stop().intent_id}-place-1", f"{stop().intent_id}-place-2"]


def script(broker: Any) -> list[Any]:
    """A day's worth of order operations on one broker: what each answered (or raised)."""
    out: list[Any] = []

    def do(f: Any, *a: Any) -> Any:
        try:
            got = f(*a)
        except OrderRejected:
            got = "rejected"  # the messages differ: the shadow names the call it refused
        out.append(got)
        return got

    do(broker.place, entry())
    sl_m = do(broker.place, stop())
    sl = do(broker.place, option_stop())
    do(broker.modify, sl_m.order_id, stop(99.00, Purpose.TRAIL))
    do(broker.modify, sl_m.order_id, stop(101.00, Purpose.TRAIL))  # crossed: both refuse it
    do(broker.convert, sl_m.order_id, exit_())
    do(broker.convert, sl.order_id, exit_(option=True))
    do(broker.cancel, sl.order_id)  # it filled: both refuse it
    do(broker.order_states, DAY, [sl_m.order_id, sl.order_id])
    do(broker.net_positions, DAY)
    return out


def test_paper_fills_are_the_plain_paper_brokers() -> None:
    plain, shadowed = env(), env()
    expected = script(plain.paper)
    got = script(shadowed.shadow())
    assert got == expected
    assert any(isinstance(x, BrokerOrder) and x.status == "COMPLETE" for x in got)
    paper_docs = [d for _, d in plain.store.list(f"paper/{DAY}/orders")]
    assert [d for _, d in shadowed.store.list(f"paper/{DAY}/orders")] == paper_docs
    assert len(shadowed.records()) == 8


# ---------------------------------------------------------------------- the live broker sends the same
class Client(FakeClient):
    """The fake client with the calls a stop's life makes (modify_order, ltp)."""

    def modify_order(self, **kw: Any) -> str:
        self.calls.append(("modify_order", kw))
        return self._next("modify_order", kw["order_id"])

    def cancel_order(self, **kw: Any) -> str:  # type: ignore[override]
        self.calls.append(("cancel_order", kw))
        return self._next("cancel_order", kw["order_id"])

    def ltp(self, keys: list[str]) -> dict[str, Any]:
        return {k: {"last_price": 112.0} for k in keys}


def hist(
    status: str, filled: int, order_type: str = "MARKET", side: str = "BUY", **kw: Any
) -> dict[str, Any]:
    return {
        "order_id": "O1",
        "status": status,
        "quantity": 10,
        "filled_quantity": filled,
        "average_price": 100.0 if filled else 0,
        "order_timestamp": naive(10, 0, 30),
        "exchange_timestamp": naive(10, 0, 31),
        "order_type": order_type,
        "transaction_type": side,
        **kw,
    }


def test_the_kite_broker_sends_what_the_shadow_records() -> None:
    c, ft = Client(), FakeTime()
    kite = KiteBroker(session(c, ft), VirtualClock(NOW), sleep=ft.sleep, market_protection=5, algo_id="A1")
    c.histories["O1"] = [
        [hist("COMPLETE", 10)],  # the entry
        [hist("TRIGGER PENDING", 0, "SL-M", "SELL")],  # the stop rests
        [hist("TRIGGER PENDING", 0, "SL-M", "SELL", trigger_price=99.0)],  # the trail, moved
        [hist("TRIGGER PENDING", 0, "SL", "SELL")],  # the option's stop, read before converting
        [hist("COMPLETE", 10, "LIMIT", "SELL")],  # converted and filled
    ]
    kite.place(entry())
    kite.place(stop())
    kite.modify("O1", stop(99.00, Purpose.TRAIL))
    kite.convert("O1", exit_(option=True))
    kite.cancel("O1")
    sent = [kw for name, kw in c.calls if name in ("place_order", "modify_order", "cancel_order")]

    e = env()
    shadow = e.shadow(market_protection=5, algo_id="A1")
    shadow.place(entry())
    sl_m = shadow.place(stop())
    shadow.modify(sl_m.order_id, stop(99.00, Purpose.TRAIL))
    sl = shadow.place(option_stop())
    shadow.convert(sl.order_id, exit_(option=True))
    spare = shadow.place(stop(97.00, Purpose.TRAIL))
    shadow.cancel(spare.order_id)
    recorded = [r["kwargs"] for r in e.records() if r["call"] is not None]
    ids = {sl_m.order_id: "O1", sl.order_id: "O1", spare.order_id: "O1"}
    mapped = [{**kw, "order_id": ids[kw["order_id"]]} if "order_id" in kw else kw for kw in recorded]
    assert sent == [mapped[0], mapped[1], mapped[2], mapped[4], mapped[6]]


def test_records_are_ordered_by_time_then_by_the_instance_that_made_them() -> None:
    e = env()
    shadow = e.shadow()
    shadow.place(stop())  # 10:00:30, sorts after the entry by id but was made first
    shadow.place(entry())
    e.clock.advance(timedelta(minutes=1))
    shadow.place(intent(name="aaa"))
    assert [r["intent_id"] for r in e.records()] == [
        stop().intent_id,
        entry().intent_id,
        intent(name="aaa").intent_id,
    ]


def test_above_the_freeze_quantity_each_slice_is_recorded_as_the_call_kite_would_get() -> None:
    e = env()
    slices = Guardrails(freeze_qty={"NIFTY": 4}).slices  # 10 of the option: slices of 4, 4 and 2
    e.paper = PaperBroker(e.store, e.market, e.clock, slices=slices)
    shadow = e.shadow(slices=slices)
    filled = shadow.place(intent(option=True))
    assert [q for q, _ in filled.parts] == [4, 4, 2]  # brokerage is charged per slice, as Kite's
    rest = shadow.place(option_stop())
    shadow.modify(rest.order_id, option_stop(101.00, Purpose.TRAIL))
    shadow.convert(rest.order_id, exit_(option=True))
    spare = shadow.place(replace(option_stop(95.00), intent_id="spare"))
    shadow.cancel(spare.order_id)
    calls = [
        (r["op"], r["order_id"], r["kwargs"].get("tag"), r["kwargs"].get("quantity")) for r in e.records()
    ]
    tag = intent(option=True).tag
    assert calls[:3] == [  # the first slice, under the intent's own tag, last (as KiteBroker sends them)
        ("place", f"{filled.order_id}.1", slice_tag(tag, 1), 4),
        ("place", f"{filled.order_id}.2", slice_tag(tag, 2), 2),
        ("place", filled.order_id, tag, 4),
    ]
    assert [(op, oid, q) for op, oid, _, q in calls[6:9]] == [
        ("modify", rest.order_id, 4),
        ("modify", f"{rest.order_id}.1", 4),
        ("modify", f"{rest.order_id}.2", 2),
    ]
    assert [(op, oid) for op, oid, _, _ in calls[9:12]] == [
        ("convert", rest.order_id),
        ("convert", f"{rest.order_id}.1"),
        ("convert", f"{rest.order_id}.2"),
    ]
    assert [(op, oid) for op, oid, _, _ in calls[15:]] == [
        ("cancel", spare.order_id),
        ("cancel", f"{spare.order_id}.1"),
        ("cancel", f"{spare.order_id}.2"),
    ]
    assert all(r["kwargs"]["order_id"] == r["order_id"] for r in e.records() if r["op"] != "place")
