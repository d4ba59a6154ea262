"""tron.domain.structure_decide through the tick's decision, over a generated day with every intent filled
(or rejected) at once: hedges enter first and leave last, a rejected leg unwinds the structure, the legs'
own stops, the combined MTM stop, the exit time, expiry days, the kill switch, and a naked short refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tests.support.days import at
from tron.adapters.calendar import nse_calendar
from tron.adapters.clock import VirtualClock
from tron.domain.book import Book
from tron.domain.charges import order_charges
from tron.domain.context import TickContext
from tron.domain.contracts import select_future
from tron.domain.decide import decide
from tron.domain.models import Asset, Instrument, OrderIntent, Purpose, Side
from tron.domain.money import dec
from tron.domain.plan import AssetPlan
from tron.domain.risk import KillSwitch, RiskLimits
from tron.domain.session import SessionState
from tron.domain.structures import parse_spec
from tron.domain.timeutil import ist
from tron.sim.market import INDEX, GeneratedMarketData, MarketGenerator, nifty50

DAY = date(2026, 11, 23)
RISK = RiskLimits(
    capital=Decimal("1000000"), account_capital=Decimal("1000000"), daily_loss_limit=Decimal("50000"),
    max_position_pct=Decimal("100"), max_sector_pct=Decimal("100"), min_position_pct=Decimal("0"),
    daily_loss_limit_pct=Decimal("5"),
)  # fmt: skip
CONDOR = {
    "entry": "09:30",
    "exit": "15:10",
    "legs": [
        {"side": "BUY", "type": "CE", "strike": "OTM6"},
        {"side": "BUY", "type": "PE", "strike": "OTM6"},
        {"side": "SELL", "type": "CE", "strike": "OTM2"},
        {"side": "SELL", "type": "PE", "strike": "OTM2"},
    ],
}
STRADDLE = {
    "entry": "09:20",
    "exit": "15:10",
    "legs": [
        {"side": "SELL", "type": "CE", "strike": "ATM", "sl": "25%"},
        {"side": "SELL", "type": "PE", "strike": "ATM", "sl": "25%"},
    ],
}


class Day:
    """The options asset's decisions minute by minute on a generated day; each intent fills at once at the
    snapshot's bid or ask (or is rejected when ``reject`` says so)."""

    def __init__(
        self,
        spec: dict[str, Any],
        day: date = DAY,
        reject: Callable[[OrderIntent], bool] = lambda _: False,
        risk: RiskLimits = RISK,
    ):
        cal = nse_calendar()
        self.clock = VirtualClock(ist(day, time(9, 15)))
        self.md = GeneratedMarketData(MarketGenerator(nifty50(3), cal, seed=7), self.clock)
        fut = select_future(self.md.instruments(Asset.FUTURES), day, 2, cal)
        index = Instrument(INDEX, "NSE", Asset.OPTIONS, segment="index", sector="Index")
        insts = {i.symbol: i for i in [fut, index, *self.md.instruments(Asset.OPTIONS)]}
        plan = AssetPlan(Asset.OPTIONS, True, (), risk, structure=spec)
        self.ctx = TickContext(
            Asset.OPTIONS, day, self.clock.now(), plan, None, insts, SessionState.new(list(insts)), Book(), {},
            None, underlying=fut.symbol, spot_symbol=INDEX, structure=parse_spec("t", spec),
        )  # fmt: skip
        self.reject = reject
        self.sent: list[tuple[str, OrderIntent]] = []
        self.events: list[dict[str, Any]] = []

    def run(self, until: time = time(15, 20), each: Callable[[Day], None] = lambda _: None) -> Day:
        t = self.clock.now()
        while t.time() <= until:
            self.clock.set(t)
            self.ctx.now, self.ctx.snapshot = t, self.md.snapshot(list(self.ctx.instruments))
            each(self)
            d = decide(self.ctx)
            self.events += d.events
            for it in d.intents:
                self.sent.append((f"{t:%H:%M}", it))
                self._fill(it, t)
            t += timedelta(minutes=1)
        return self

    def _fill(self, it: OrderIntent, t: datetime) -> None:
        self.ctx.pending.pop(it.intent_id, None)
        if self.reject(it):
            self.ctx.book.record_rejection(it.intent_id)
            return
        assert self.ctx.snapshot is not None
        q = self.ctx.snapshot.quotes[it.symbol]
        price = dec(q.ask if it.side is Side.BUY else q.bid)
        charges = order_charges(it.segment, it.side, price, it.qty, it.day).total
        self.ctx.book.apply_fill(it, it.qty, price, charges, t.isoformat())

    @property
    def structure(self) -> dict[str, Any]:
        return self.ctx.structures[-1]

    def orders(self, purpose: Purpose | None = None) -> list[tuple[str, str, str]]:
        """(minute, side, option type) of the sent intents, in order."""
        return sorted(
            (m, it.side.value, self.ctx.instruments[it.symbol].option_type)
            for m, it in self.sent
            if purpose is None or it.purpose == purpose
        )


def test_hedges_enter_first_and_leave_last() -> None:
    day = Day(CONDOR).run()
    entries = day.orders(Purpose.ENTRY)
    assert entries == [
        ("09:30", "BUY", "CE"),
        ("09:30", "BUY", "PE"),
        ("09:31", "SELL", "CE"),
        ("09:31", "SELL", "PE"),
    ]
    exits = day.orders(Purpose.EXIT)
    assert exits == [
        ("15:10", "BUY", "CE"),
        ("15:10", "BUY", "PE"),
        ("15:11", "SELL", "CE"),
        ("15:11", "SELL", "PE"),
    ]
    s = day.structure
    assert (s["phase"], s["exit_reason"], s["exit_time"][11:16]) == ("closed", "exit time 15:10", "15:12")
    assert not day.ctx.book.positions and day.ctx.book.trades == 4
    strikes = sorted(leg["strike"] for leg in s["legs"])
    assert strikes[3] - strikes[0] == 600 and strikes[2] - strikes[1] == 200  # wings 4 strikes beyond
    assert len(s["path"]) > 300 and Decimal(s["max_adverse"]) <= min(Decimal(str(v)) for _, v in s["path"])


def test_a_rejected_sold_leg_after_the_hedges_filled_unwinds_them() -> None:
    def sold_call(it: OrderIntent) -> bool:
        return it.purpose == Purpose.ENTRY and it.side is Side.SELL and it.symbol.endswith("CE")

    day = Day(CONDOR, reject=sold_call).run(until=time(9, 40))
    s = day.structure
    assert s["phase"] == "closed" and "not entered: the structure unwound" in s["exit_reason"]
    # the sold put that did fill leaves first, then both hedges: never a sold option without its hedge
    exits = day.orders(Purpose.EXIT)
    assert exits == [("09:32", "BUY", "PE"), ("09:33", "SELL", "CE"), ("09:33", "SELL", "PE")]
    assert not day.ctx.book.positions


def test_a_leg_stops_on_its_own_and_the_other_rides_to_the_exit_time() -> None:
    tight = {**STRADDLE, "legs": [{**leg, "sl": "3%"} for leg in STRADDLE["legs"]]}
    day = Day(tight).run()
    exits = [(m, it.reason) for m, it in day.sent if it.purpose == Purpose.EXIT]
    stopped = [r for _, r in exits if "stop" in r]
    assert stopped, exits
    assert day.structure["phase"] == "closed"
    assert day.structure["exit_reason"] in ("exit time 15:10", "every leg closed at its own stop or target")


def test_the_combined_mtm_stop_closes_every_leg_shorts_first() -> None:
    day = Day({**STRADDLE, "mtm_sl": 1}).run(until=time(9, 30))
    s = day.structure
    assert s["exit_reason"].startswith("MTM stop ₹1.00 hit") and s["phase"] == "closed"
    assert {it.symbol for _, it in day.sent if it.purpose == Purpose.EXIT} == {
        leg["symbol"] for leg in s["legs"]
    }


def test_a_naked_short_is_refused_by_the_governor() -> None:
    naked = {**STRADDLE, "legs": [{k: v for k, v in leg.items() if k != "sl"} for leg in STRADDLE["legs"]]}
    day = Day(naked).run(until=time(9, 25))
    assert not day.sent and not day.ctx.structures
    assert any("naked short refused" in e["reason"] for e in day.events if e["event"] == "entry_refused")


def test_options_expiring_today_are_traded_only_if_the_structure_allows() -> None:
    expiry_day = date(2026, 12, 1)  # a Tuesday: NIFTY's weekly expiry
    skip = Day(STRADDLE, day=expiry_day).run(until=time(9, 21))
    allow = Day({**STRADDLE, "expiry_day": True}, day=expiry_day).run(until=time(9, 21))
    assert {leg["expiry"] for leg in skip.structure["legs"]} == {"2026-12-08"}
    assert {leg["expiry"] for leg in allow.structure["legs"]} == {"2026-12-01"}


def test_the_kill_switch_flattens_shorts_first_then_the_hedges() -> None:
    def engage(day: Day) -> None:
        if day.ctx.now == at(10, 0):
            day.ctx.kill = KillSwitch(engaged=True, reason="operator", flatten=True)

    day = Day(CONDOR).run(until=time(10, 5), each=engage)
    exits = day.orders(Purpose.EXIT)
    assert exits == [
        ("10:00", "BUY", "CE"),
        ("10:00", "BUY", "PE"),
        ("10:01", "SELL", "CE"),
        ("10:01", "SELL", "PE"),
    ]

    s = day.structure
    assert (s["phase"], s["exit_reason"]) == (
        "closed",
        "kill switch engaged: operator",
    ) and not day.ctx.book.positions


def test_the_structure_greeks_are_kept_while_it_is_whole() -> None:
    day = Day(STRADDLE).run(until=time(10, 0))
    g = day.structure["greeks"]
    assert g["theta"] > 0 and g["vega"] < 0 and g["gamma"] < 0


def test_the_basket_margin_past_the_allocation_refuses_a_straddle_but_not_its_condor() -> None:
    """₹1 lakh for options: a naked straddle blocks about ₹2 lakh, an iron condor a third of it."""
    small = replace(RISK, capital=Decimal("100000"))
    straddle = Day(STRADDLE, risk=small).run(until=time(9, 21))
    refused = [e["reason"] for e in straddle.events if e["event"] == "entry_refused"]
    assert not straddle.ctx.structures and "above the maximum 100% of ₹100000" in refused[0]
    margin = Decimal(refused[0].rsplit("margin ₹", 1)[1].rstrip(")"))
    condor = Day(CONDOR, risk=small).run(until=time(9, 31))
    assert Decimal(condor.structure["margin"]) < margin / 2 < Decimal("150000") < margin


# ---------------------------------------------------------------------------------------------- management
TIGHT = {**STRADDLE, "legs": [{**leg, "sl": "3%"} for leg in STRADDLE["legs"]]}


def entries_of(day: Day) -> list[tuple[str, OrderIntent]]:
    return [(m, it) for m, it in day.sent if it.purpose == Purpose.ENTRY]


def test_a_leg_stopped_out_enters_again_at_cost() -> None:
    spec = {**TIGHT, "reentry": {"on": "sl", "mode": "at_cost", "max": 1, "until": "14:30"}}
    day = Day(spec).run()
    legs = day.structure["legs"]
    again = [leg for leg in legs if leg["reentries"] == 1]
    assert again and all(leg.get("entry_id") for leg in again)
    for leg in again:
        first = next(x for x in legs if x["symbol"] == leg["symbol"] and x["reentries"] == 0)
        assert first["closed_by"] == "stop" and leg["cost_of"] == first["entry_price"]
        if leg.get("entry_id"):  # entered when the premium was back at (or under) the first entry
            it = next(it for _, it in entries_of(day) if it.intent_id == leg["entry_id"])
            assert it.price is not None and it.price <= leg["cost_of"] and it.decided_at.time() < time(14, 30)
    assert all(leg["reentries"] <= 1 for leg in legs)
    assert not day.ctx.book.positions


def test_an_immediate_re_entry_goes_the_next_minute_and_a_reversed_one_buys() -> None:
    immediate = Day({**TIGHT, "reentry": {"on": "sl", "mode": "immediate", "max": 2}}).run(until=time(13, 0))
    stops = [e for e in immediate.events if e["event"] == "structure_reentry"]
    assert stops and all("closed by its stop" in e["reason"] for e in stops)
    reversed_ = Day({**TIGHT, "reentry": {"on": "sl", "mode": "reverse"}}).run(until=time(13, 0))
    again = [leg for leg in reversed_.structure["legs"] if leg["reentries"] == 1]
    assert again and all(leg["side"] == "BUY" for leg in again)
    bought = [it for _, it in entries_of(reversed_) if it.side is Side.BUY]
    assert bought and all(it.stop is None for it in bought)  # a bought option risks its premium


def test_after_a_stop_the_other_legs_stop_moves_to_cost() -> None:
    day = Day({**TIGHT, "move_sl_to_cost": True}).run()
    closed = [leg for leg in day.structure["legs"] if leg.get("closed_by") == "stop"]
    assert closed
    costs = [leg for leg in day.structure["legs"] if leg.get("cost")]
    assert costs
    exits = {it.symbol: it.reason for _, it in day.sent if it.purpose == Purpose.EXIT}
    for leg in costs:  # exited at its cost (the entry price, on the tick grid) or at the exit time
        cost = f"{leg['entry_price']:.2f}"
        assert exits[leg["symbol"]] in (f"stop {cost} touched", "exit time 15:10"), exits


def test_a_leg_stop_trails_its_premium() -> None:
    trailing = {
        **STRADDLE,
        "legs": [{**leg, "trail": {"every": "2%", "by": "1%"}} for leg in STRADDLE["legs"]],
    }
    seen: list[tuple[float, float, float, float]] = []
    before: dict[str, float] = {}  # the best premiums the last tick's leg stops were computed from

    def watch(day: Day) -> None:
        for s, stop in day.ctx.leg_stops.items():
            if (pos := day.ctx.book.positions.get(s)) is not None and s in before:
                assert pos.stop is not None
                seen.append((float(pos.avg_price), pos.stop, before[s], stop))
        before.clear()
        before.update(day.ctx.trail)

    day = Day(trailing).run(until=time(12, 0), each=watch)
    assert seen, "no leg's stop trailed"
    for entry, first, best, stop in seen:  # a short leg: every 2% it fell, its stop came down 1% of entry
        steps = int((entry - best) / (entry * 0.02))
        assert steps >= 1 and abs(stop - (first - steps * entry * 0.01)) < 0.051
    assert day.sent


def test_lock_and_trail_keeps_a_rising_floor_under_the_mtm() -> None:
    lock = {"at": 300, "keep": 100, "every": 200, "by": 150}
    day = Day({**STRADDLE, "lock": lock}).run()
    s = day.structure
    peak = Decimal(s["peak"])
    floor = 100 + int((peak - 300) / 200) * 150
    assert Decimal(s["floor"]) == floor and s["exit_reason"].startswith(f"profit lock ₹{floor}")
    at_exit = [v for m, v in s["path"] if v <= floor]
    assert at_exit and max(v for _, v in s["path"]) == float(peak)


def test_an_mtm_stop_in_percent_of_margin() -> None:
    day = Day({**STRADDLE, "mtm_sl": "0.01%"}).run(until=time(9, 40))
    s = day.structure
    limit = (Decimal(s["margin"]) * Decimal("0.0001")).quantize(Decimal("0.01"))
    assert s["exit_reason"].startswith(f"MTM stop ₹{limit} hit")


def test_wait_and_trade_enters_once_the_premium_moved() -> None:
    spec = {**STRADDLE, "legs": [{**STRADDLE["legs"][0], "wait": "+2%"}, STRADDLE["legs"][1]]}
    day = Day(spec).run(until=time(15, 0))
    ce = day.structure["legs"][0]
    first = [it for _, it in entries_of(day) if it.symbol == ce["symbol"]]
    assert first and first[0].price is not None and first[0].price >= ce["premium"] * 1.02
    assert first[0].decided_at > at(9, 20)


def test_the_square_off_sends_the_sold_legs_first() -> None:
    """tron.services.square_off calls exits_for over every position: the hedges wait for its next stage."""
    from tron.domain.decide import exits_for

    day = Day(CONDOR).run(until=time(9, 35))
    held = day.ctx.book.positions
    assert len(held) == 4
    first = exits_for(day.ctx, {}, Purpose.SQUARE_OFF, only=set(held), reason="scheduled square-off")
    assert {it.symbol for it in first} == {s for s, p in held.items() if p.qty < 0}
    for it in first:
        day._fill(it, day.ctx.now)
    second = exits_for(day.ctx, {}, Purpose.SQUARE_OFF, only=set(held), reason="scheduled square-off")
    assert {it.side for it in second} == {Side.SELL} and len(second) == 2
