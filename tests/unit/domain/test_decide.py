"""tron.domain.decide, one tick's decision: stops, square-off, the loss limit; the governor's rules as the
decision applies them (kill switch, self-trade, sector, margin, half-Kelly); options entries; property checks
that F&O entries stay within the loss limit in whole lots and exits always pass."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.days import at
from tests.support.domain import LIM, q, stock_intent
from tron.adapters.calendar import nse_calendar
from tron.domain import strategies
from tron.domain.book import Book
from tron.domain.context import Pending, TickContext
from tron.domain.contracts import ContractRules, option_expiry, select_future
from tron.domain.decide import decide, exits_for
from tron.domain.exposure import worst_loss_of_entry
from tron.domain.live import Guardrails
from tron.domain.models import Asset, Instrument, OrderIntent, Purpose, Quote, Side, Snapshot
from tron.domain.plan import AssetPlan, StrategyChoice
from tron.domain.risk import KillSwitch, RiskLimits
from tron.domain.session import SessionState
from tron.domain.sizing import StrategyStats
from tron.domain.strategies import Signal

DAY = date(2026, 11, 23)


def _snapshot_ctx(book: Book, snap: Snapshot, plan: AssetPlan | None = None, pending=None) -> TickContext:
    st = SessionState.new(["A"])
    st.apply(Snapshot(at(10, 0), {"A": q("A", at(10, 0), 100, 0)}))
    return TickContext(
        Asset.STOCKS,
        DAY,
        snap.ts,
        plan,
        None,
        {"A": Instrument("A", "NSE", Asset.STOCKS)},
        st,
        book,
        pending or {},
        snap,
    )


def test_a_touched_stop_exits_and_never_twice() -> None:
    b = Book()
    b.apply_fill(stock_intent(Side.BUY, 10, Purpose.ENTRY), 10, Decimal("100"), Decimal("0"), "t")
    snap = Snapshot(at(10, 1), {"A": q("A", at(10, 1), 96, 100, lo=94.9)})
    d = decide(_snapshot_ctx(b, snap))
    assert [(i.side, i.qty, i.purpose) for i in d.intents] == [(Side.SELL, 10, Purpose.EXIT)]
    assert "stop" in d.intents[0].reason
    pend = {"x": Pending("x", "A", Purpose.EXIT)}
    assert decide(_snapshot_ctx(b, snap, pending=pend)).intents == []


def test_square_off_exits_every_position() -> None:
    b = Book()
    b.apply_fill(stock_intent(Side.SELL, 3, Purpose.ENTRY), 3, Decimal("100"), Decimal("0"), "t")
    ctx = _snapshot_ctx(b, Snapshot(at(15, 10), {}))
    out = exits_for(ctx, {}, Purpose.SQUARE_OFF, only={"A"}, reason="square-off")
    assert [(i.side, i.qty, i.purpose) for i in out] == [(Side.BUY, 3, Purpose.SQUARE_OFF)]


def test_the_loss_limit_halts_and_flattens() -> None:
    b = Book()
    b.apply_fill(stock_intent(Side.BUY, 1000, Purpose.ENTRY), 1000, Decimal("100"), Decimal("0"), "t")
    plan = AssetPlan(
        Asset.STOCKS, True, (StrategyChoice("orb"),), RiskLimits(daily_loss_limit=Decimal("5000"))
    )
    snap = Snapshot(at(10, 1), {"A": q("A", at(10, 1), 94.9, 100, lo=94.9)})
    d = decide(_snapshot_ctx(b, snap, plan))
    assert d.halt and "loss limit" in d.halt
    assert [i.side for i in d.intents] == [Side.SELL]


def test_after_the_loss_limit_what_the_flatten_left_open_is_flattened_again() -> None:
    """The flatten's exit was rejected or filled only in part: while the day stays halted at its loss limit,
    each tick exits what is still open (once per symbol, never beside an exit in flight)."""
    b = Book()
    b.apply_fill(
        stock_intent(Side.BUY, 400, Purpose.ENTRY), 400, Decimal("100"), Decimal(0), at(10, 0).isoformat()
    )
    plan = AssetPlan(
        Asset.STOCKS, True, (StrategyChoice("orb"),), RiskLimits(daily_loss_limit=Decimal("5000"))
    )
    snap = Snapshot(at(10, 5), {"A": q("A", at(10, 5), 96.0, 100)})
    halted = "daily loss limit ₹5000 breached (marked to market ₹-5100.00)"
    ctx = _snapshot_ctx(b, snap, plan)
    d = decide(TickContext(**{**ctx.__dict__, "halted": halted}))
    assert [(i.side, i.qty, i.reason) for i in d.intents] == [(Side.SELL, 400, halted)]
    busy = {"x": Pending("x", "A", Purpose.EXIT)}
    ctx = _snapshot_ctx(b, snap, plan, pending=busy)
    assert decide(TickContext(**{**ctx.__dict__, "halted": halted})).intents == []
    ctx = _snapshot_ctx(b, snap, plan)  # another halt (a lost session) holds the positions
    assert decide(TickContext(**{**ctx.__dict__, "halted": "Kite session expired"})).intents == []


def test_strategies_fire_on_a_breakout() -> None:
    st = SessionState.new(["A"], or_minutes=15)
    t0 = at(9, 15)
    st.apply(Snapshot(t0, {"A": q("A", t0, 100, 0)}))
    rng = np.random.default_rng(0)
    px, vol = 100.0, 0
    for k in range(1, 17):
        px = 100 + float(rng.uniform(-0.5, 0.5))
        vol += 1000
        st.apply(
            Snapshot(t0 + timedelta(minutes=k), {"A": q("A", t0 + timedelta(minutes=k), round(px, 2), vol)})
        )
    plan = AssetPlan(Asset.STOCKS, True, (StrategyChoice("orb"),), RiskLimits())
    ts = t0 + timedelta(minutes=17)
    snap = Snapshot(ts, {"A": q("A", ts, 102.0, vol + 5000, hi=102.0)})
    ctx = TickContext(
        Asset.STOCKS, DAY, ts, plan, None, {"A": Instrument("A", "NSE", Asset.STOCKS)}, st, Book(), {}, snap
    )
    d = decide(ctx)
    assert [(i.side, i.purpose, i.strategy) for i in d.intents] == [(Side.BUY, Purpose.ENTRY, "orb")]
    assert d.intents[0].stop < 102 < d.intents[0].target


# ----------------------------------------------------------------------- the governor's rules in the decision
def _q(sym: str, ts: datetime, last: float, lo: float | None = None, vol: int = 1000) -> Quote:
    return Quote(sym, ts, last, last - 0.05, last + 0.05, vol, 100.0, last, lo or last, 99.0)


def _entry(
    sym: str, side: Side, qty: int, price: str, stop: float, asset: Asset = Asset.STOCKS
) -> OrderIntent:
    return OrderIntent(
        f"{sym}-e", DAY, asset, sym, "NSE", side, qty, Purpose.ENTRY, "orb", "", at(9, 30), stop=stop
    )


def _ctx(
    book: Book,
    last: dict[str, float],
    lows: dict[str, float] | None = None,
    kill: KillSwitch | None = None,
    risk: RiskLimits = LIM,
    **kw: Any,
) -> TickContext:
    syms = sorted(last)
    st = SessionState.new(syms)
    st.apply(Snapshot(at(10, 0), {s: _q(s, at(10, 0), 100.0, vol=0) for s in syms}))
    snap = Snapshot(at(10, 1), {s: _q(s, at(10, 1), last[s], (lows or {}).get(s)) for s in syms})
    plan = AssetPlan(Asset.STOCKS, True, (StrategyChoice("orb"),), risk)
    inst = {s: Instrument(s, "NSE", Asset.STOCKS, sector="Energy") for s in syms}
    return TickContext(Asset.STOCKS, DAY, at(10, 1), plan, None, inst, st, book, {}, snap, kill=kill, **kw)


def _signal(monkeypatch: pytest.MonkeyPatch, *sigs: Signal) -> None:
    monkeypatch.setattr(strategies, "evaluate", lambda *_, **__: list(sigs))


def test_kill_switch_flattens_and_refuses_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    b = Book()
    b.apply_fill(
        _entry("A", Side.BUY, 10, "100", 90.0), 10, Decimal("100"), Decimal("0"), at(9, 30).isoformat()
    )
    _signal(monkeypatch, Signal("B", Side.BUY, 0.9, "orb", "breakout", 100.0, 0.5))
    d = decide(_ctx(b, {"A": 100.0, "B": 100.0}, kill=KillSwitch(True, "broker outage")))
    assert [(i.symbol, i.side, i.purpose, i.reason) for i in d.intents] == [
        ("A", Side.SELL, Purpose.EXIT, "kill switch engaged: broker outage")
    ]
    keep = decide(_ctx(b, {"A": 100.0, "B": 100.0}, kill=KillSwitch(True, "review", flatten=False)))
    assert keep.intents == []
    assert [e["reason"] for e in keep.events if e["event"] == "entry_refused"] == [
        "entries halted: kill switch engaged: review"
    ]


def test_exits_pass_with_the_kill_switch_kept_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    b = Book()
    b.apply_fill(
        _entry("A", Side.BUY, 10, "100", 90.0), 10, Decimal("100"), Decimal("0"), at(9, 30).isoformat()
    )
    _signal(monkeypatch)
    d = decide(_ctx(b, {"A": 89.0}, lows={"A": 88.0}, kill=KillSwitch(True, "x", flatten=False)))
    assert [(i.symbol, i.purpose) for i in d.intents] == [("A", Purpose.EXIT)]


# ------------------------------------------------------------------------------------------ self-trade
def test_no_opposing_order_on_a_symbol_with_a_position(monkeypatch: pytest.MonkeyPatch) -> None:
    b = Book()
    b.apply_fill(
        _entry("A", Side.BUY, 10, "100", 90.0), 10, Decimal("100"), Decimal("0"), at(9, 30).isoformat()
    )
    _signal(monkeypatch, Signal("A", Side.SELL, 0.9, "vwap", "cross down", 100.0, 0.5))
    d = decide(_ctx(b, {"A": 100.0}))
    assert d.intents == []
    assert [e["reason"] for e in d.events] == ["symbol already has a position or an order in flight"]


def test_no_two_opposing_entries_in_one_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    _signal(
        monkeypatch,
        Signal("A", Side.BUY, 0.9, "orb", "up", 100.0, 0.5),
        Signal("A", Side.SELL, 0.8, "vwap", "down", 100.0, 0.5),
    )
    d = decide(_ctx(Book(), {"A": 100.0}))
    assert [(i.symbol, i.side) for i in d.intents] == [("A", Side.BUY)]
    assert d.events[-1]["reason"] == "symbol already has a position or an order in flight"


def test_sector_cap_in_the_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    _signal(
        monkeypatch,
        Signal("A", Side.BUY, 0.9, "orb", "up", 100.0, 0.5),
        Signal("B", Side.BUY, 0.8, "orb", "up", 100.0, 0.5),
        Signal("C", Side.BUY, 0.7, "orb", "up", 100.0, 0.5),
    )
    d = decide(_ctx(Book(), {"A": 100.0, "B": 100.0, "C": 100.0}))  # all Energy, 15% each, cap 30%
    assert [i.symbol for i in d.intents] == ["A", "B"]
    assert d.events[-1]["reason"].startswith("sector Energy would hold")


def test_margin_elsewhere_blocks_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    _signal(monkeypatch, Signal("A", Side.BUY, 0.9, "orb", "up", 100.0, 0.5))
    d = decide(_ctx(Book(), {"A": 100.0}, margin_elsewhere=Decimal("990000")))
    assert d.intents == [] and d.events[-1]["reason"].startswith("margin ₹30000.00 needed")


def test_other_assets_losses_count_against_the_loss_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    _signal(monkeypatch, Signal("A", Side.BUY, 0.9, "orb", "up", 100.0, 0.5))
    d = decide(_ctx(Book(), {"A": 100.0}, others_net=Decimal("-4950"), others_worst=Decimal("0")))
    assert d.intents == [] and "below the minimum" in d.events[-1]["reason"]  # ₹50 of headroom left
    halt = decide(_ctx(Book(), {"A": 100.0}, others_net=Decimal("-5000")))
    assert halt.halt and "loss limit" in halt.halt


def test_kelly_refusal_names_the_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    _signal(monkeypatch, Signal("A", Side.BUY, 0.9, "orb", "up", 100.0, 0.5))
    risk = RiskLimits(account_capital=Decimal("1000000"), kelly=True, kelly_min_trades=20)
    stats = {"orb": StrategyStats(40, 10, Decimal("5000"), Decimal("30000"))}
    d = decide(_ctx(Book(), {"A": 100.0}, risk=risk, stats=stats))
    assert d.intents == [] and "size rounds to zero (half-Kelly" in d.events[-1]["reason"]


# ------------------------------------------------------------------------------------------ options entries
def _options_ctx(
    monkeypatch: pytest.MonkeyPatch, rules: ContractRules, *sigs_sides: Side, book: Book | None = None
):
    from tron.adapters.clock import VirtualClock
    from tron.sim.market import INDEX, GeneratedMarketData, MarketGenerator, nifty50

    clock = VirtualClock(at(9, 59))
    md = GeneratedMarketData(MarketGenerator(nifty50(3), nse_calendar(), seed=7), clock)
    fut = select_future(md.instruments(Asset.FUTURES), DAY, 2, nse_calendar())
    listed = md.instruments(Asset.OPTIONS)
    chain = [i for i in listed if i.expiry == option_expiry(listed, DAY, True)]
    spot = Instrument(INDEX, "NSE", Asset.OPTIONS, segment="index", sector="Index")
    insts = {i.symbol: i for i in [fut, spot, *chain]}
    st = SessionState.new(list(insts))
    st.apply(md.snapshot(list(insts)))
    clock.set(at(10, 0))
    snap = md.snapshot(list(insts))
    px = snap.quotes[fut.symbol].last
    _signal(monkeypatch, *(Signal(fut.symbol, s, 0.9, "orb", "breakout", px, 12.0) for s in sigs_sides))
    risk = RiskLimits(
        capital=Decimal("100000"), account_capital=Decimal("1000000"), risk_per_trade_pct=Decimal("2"),
        max_position_pct=Decimal("50"), max_sector_pct=Decimal("100"), daily_loss_limit=Decimal("10000"),
    )  # fmt: skip
    plan = AssetPlan(Asset.OPTIONS, True, (StrategyChoice("orb"),), risk)
    ctx = TickContext(
        Asset.OPTIONS, DAY, at(10, 0), plan, None, insts, st, book or Book(), {}, snap,
        underlying=fut.symbol, spot_symbol=INDEX, contract=rules,
    )  # fmt: skip
    return ctx, snap.quotes[INDEX].last


def test_a_bullish_signal_buys_the_otm_call_in_whole_lots(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, spot = _options_ctx(monkeypatch, ContractRules(strike="otm", otm_steps=1), Side.BUY)
    (it,) = decide(ctx).intents
    inst = ctx.instruments[it.symbol]
    atm = round(spot / 50) * 50
    assert (inst.option_type, inst.strike, inst.expiry) == ("CE", atm + 50, date(2026, 12, 1))
    assert it.side is Side.BUY and it.qty % 65 == 0 and it.qty > 0
    premium = ctx.snapshot.quotes[it.symbol].last
    assert 0 < it.stop < premium < it.target
    assert "CE" in it.reason and "delta" in it.reason


def test_a_bearish_signal_buys_a_put_and_an_opposing_view_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, spot = _options_ctx(monkeypatch, ContractRules(strike="atm"), Side.SELL, Side.BUY)
    d = decide(ctx)
    assert [ctx.instruments[i.symbol].option_type for i in d.intents] == ["PE"]
    assert ctx.instruments[d.intents[0].symbol].strike == round(spot / 50) * 50
    assert d.events[-1]["reason"].startswith("an opposing option position on NIFTY26DECFUT")


def test_a_delta_target_picks_a_cheaper_strike(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, spot = _options_ctx(monkeypatch, ContractRules(strike="delta", target_delta=0.25), Side.BUY)
    (it,) = decide(ctx).intents
    assert ctx.instruments[it.symbol].strike > spot + 50


# --------------------------------------------------------------------------- F&O, lots and exits (properties)
SEGMENTS = {
    Asset.STOCKS: ("NSE", "equity_intraday", 1),
    Asset.FUTURES: ("NFO", "futures", 65),
    Asset.OPTIONS: ("NFO", "options", 65),
}


def _quote(sym: str, ts: datetime, last: float, low: float | None = None) -> Quote:
    return Quote(sym, ts, last, last - 0.05, last + 0.05, 1000, last, last, low or last, last)


def _fno_ctx(
    asset: Asset, price: float, risk: RiskLimits, book: Book, low: float | None = None, **kw
) -> TickContext:
    exch, seg, lot = SEGMENTS[asset]
    inst = Instrument("X", exch, asset, lot_size=lot, segment=seg, sector="Index")
    st = SessionState.new(["X"])
    st.apply(Snapshot(at(10, 0), {"X": _quote("X", at(10, 0), price)}))
    snap = Snapshot(at(10, 1), {"X": _quote("X", at(10, 1), price, low)})
    plan = AssetPlan(asset, True, (StrategyChoice("orb"),), risk)
    # options are exercised through the futures path here: the premium is the traded price either way
    a = Asset.FUTURES if asset is Asset.OPTIONS else asset
    return TickContext(a, DAY, at(10, 1), plan, None, {"X": inst}, st, book, {}, snap, **kw)


@settings(max_examples=300, deadline=None)
@given(
    asset=st.sampled_from(list(SEGMENTS)),
    price=st.floats(min_value=5, max_value=40_000),
    atr_pct=st.floats(min_value=0.0001, max_value=0.05),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    realized=st.decimals(min_value=-6_000, max_value=3_000, places=2),
    open_loss=st.decimals(min_value=0, max_value=6_000, places=2),
    risk_pct=st.decimals(min_value="0.1", max_value=5, places=2),
)
def test_no_approved_fno_entry_breaches_the_loss_limit_and_sizes_are_whole_lots(
    asset, price, atr_pct, side, realized, open_loss, risk_pct
) -> None:
    """Through the whole decision (sizing, charges, the governor), for stocks, futures and options lots."""
    risk = RiskLimits(
        capital=Decimal("1000000"),
        account_capital=Decimal("1000000"),
        risk_per_trade_pct=risk_pct,
        max_position_pct=Decimal("100"),
        max_sector_pct=Decimal("100"),
        min_position_pct=Decimal("0"),
    )
    sig = Signal(
        "X", side if asset is not Asset.OPTIONS else Side.BUY, 0.9, "orb", "t", price, price * atr_pct
    )
    ctx = _fno_ctx(asset, price, risk, Book(), others_net=realized, others_worst=open_loss)
    with mock.patch.object(strategies, "evaluate", lambda *_, **__: [sig]):
        d = decide(ctx)
    for it in d.intents:
        assert it.purpose is Purpose.ENTRY
        assert it.qty > 0 and it.qty % SEGMENTS[asset][2] == 0
        worst = worst_loss_of_entry(ctx.instruments["X"], it.side, it.qty, price, it.stop, DAY)
        assert realized - open_loss - worst >= -risk.loss_limit
        assert it.qty * abs(price - it.stop) <= float(risk.capital * risk_pct / 100) + 1e-6


@settings(max_examples=200, deadline=None)
@given(
    asset=st.sampled_from(list(SEGMENTS)),
    long=st.booleans(),
    kill=st.sampled_from([None, KillSwitch(True, "k"), KillSwitch(True, "k", flatten=False)]),
    halted=st.sampled_from([None, "entries halted by hand"]),
    margin_elsewhere=st.sampled_from([Decimal("0"), Decimal("1e9")]),
    others_net=st.sampled_from([Decimal("0"), Decimal("-4999"), Decimal("-100000")]),
    sector_full=st.booleans(),
)
def test_exits_always_pass_whatever_the_governor_state(
    asset, long, kill, halted, margin_elsewhere, others_net, sector_full
) -> None:
    exch, seg, lot = SEGMENTS[asset]
    qty = 2 * lot if long else -2 * lot
    book = Book()
    entry = OrderIntent(
        "e", DAY, asset, "X", exch, Side.BUY if long else Side.SELL, abs(qty), Purpose.ENTRY, "orb", "",
        at(9, 30), stop=90.0 if long else 110.0, segment=seg,
    )  # fmt: skip
    book.apply_fill(entry, abs(qty), Decimal("100"), Decimal("0"), at(9, 30).isoformat())
    risk = RiskLimits(
        account_capital=Decimal("1000000"), max_sector_pct=Decimal("0.01") if sector_full else Decimal("30")
    )
    touched = 89.0 if long else 111.0  # the stop is hit on this bar
    ctx = _fno_ctx(
        asset,
        touched,
        risk,
        book,
        low=touched,
        kill=kill,
        margin_elsewhere=margin_elsewhere,
        others_net=others_net,
    )
    ctx = TickContext(**{**ctx.__dict__, "asset": asset, "halted": halted})
    with mock.patch.object(strategies, "evaluate", lambda *_, **__: []):
        d = decide(ctx)
    exits = [i for i in d.intents if i.symbol == "X"]
    assert len(exits) == 1
    assert exits[0].purpose is Purpose.EXIT and exits[0].qty == abs(qty)
    assert exits[0].side is (Side.SELL if long else Side.BUY)


# ------------------------------------------------------------------------------------------ guardrails
def test_an_entry_is_sized_under_the_guardrails_quantity_and_value_caps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An entry the executor would refuse for its size is sized down in the decision instead (paper and
    live alike): the trade is smaller, not lost."""
    _signal(monkeypatch, Signal("A", Side.BUY, 0.9, "orb", "up", 100.0, 0.5))
    (free,) = decide(_ctx(Book(), {"A": 100.0})).intents
    (capped,) = decide(
        _ctx(Book(), {"A": 100.0}, guardrails=Guardrails(max_order_qty={"equity_intraday": 150}))
    ).intents
    worth = Guardrails(max_order_value={"equity_intraday": Decimal("12000")})
    (by_value,) = decide(_ctx(Book(), {"A": 100.0}, guardrails=worth)).intents
    assert free.qty > 150 and capped.qty == 150 and by_value.qty == 120  # ₹12,000 at 100
    assert Guardrails(max_order_qty={"equity_intraday": 150}).refusal(capped, 0) is None


def test_an_option_entry_stays_in_whole_lots_within_ten_slices_of_the_freeze_quantity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx, _ = _options_ctx(monkeypatch, ContractRules(strike="atm"), Side.BUY)
    (free,) = decide(ctx).intents
    ctx, _ = _options_ctx(monkeypatch, ContractRules(strike="atm"), Side.BUY)
    ctx.guardrails = Guardrails(freeze_qty={"NIFTY": 100})  # one lot of 65 under it: slices of one lot
    (sliced,) = decide(ctx).intents
    assert free.qty == sliced.qty == 130 and sliced.lot == 65
    assert ctx.guardrails.slices(sliced) == [65, 65]
    ctx, _ = _options_ctx(monkeypatch, ContractRules(strike="atm"), Side.BUY)
    ctx.guardrails = Guardrails(freeze_qty={"NIFTY": 50})  # under one lot: no entry, and why
    d = decide(ctx)
    assert d.intents == [] and "guardrails allow at most 0" in d.events[-1]["reason"]
