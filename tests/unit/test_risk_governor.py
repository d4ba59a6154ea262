"""The risk governor's capital, sector, margin, kill-switch, self-trade and half-Kelly rules; F&O contract
selection and sizing; each refusal says why."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tron.adapters.calendar import nse_calendar
from tron.config.settings import ConfigError, load_settings
from tron.domain import strategies
from tron.domain.book import Book
from tron.domain.context import TickContext
from tron.domain.contracts import ContractRules, option_expiry, pick_option, select_future
from tron.domain.decide import decide
from tron.domain.models import Asset, Instrument, OrderIntent, Purpose, Quote, Side, Snapshot
from tron.domain.plan import AssetPlan, PlanContext, StrategyChoice, validate
from tron.domain.risk import (
    Candidate,
    Exposure,
    KillSwitch,
    RiskLimits,
    entry_refusal,
    exposure_value,
    margin_required,
)
from tron.domain.session import SessionState
from tron.domain.sizing import (
    StrategyStats,
    closed_trades,
    half_kelly_pct,
    risk_pct_with_kelly,
    size_by_risk,
)
from tron.domain.strategies import Signal
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)
LIM = RiskLimits(capital=Decimal("1000000"), account_capital=Decimal("1000000"))
KW: dict[str, Any] = dict(symbol="A", confidence=0.8, worst_loss=Decimal("100"), at=time(10, 0), halted=None)


def at(h: int, m: int) -> datetime:
    return ist(DAY, time(h, m))


# ------------------------------------------------------------------------------------------ margin & exposure
def test_margin_per_segment_hand_worked() -> None:
    # equity MIS: 5x leverage → 100 × ₹2,000 / 5
    assert margin_required(LIM, "equity_intraday", "BUY", 100, 2000) == Decimal("40000.00")
    # NIFTY future: 12% of 65 × 24,000 = 1,560,000 × 0.12
    assert margin_required(LIM, "futures", "SELL", 65, 24000) == Decimal("187200.00")
    # a bought option blocks its premium: 130 × ₹150.35
    assert margin_required(LIM, "options", "BUY", 130, 150.35) == Decimal("19545.50")
    assert margin_required(LIM, "equity_delivery", "BUY", 10, 500) == Decimal("5000.00")
    # exposure (what counts against the asset's capital): value, margin, premium
    assert exposure_value(LIM, "equity_intraday", 100, 2000) == Decimal("200000.00")
    assert exposure_value(LIM, "futures", 65, 24000) == Decimal("187200.00")
    assert exposure_value(LIM, "options", 65, 200) == Decimal("13000.00")


def test_capital_allocation_is_an_exposure_cap() -> None:
    lim = RiskLimits(capital=Decimal("600000"), account_capital=Decimal("1000000"))
    ex = Exposure(capital_used=Decimal("550000"))
    why = entry_refusal(lim, ex, **KW, candidate=Candidate("", Decimal("60000"), Decimal("12000")))
    assert why == "asset capital ₹600000 would be exceeded (₹550000 in use, ₹60000 more)"
    assert entry_refusal(lim, ex, **KW, candidate=Candidate("", Decimal("50000"), Decimal("10000"))) is None


def test_position_size_bounds() -> None:
    small = Candidate("", Decimal("9999"), Decimal("2000"))
    assert "below the minimum 1%" in entry_refusal(LIM, Exposure(), **KW, candidate=small)
    big = Candidate("", Decimal("150001"), Decimal("2000"))
    assert "above the maximum 15%" in entry_refusal(LIM, Exposure(), **KW, candidate=big)


def test_sector_cap() -> None:
    ex = Exposure(capital_used=Decimal("250000"), by_sector={"Financial Services": Decimal("250000")})
    bank = Candidate("Financial Services", Decimal("100000"), Decimal("20000"))
    assert entry_refusal(LIM, ex, **KW, candidate=bank) == (
        "sector Financial Services would hold ₹350000, above 30% of capital (₹300000)"
    )
    it = Candidate("Information Technology", Decimal("100000"), Decimal("20000"))
    assert entry_refusal(LIM, ex, **KW, candidate=it) is None


def test_margin_check_counts_every_asset() -> None:
    lim = RiskLimits(
        capital=Decimal("300000"), account_capital=Decimal("1000000"), max_position_pct=Decimal("100")
    )
    ex = Exposure(margin_used=Decimal("900000"))  # mostly the other assets' positions
    fut = Candidate("", Decimal("187200"), Decimal("187200"))
    why = entry_refusal(lim, ex, **KW, candidate=fut)
    assert why == "margin ₹187200 needed, ₹100000 available (₹900000 of ₹1000000 in use)"


def test_the_loss_limit_is_of_the_account_not_the_asset_share() -> None:
    lim = RiskLimits(capital=Decimal("100000"), account_capital=Decimal("1000000"))
    assert lim.loss_limit == Decimal("5000")  # min(₹5,000, 1% of ₹10 lakh), not 1% of the ₹1 lakh share


# ------------------------------------------------------------------------------------------ kill switch
def test_kill_switch_documents() -> None:
    assert KillSwitch.from_doc(None).engaged is False
    ks = KillSwitch.from_doc({"engaged": True, "reason": "broker outage"})
    assert ks.engaged and ks.flatten and ks.why == "kill switch engaged: broker outage"
    bad = KillSwitch.from_doc({"engaged": "yes"})  # a typo in the console fails safe: engaged, no flatten
    assert bad.engaged and not bad.flatten and "malformed" in bad.reason


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


# ------------------------------------------------------------------------------------------ half-Kelly
def test_half_kelly_from_realised_statistics() -> None:
    s = StrategyStats()
    for net in ("300", "300", "-200", "-200", "-200"):
        s = s.add(Decimal(net))
    assert (s.trades, s.wins, s.win_rate, s.payoff) == (5, 2, 0.4, 1.5)
    assert half_kelly_pct(s) == Decimal("0.0")  # W − (1−W)/R = 0.4 − 0.6/1.5 = 0: no edge
    good = StrategyStats(40, 24, Decimal("24000"), Decimal("8000"))  # W 0.6, R 2 → f 0.4, half 20%
    assert half_kelly_pct(good) == Decimal("20.0")
    assert risk_pct_with_kelly(Decimal("0.25"), good, True, 20) == (Decimal("0.25"), None)  # capped
    thin = StrategyStats(40, 21, Decimal("21000"), Decimal("19000"))  # W .525, R 1 → f .05, half 2.5%
    assert risk_pct_with_kelly(Decimal("5"), thin, True, 20)[0] == Decimal("2.5")
    bad = StrategyStats(40, 10, Decimal("5000"), Decimal("30000"))
    pct, note = risk_pct_with_kelly(Decimal("0.25"), bad, True, 20)
    assert pct == 0 and note and "half-Kelly" in note
    assert risk_pct_with_kelly(Decimal("0.25"), bad, True, 41) == (Decimal("0.25"), None)  # too few trades
    assert risk_pct_with_kelly(Decimal("0.25"), bad, False, 20) == (Decimal("0.25"), None)  # off


def test_kelly_refusal_names_the_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    _signal(monkeypatch, Signal("A", Side.BUY, 0.9, "orb", "up", 100.0, 0.5))
    risk = RiskLimits(account_capital=Decimal("1000000"), kelly=True, kelly_min_trades=20)
    stats = {"orb": StrategyStats(40, 10, Decimal("5000"), Decimal("30000"))}
    d = decide(_ctx(Book(), {"A": 100.0}, risk=risk, stats=stats))
    assert d.intents == [] and "size rounds to zero (half-Kelly" in d.events[-1]["reason"]


def test_closed_trades_net_of_both_orders_charges() -> None:
    def doc(iid: str, sym: str, side: str, qty: int, at_: str, realized: str, charges: str) -> dict[str, Any]:
        return {
            "intent_id": iid,
            "symbol": sym,
            "side": side,
            "strategy": "orb",
            "fill": {"qty": qty, "at": at_, "realized": realized, "charges": {"total": charges}},
        }

    fills = [
        doc("1", "A", "BUY", 10, "10:00", "0", "5"),
        doc("2", "A", "SELL", 10, "10:30", "100", "6"),
        doc("3", "B", "SELL", 5, "10:05", "0", "2"),
        doc("4", "B", "BUY", 5, "11:00", "-50", "3"),
    ]
    assert closed_trades(fills) == [("orb", Decimal("89")), ("orb", Decimal("-55"))]


# ------------------------------------------------------------------------------------------ sizing
def test_futures_size_by_margin_in_whole_lots() -> None:
    lim = RiskLimits(
        capital=Decimal("300000"), risk_per_trade_pct=Decimal("1"), max_position_pct=Decimal("100")
    )
    per_unit = float(exposure_value(lim, "futures", 1, 24000))  # ₹2,880 of margin per unit
    q = size_by_risk(
        capital=lim.capital,
        risk_per_trade_pct=lim.risk_per_trade_pct,
        max_position_pct=lim.max_position_pct,
        price=24000,
        stop_distance=24,
        lot_size=65,
        unit_exposure=per_unit,
    )
    assert q == 65  # ₹3,000 / 24 = 125 units → 1 lot; margin 1 lot ₹187,200 ≤ ₹300,000
    assert (
        size_by_risk(
            capital=lim.capital,
            risk_per_trade_pct=lim.risk_per_trade_pct,
            max_position_pct=lim.max_position_pct,
            price=24000,
            stop_distance=24,
            lot_size=65,
            unit_exposure=per_unit,
            room=Decimal("150000"),  # the rest of the allocation is in use: not even one lot fits
        )
        == 0
    )


# ------------------------------------------------------------------------------------------ contracts
def _fut(sym: str, exp: date) -> Instrument:
    return Instrument(
        sym, "NFO", Asset.FUTURES, lot_size=65, segment="futures", expiry=exp, option_type="FUT"
    )


def test_futures_roll_before_expiry() -> None:
    cal = nse_calendar()
    listed = [_fut("NIFTY26NOVFUT", date(2026, 11, 23)), _fut("NIFTY26DECFUT", date(2026, 12, 29))]
    assert select_future(listed, date(2026, 11, 18), 2, cal).symbol == "NIFTY26NOVFUT"
    assert select_future(listed, date(2026, 11, 20), 2, cal).symbol == "NIFTY26DECFUT"  # Fri: 2 days left
    assert select_future(listed, date(2026, 11, 20), 1, cal).symbol == "NIFTY26NOVFUT"
    assert select_future(listed, date(2026, 11, 23), 0, cal).symbol == "NIFTY26NOVFUT"  # expiry day
    with pytest.raises(ValueError, match="no listed NIFTY future expires on 2027-01-26"):
        select_future(listed, date(2026, 12, 28), 2, cal)


def _chain(exp: date, spot: float = 24000) -> list[Instrument]:
    return [
        Instrument(
            f"N{exp:%d}{k}{t}", "NFO", Asset.OPTIONS, lot_size=65, segment="options", expiry=exp,
            strike=float(k), option_type=t,
        )
        for k in range(int(spot) - 500, int(spot) + 550, 50)
        for t in ("CE", "PE")
    ]  # fmt: skip


def test_option_expiry_and_strike_selection() -> None:
    chain = _chain(date(2026, 11, 23)) + _chain(date(2026, 12, 1))
    assert option_expiry(chain, date(2026, 11, 23), skip_expiry_day=True) == date(2026, 12, 1)
    assert option_expiry(chain, date(2026, 11, 23), skip_expiry_day=False) == date(2026, 11, 23)
    week = [i for i in chain if i.expiry == date(2026, 12, 1)]
    pick = lambda t, r: pick_option(week, t, 24010, r, 8.0, 0.14)  # noqa: E731
    assert pick("CE", ContractRules(strike="atm")).strike == 24000
    assert pick("CE", ContractRules(strike="otm", otm_steps=2)).strike == 24100
    assert pick("PE", ContractRules(strike="otm", otm_steps=2)).strike == 23900
    deep = pick("CE", ContractRules(strike="delta", target_delta=0.25)).strike
    assert 24150 <= deep <= 24400
    assert pick_option(week, "CE", 24210, ContractRules(strike="otm", otm_steps=10), 8, 0.14) is None


def test_contract_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="strike must be one of"):
        ContractRules.from_doc({"strike": "itm"})
    with pytest.raises(ValueError, match="unknown contract rule"):
        ContractRules.from_doc({"rol_days": 2})
    ctx = PlanContext(DAY, [], {Asset.OPTIONS: RiskLimits()}, {Asset.OPTIONS: True})
    plan_bad = AssetPlan(Asset.OPTIONS, True, (), RiskLimits(), contract={"target_delta": 2})
    from tron.domain.plan import Plan

    problems = validate(Plan(DAY, "x", "ranging", {Asset.OPTIONS: plan_bad}), ctx)
    assert problems == ["options: contract: target_delta must be in [0.05, 0.95], got 2.0"]


# ------------------------------------------------------------------------------------------ settings
def test_per_asset_risk_overrides_and_bad_keys(tmp_path) -> None:
    s = load_settings(data_dir=tmp_path)
    env = s.envelope()
    assert env[Asset.FUTURES].risk_per_trade_pct == Decimal("1.0")
    assert env[Asset.FUTURES].capital == s.risk.capital * s.assets[Asset.FUTURES].capital_pct / 100
    assert all(e.account == s.risk.capital for e in env.values())
    with pytest.raises(ConfigError, match="max_sector_pct"):
        load_settings(data_dir=tmp_path, assets={"futures": {"risk": {"max_sector_pct": 0}}})
    with pytest.raises(ConfigError, match="risk_per_trad"):
        load_settings(data_dir=tmp_path, assets={"futures": {"risk": {"risk_per_trad": 1}}})


def test_plan_documents_round_trip_the_new_limits() -> None:
    lim = RiskLimits(max_sector_pct=Decimal("20"), kelly=True, account_capital=Decimal("5"))
    assert RiskLimits.from_doc(lim.to_doc()) == lim
    old = {k: v for k, v in RiskLimits().to_doc().items() if k in list(RiskLimits().to_doc())[:10]}
    assert RiskLimits.from_doc(old) == RiskLimits()  # a plan stored before these limits existed


def test_time_helper() -> None:
    assert at(10, 1) - at(10, 0) == timedelta(minutes=1)


# ------------------------------------------------------------------------------------------ services
def _embedded(tmp_path):
    from tron.adapters.clock import VirtualClock
    from tron.bootstrap import embedded

    s = load_settings(data_dir=tmp_path, symbols=3)
    deps, _ = embedded(s, VirtualClock(at(9, 10)), tmp_path, log_to_archive=False)
    return deps


def test_strategy_statistics_roll_up_once_per_day(tmp_path) -> None:
    from tron.services.stats import roll_up_stats

    deps = _embedded(tmp_path)
    prev = "2026-11-20"  # the trading day before 2026-11-23

    def put(
        iid: str, side: str, purpose: str, at_: str, realized: str, charges: str, asset: str = "stocks"
    ) -> None:
        deps.store.set(
            f"days/{prev}/intents/{iid}",
            {
                "intent_id": iid, "asset": asset, "symbol": "A", "side": side, "purpose": purpose,
                "strategy": "orb", "state": "filled",
                "fill": {"qty": 10, "at": at_, "realized": realized, "charges": {"total": charges}},
            },
        )  # fmt: skip

    put("1", "BUY", "entry", f"{prev}T10:00:00+05:30", "0", "10")
    put("2", "SELL", "exit", f"{prev}T11:00:00+05:30", "500", "10")
    put("3", "BUY", "entry", f"{prev}T10:00:00+05:30", "0", "10", asset="futures")  # another asset's
    roll_up_stats(deps, Asset.STOCKS, DAY)
    roll_up_stats(deps, Asset.STOCKS, DAY)  # idempotent: the day is folded once
    doc = deps.store.get("stats/stocks")
    assert doc["days"] == [prev]
    assert StrategyStats.from_doc(doc["strategies"]["orb"]) == StrategyStats(
        1, 1, Decimal("480"), Decimal("0")
    )


def test_paper_broker_rejects_partial_lots(tmp_path) -> None:
    from tron.ports import OrderRejected

    deps = _embedded(tmp_path)
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


def test_kill_switch_command(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from tron.cli import main

    state = str(tmp_path / "state.sqlite")
    assert main(["kill-switch", "engage", "--state", state]) == 2
    assert "needs a reason" in capsys.readouterr().err
    assert (
        main(["kill-switch", "engage", "--reason", "drill", "--by", "ops", "--state", state, "--json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert (doc["engaged"], doc["reason"], doc["flatten"], doc["by"]) == (True, "drill", True, "ops")
    assert main(["kill-switch", "status", "--state", state]) == 0
    assert "ENGAGED: drill" in capsys.readouterr().out
    assert main(["kill-switch", "release", "--state", state]) == 0
    assert main(["kill-switch", "status", "--state", state, "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["engaged"] is False
    assert main(["kill-switch", "status", "--state", str(tmp_path / "nope.sqlite")]) == 2


def test_an_assets_loss_budget_keeps_room_for_the_others() -> None:
    lim = RiskLimits(account_capital=Decimal("1000000"), loss_budget_pct=Decimal("30"))  # ₹1,500 of ₹5,000
    ex = Exposure(open_worst_loss=Decimal("1400"))  # all this asset's
    assert entry_refusal(lim, ex, **{**KW, "worst_loss": Decimal("200")}) == (
        "worst case would use more than this asset's 30% of the daily loss limit (₹1500)"
    )
    assert entry_refusal(lim, ex, **{**KW, "worst_loss": Decimal("100")}) is None
    theirs = Exposure(open_worst_loss=Decimal("1400"), others_worst=Decimal("1400"))  # the others' risk
    assert entry_refusal(lim, theirs, **{**KW, "worst_loss": Decimal("1500")}) is None


def test_entries_in_flight_count_for_the_other_assets(tmp_path) -> None:
    from tron.services.paths import in_flight_path
    from tron.services.tick_state import _elsewhere

    deps = _embedded(tmp_path)
    deps.store.set(in_flight_path(str(DAY)), {"futures": {"worst": "3400.50", "margin": "190000"}})
    plan = AssetPlan(Asset.STOCKS, True, (), LIM)
    margin, net, worst = deps.store.transaction(lambda txn: _elsewhere(txn, str(DAY), Asset.STOCKS, plan))
    assert (margin, net, worst) == (Decimal("190000"), Decimal("0"), Decimal("3400.50"))
    own = deps.store.transaction(lambda txn: _elsewhere(txn, str(DAY), Asset.FUTURES, plan))
    assert own == (Decimal("0"), Decimal("0"), Decimal("0"))  # its own in-flight entries are in its state


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


# ------------------------------------------------------------------------------------------ the slippage band
def test_the_worst_case_reserves_a_slippage_band_beyond_every_stop() -> None:
    from tron.domain.exposure import position_worst_loss, worst_loss_of_entry
    from tron.domain.models import Position

    # 12 bps of a 26,000 stop on NIFTY futures: ₹31.20 a unit, ₹2,028 a lot of 65
    assert LIM.slippage("futures", 26000) == Decimal("31.2000")
    assert LIM.slippage("equity_intraday", 1000) == Decimal("2.5000")
    assert LIM.slippage("index", 1000) == 0
    fut = Instrument("NIFTY26DECFUT", "NFO", Asset.FUTURES, lot_size=65, segment="futures")
    bare = worst_loss_of_entry(fut, Side.BUY, 65, 26040.0, 26000.0, DAY)
    banded = worst_loss_of_entry(fut, Side.BUY, 65, 26040.0, 26000.0, DAY, LIM.slippage("futures", 26000))
    assert banded - bare == Decimal("2028.00")
    pos = Position("NIFTY26DECFUT", 65, Decimal("26040"), "orb", "", stop=26000.0, segment="futures")
    assert position_worst_loss(pos, DAY, LIM) - position_worst_loss(pos, DAY) == Decimal("2028.00")
    # sizing: the risk per trade is the loss at the stop; the headroom also has to hold the band
    kw: dict[str, Any] = dict(
        capital=Decimal("1000000"), risk_per_trade_pct=Decimal("1"), max_position_pct=100
    )
    assert size_by_risk(**kw, price=100, stop_distance=1, headroom=Decimal("1000")) == 1000
    assert size_by_risk(**kw, price=100, stop_distance=1, headroom=Decimal("1000"), slippage=1.0) == 500


def test_the_band_is_a_setting_per_segment_stored_with_the_plan() -> None:
    s = load_settings(risk={"stop_slippage_bps": {"futures": 5}})
    env = s.envelope()[Asset.FUTURES]
    assert env.stop_slippage_bps["futures"] == Decimal("5") and env.stop_slippage_bps["options"] == 650
    assert RiskLimits.from_doc(env.to_doc()) == env
    old = {k: v for k, v in env.to_doc().items() if k != "stop_slippage_bps"}  # a plan stored before it
    assert RiskLimits.from_doc(old).stop_slippage_bps["futures"] == Decimal("12")
    with pytest.raises(ConfigError, match=r"risk\.stop_slippage_bps.*between 0 and 5000"):
        load_settings(risk={"stop_slippage_bps": {"futures": -1}})
    with pytest.raises(ConfigError, match=r"risk\.stop_slippage_bps"):
        load_settings(risk={"stop_slippage_bps": {"crypto": 5}})
