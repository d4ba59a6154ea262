"""Unit tests of the pure domain."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tron.domain.book import Book
from tron.domain.context import Pending, TickContext
from tron.domain.decide import decide, exits_for
from tron.domain.models import (
    Asset,
    Instrument,
    OrderIntent,
    Purpose,
    Quote,
    Side,
    Snapshot,
    intent_id,
    order_tag,
)
from tron.domain.money import to_tick
from tron.domain.plan import AssetPlan, Plan, PlanContext, StrategyChoice, validate
from tron.domain.risk import Exposure, RiskLimits, entry_refusal
from tron.domain.session import SessionState
from tron.domain.sizing import size_by_risk
from tron.domain.timeutil import IST, ist, require_ist

DAY = date(2026, 11, 23)


def q(
    sym: str, ts: datetime, last: float, vol: int, hi: float | None = None, lo: float | None = None
) -> Quote:
    return Quote(sym, ts, last, last - 0.05, last + 0.05, vol, 100.0, hi or last, lo or last, 99.0)


def at(h: int, m: int) -> datetime:
    return ist(DAY, time(h, m))


def test_prices_go_on_the_tick_grid() -> None:
    assert to_tick(101.33, Decimal("0.05")) == Decimal("101.35")
    assert to_tick(101.324, Decimal("0.05")) == Decimal("101.30")
    assert to_tick(101.31, Decimal("0.05"), up=True) == Decimal("101.35")
    assert to_tick(101.34, Decimal("0.05"), up=False) == Decimal("101.30")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        require_ist(datetime(2026, 11, 23, 9, 15))  # noqa: DTZ001
    assert require_ist(datetime(2026, 11, 23, 3, 45, tzinfo=IST)).utcoffset() == timedelta(
        hours=5, minutes=30
    )


def test_intent_ids_are_deterministic_and_tags_fit_kite() -> None:
    a = intent_id(DAY, Asset.STOCKS, "orb", "M&M", Purpose.ENTRY, at(9, 31))
    assert a == intent_id(DAY, Asset.STOCKS, "orb", "M&M", Purpose.ENTRY, at(9, 31))
    assert a == "20261123-stocks-orb-M&M-entry-0931"
    tag = order_tag(a)
    assert len(tag) <= 20 and tag.isalnum() and tag != order_tag(a + "x")


def test_intent_messages_validate() -> None:
    it = OrderIntent(
        "id", DAY, Asset.STOCKS, "INFY", "NSE", Side.BUY, 10, Purpose.ENTRY, "orb", "r", at(9, 40)
    )
    assert OrderIntent.from_dict(it.to_dict()) == it
    with pytest.raises(ValueError, match="missing field 'qty'"):
        OrderIntent.from_dict({k: v for k, v in it.to_dict().items() if k != "qty"})
    with pytest.raises(ValueError, match="qty must be positive"):
        OrderIntent.from_dict({**it.to_dict(), "qty": 0})
    with pytest.raises(ValueError, match="timezone"):
        OrderIntent.from_dict({**it.to_dict(), "decided_at": "2026-11-23T09:40:00"})


def test_bars_from_snapshots_use_volume_deltas_and_day_extremes() -> None:
    st = SessionState.new(["A", "B"])
    assert (
        st.apply(Snapshot(at(9, 15), {"A": q("A", at(9, 15), 100, 0), "B": q("B", at(9, 15), 50, 0)})) is None
    )
    bar = st.apply(
        Snapshot(
            at(9, 16), {"A": q("A", at(9, 16), 101, 1000, hi=102.5, lo=99.5), "B": q("B", at(9, 16), 50, 400)}
        )
    )
    assert bar is not None
    assert list(bar.open) == [100, 50] and list(bar.close) == [101, 50]
    assert list(bar.high) == [102.5, 50] and list(bar.low) == [99.5, 50]
    assert list(bar.volume) == [1000, 400]
    assert st.vwap[0] == pytest.approx((102.5 + 99.5 + 101) / 3)
    doc = st.to_doc()
    assert SessionState.from_doc(doc).to_doc() == doc


def test_wilder_atr_after_warmup() -> None:
    st = SessionState.new(["A"])
    st.apply(Snapshot(at(9, 15), {"A": q("A", at(9, 15), 100, 0)}))
    px = 100.0
    for k in range(1, 16):
        px += 1 if k % 2 else -1
        st.apply(
            Snapshot(
                at(9, 15) + timedelta(minutes=k), {"A": q("A", at(9, 15) + timedelta(minutes=k), px, k * 10)}
            )
        )
    assert st.bars == 15 and st.atr[0] == pytest.approx(1.0)  # every true range is 1


def test_sizing_by_risk_and_caps() -> None:
    kw = dict(capital=Decimal("1000000"), risk_per_trade_pct=Decimal("0.25"), max_position_pct=Decimal("15"))
    assert size_by_risk(**kw, price=1000, stop_distance=5) == 150  # 2500 / 5 = 500, capped at 150000/1000
    assert size_by_risk(**kw, price=100, stop_distance=5) == 500
    assert size_by_risk(**kw, price=100, stop_distance=5, headroom=Decimal("1000")) == 200
    assert size_by_risk(**kw, price=100, stop_distance=5, lot_size=65) == 455
    assert size_by_risk(**kw, price=100, stop_distance=0) == 0


def test_governor_refusals() -> None:
    lim = RiskLimits(daily_loss_limit=Decimal("5000"))
    kw = dict(symbol="A", confidence=0.8, worst_loss=Decimal("1000"), at=time(10, 0), halted=None)
    assert entry_refusal(lim, Exposure(), **kw) is None
    assert "cut-off" in entry_refusal(lim, Exposure(), **{**kw, "at": time(15, 0)})
    assert "halted" in entry_refusal(lim, Exposure(), **{**kw, "halted": "token expired"})
    assert "confidence" in entry_refusal(lim, Exposure(), **{**kw, "confidence": 0.1})
    assert "in flight" in entry_refusal(lim, Exposure(symbols_busy={"A"}), **kw)
    assert "per day" in entry_refusal(lim, Exposure(entries_today=40), **kw)
    assert "trades on A" in entry_refusal(lim, Exposure(entries_by_symbol={"A": 2}), **kw)
    assert "open positions" in entry_refusal(lim, Exposure(open_positions=10), **kw)
    worst = Exposure(realized_net=Decimal("-3000"), open_worst_loss=Decimal("1500"))
    assert "loss limit" in entry_refusal(lim, worst, **kw)
    assert entry_refusal(lim, worst, **{**kw, "worst_loss": Decimal("500")}) is None


def _intent(side: Side, qty: int, purpose: Purpose, sym: str = "A") -> OrderIntent:
    return OrderIntent(
        f"{sym}-{side}-{purpose}-{qty}",
        DAY,
        Asset.STOCKS,
        sym,
        "NSE",
        side,
        qty,
        purpose,
        "orb",
        "",
        at(10, 0),
        stop=95.0,
        target=110.0,
    )


def test_book_round_trip_reconciles() -> None:
    b = Book()
    b.apply_fill(_intent(Side.BUY, 10, Purpose.ENTRY), 10, Decimal("100.05"), Decimal("1.50"), "t")
    assert b.positions["A"].qty == 10
    realized = b.apply_fill(_intent(Side.SELL, 10, Purpose.EXIT), 10, Decimal("102.00"), Decimal("2.25"), "t")
    assert realized == Decimal("19.50") and not b.positions
    assert b.trades == 1 and b.wins == 1
    assert b.net == b.cash - b.charges == Decimal("15.75")
    assert Book.from_doc(b.to_doc()).to_doc() == b.to_doc()


def test_book_short_round_trip() -> None:
    b = Book()
    b.apply_fill(_intent(Side.SELL, 5, Purpose.ENTRY), 5, Decimal("200"), Decimal("1"), "t")
    assert b.positions["A"].qty == -5
    assert b.apply_fill(_intent(Side.BUY, 5, Purpose.EXIT), 5, Decimal("201"), Decimal("1"), "t") == Decimal(
        "-5.00"
    )
    assert b.wins == 0 and b.net == Decimal("-7")


def test_an_entrys_stop_and_target_move_with_its_fill() -> None:
    """Decided at 100 (stop 95, target 110), filled a snapshot later at 101.37: the stop is 5 below the fill
    and the target 9 above it, on the tick grid rounded towards the fill; the loss at the stop is the one
    the governor approved, however far the fill moved."""
    from dataclasses import replace

    long = replace(_intent(Side.BUY, 10, Purpose.ENTRY), price=100.0)
    b = Book()
    b.apply_fill(long, 10, Decimal("101.37"), Decimal("0"), "t")
    assert (b.positions["A"].stop, b.positions["A"].target) == (96.40, 111.35)
    short = replace(_intent(Side.SELL, 10, Purpose.ENTRY), price=100.0, stop=105.0, target=90.0)
    b = Book()
    b.apply_fill(short, 10, Decimal("99.12"), Decimal("0"), "t")
    assert (b.positions["A"].stop, b.positions["A"].target) == (104.10, 89.15)
    b = Book()  # an intent without its decided price keeps its levels
    b.apply_fill(_intent(Side.BUY, 10, Purpose.ENTRY), 10, Decimal("101.37"), Decimal("0"), "t")
    assert (b.positions["A"].stop, b.positions["A"].target) == (95.0, 110.0)


def _ctx(book: Book, snap: Snapshot, plan: AssetPlan | None = None, pending=None) -> TickContext:
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
    b.apply_fill(_intent(Side.BUY, 10, Purpose.ENTRY), 10, Decimal("100"), Decimal("0"), "t")
    snap = Snapshot(at(10, 1), {"A": q("A", at(10, 1), 96, 100, lo=94.9)})
    d = decide(_ctx(b, snap))
    assert [(i.side, i.qty, i.purpose) for i in d.intents] == [(Side.SELL, 10, Purpose.EXIT)]
    assert "stop" in d.intents[0].reason
    pend = {"x": Pending("x", "A", Purpose.EXIT)}
    assert decide(_ctx(b, snap, pending=pend)).intents == []


def test_square_off_exits_every_position() -> None:
    b = Book()
    b.apply_fill(_intent(Side.SELL, 3, Purpose.ENTRY), 3, Decimal("100"), Decimal("0"), "t")
    ctx = _ctx(b, Snapshot(at(15, 10), {}))
    out = exits_for(ctx, {}, Purpose.SQUARE_OFF, only={"A"}, reason="square-off")
    assert [(i.side, i.qty, i.purpose) for i in out] == [(Side.BUY, 3, Purpose.SQUARE_OFF)]


def test_the_loss_limit_halts_and_flattens() -> None:
    b = Book()
    b.apply_fill(_intent(Side.BUY, 1000, Purpose.ENTRY), 1000, Decimal("100"), Decimal("0"), "t")
    plan = AssetPlan(
        Asset.STOCKS, True, (StrategyChoice("orb"),), RiskLimits(daily_loss_limit=Decimal("5000"))
    )
    snap = Snapshot(at(10, 1), {"A": q("A", at(10, 1), 94.9, 100, lo=94.9)})
    d = decide(_ctx(b, snap, plan))
    assert d.halt and "loss limit" in d.halt
    assert [i.side for i in d.intents] == [Side.SELL]


def test_plans_outside_the_envelope_are_reported() -> None:
    env = {Asset.STOCKS: RiskLimits()}
    ctx = PlanContext(DAY, [], env, {Asset.STOCKS: True})
    raised = AssetPlan(
        Asset.STOCKS,
        True,
        (StrategyChoice("orb", {"range_minutes": 500}), StrategyChoice("magic")),
        RiskLimits(daily_loss_limit=Decimal("50000")),
    )
    problems = validate(Plan(DAY, "llm", "trending", {Asset.STOCKS: raised}), ctx)
    assert any("range_minutes" in p for p in problems)
    assert any("unknown strategy 'magic'" in p for p in problems)
    assert any("daily_loss_limit 50000 above" in p for p in problems)
    ok = AssetPlan(Asset.STOCKS, True, (StrategyChoice("vwap"),), RiskLimits())
    assert validate(Plan(DAY, "rules", "ranging", {Asset.STOCKS: ok}), ctx) == []


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


def test_the_session_keeps_the_opening_range_the_planned_orb_uses() -> None:
    from tron.domain.strategies import opening_range_minutes, run

    assert opening_range_minutes([StrategyChoice("orb", {"range_minutes": 30})]) == 30
    assert opening_range_minutes([StrategyChoice("vwap")]) == 15
    st = SessionState.new(["A"], or_minutes=30)
    t0 = at(9, 15)
    st.apply(Snapshot(t0, {"A": q("A", t0, 100, 0)}))
    for k in range(1, 31):  # the range grows for 30 minutes, not 15
        px = 100 + (2 if k == 25 else 0)
        st.apply(Snapshot(t0 + timedelta(minutes=k), {"A": q("A", t0 + timedelta(minutes=k), px, 1000 * k)}))
    assert st.or_high[0] == 102
    bar = st.apply(Snapshot(at(9, 46), {"A": q("A", at(9, 46), 101.5, 40000)}))
    assert run("orb", {"range_minutes": 30}, st, bar) == []  # 101.5 is inside the 30-minute range
    with pytest.raises(ValueError, match="15-minute range, the session keeps 30"):
        run("orb", {"range_minutes": 15}, st, bar)
