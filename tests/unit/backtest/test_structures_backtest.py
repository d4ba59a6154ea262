"""Multi-leg option structures in the intraday backtester, over simulated days of the seeded market
(tron.backtest.generated): every shipped template trades day after day with its legs reported; hedges fill
before the sold legs and leave after them; a short leg's stop rests at the simulated broker and fills as
tron.domain.stop_fill fills it; a refused structure is recorded with the governor's reason; the options
square-off is F&O's (15:15), not the equity one; results repeat by seed; and a day fills exactly as a paper
`run-day` of the same day and seed fills it.

Timings on one core: 0.5-0.8 s a simulated day, most of it the generated market quoting the chain's 87
symbols every minute; the 20-day straddle 11-17 s, each 3-day template about 1.5 s, the file about 25 s."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import TRADING_DAY, settings
from tron.adapters.calendar import nse_calendar
from tron.adapters.clock import VirtualClock
from tron.backtest.engine import (
    EQUITY_SQUARE_OFF,
    FNO_SQUARE_OFF,
    IntradayConfig,
    IntradayResult,
    run_intraday,
    structure_report,
)
from tron.backtest.generated import GeneratedSessions, trading_days
from tron.config.settings import shipped_templates
from tron.domain.charges import fill_charges, order_charges
from tron.domain.live import Guardrails
from tron.domain.models import Asset, Purpose, Side
from tron.domain.money import dec
from tron.domain.plan import AssetPlan
from tron.domain.risk import RiskLimits
from tron.domain.stop_fill import StopOrder, StopSlippage, first_fill, half_spread
from tron.domain.timeutil import ist
from tron.sim.market import GeneratedMarketData, MarketGenerator, nifty50

CAL = nse_calendar()
DAYS = trading_days(CAL, date(2026, 11, 2), date(2026, 12, 1))  # 20: 10 and 24 November are holidays
# A one-lot short straddle blocks about ₹2.1 lakh of margin (max_position_pct 50 % of the capital) and risks
# about ₹14,000 at its 25 % stops with the options slippage band: the limits a structure needs.
RISK = RiskLimits(
    capital=Decimal("450000"), daily_loss_limit=Decimal("30000"), daily_loss_limit_pct=Decimal("10"),
    max_position_pct=Decimal("50"), max_sector_pct=Decimal("100"), risk_per_trade_pct=Decimal("2"),
)  # fmt: skip
TEMPLATES = shipped_templates()
LONG, SHORT = "straddle_920", 3  # the template run over all 20 days; the others over the first 3


def plan(spec: dict[str, Any], name: str, risk: RiskLimits = RISK) -> AssetPlan:
    return AssetPlan(Asset.OPTIONS, True, (), risk, "test", structure={**spec, "name": name})


def sessions(p: AssetPlan, first: date, last: date, seed: int = 7) -> GeneratedSessions:
    """The seeded market `tron run-day` trades (three stocks: the index and its options do not depend on
    them), read day by day as the options tick reads it."""
    clock = VirtualClock(ist(first, time(9, 15)))
    market = GeneratedMarketData(MarketGenerator(nifty50(3), CAL, seed=seed), clock)
    return GeneratedSessions(market, clock, CAL, p, first, last)


def run(p: AssetPlan, days: list[date], seed: int = 7, **kw: Any) -> IntradayResult:
    return run_intraday(sessions(p, days[0], days[-1], seed), IntradayConfig(p, fill="next-quote", **kw))


@cache
def template_run(name: str, n: int) -> IntradayResult:
    return run(plan(TEMPLATES[name], name), DAYS[:n])


def fills_of(r: IntradayResult, day: int) -> list[tuple[Any, ...]]:
    a, b = r.sessions[day].fills
    return [(f["at"], f["symbol"], f["side"], f["purpose"], f["price"], f["qty"]) for f in r.fills[a:b]]


# ------------------------------------------------------------------------------------------------ templates
@pytest.mark.parametrize(
    ("name", "n"), [(LONG, len(DAYS))] + [(t, SHORT) for t in TEMPLATES if t != LONG], ids=lambda x: str(x)
)
def test_each_shipped_template_backtests_over_simulated_days(name: str, n: int) -> None:
    assert len(DAYS) == 20
    r = template_run(name, n)
    rep = structure_report(r)
    assert r.strategy == rep["template"] == name and r.settings["square_off"] == ["15:15", "15:17", "15:19"]
    assert [d["date"] for d in rep["days"]] == [d.isoformat() for d in DAYS[:n]]
    traded = 0
    for day in rep["days"]:
        if not day["structures"]:
            assert day["refused"] and day["net_pnl"] == 0, day  # a day without one says why
            continue
        traded += 1
        (st,) = day["structures"]
        assert st["template"] == name and st["exit_reason"] and st["exit_time"] > st["entry_time"]
        assert st["entry_time"][:10] == day["date"] and st["margin"] > 0 and st["worst_case"] > 0
        assert st["net_pnl"] == pytest.approx(day["net_pnl"], abs=0.01)  # the asset traded only this
        assert len(st["legs"]) == len(TEMPLATES[name]["legs"])
        for leg in st["legs"]:
            assert leg["qty"] == 65 and leg["symbol"].startswith("NIFTY") and leg["type"] in ("CE", "PE")
            assert leg["entry_price"] > 0 and leg["exit_price"] > 0 and leg["exit_time"] > leg["entry_time"]
    assert traded >= n - 1  # the chain is always there: only a rare margin refusal skips a day
    assert all(t.closed for t in r.trades)  # flat every evening
    tot = rep["totals"]
    assert (tot["days"], tot["traded_days"]) == (n, traded)
    assert tot["net_pnl"] == pytest.approx(float(r.final_equity - r.capital), abs=0.01)
    assert tot["net_pnl"] == pytest.approx(tot["gross_pnl"] - tot["charges"], abs=0.01)
    assert tot["win_days"] == sum(1 for d in rep["days"] if d["net_pnl"] > 0)
    assert tot["max_drawdown"] >= tot["max_drawdown_eod"] >= 0
    for f in r.fills:  # options charges (the STT on the sell side) on every order
        it = next(i for i in r.intents if i.intent_id == f["intent_id"])
        assert it.segment == "options" and it.exchange == "NFO" and it.tick_size == Decimal("0.05")
        want = order_charges("options", Side(f["side"]), Decimal(f["price"]), f["qty"], it.day).total
        assert Decimal(f["charges"]) == want


@pytest.mark.parametrize("name", ["iron_condor", "bull_call_spread"])
def test_hedges_fill_before_the_sold_legs_and_leave_after_them(name: str) -> None:
    rep = structure_report(template_run(name, SHORT))
    for day in rep["days"]:
        for st in day["structures"]:
            bought = [leg for leg in st["legs"] if leg["side"] == "BUY"]
            sold = [leg for leg in st["legs"] if leg["side"] == "SELL"]
            assert bought and sold
            assert max(leg["entry_time"] for leg in bought) < min(leg["entry_time"] for leg in sold)
            assert max(leg["exit_time"] for leg in sold) < min(leg["exit_time"] for leg in bought)


# ------------------------------------------------------------------------------------------------ stops
def test_a_short_legs_stop_rests_at_the_broker_and_fills_by_the_stop_model() -> None:
    """A straddle with 3 % stops: a sold leg's stop is a BUY SL resting from its entry's fill, filled by
    tron.domain.stop_fill on the day's minute candles (at the spread of the quote it was worked with); the
    structure reports that leg out at its stop and the other rides on."""
    spec = {**TEMPLATES[LONG], "mtm_sl": None}
    spec["legs"] = [{**leg, "sl": "3%"} for leg in spec["legs"]]
    day = DAYS[15]
    p = plan({k: v for k, v in spec.items() if v is not None}, "tight")
    r = run(p, [day])
    stops = [f for f in r.fills if f["purpose"] == "protect"]
    assert stops and all(f["side"] == "BUY" and f["by_stop"] for f in stops)
    sess = sessions(p, day, day).session(day)
    for f in stops:
        protect = next(i for i in r.intents if i.intent_id == f["intent_id"])
        entry = next(x for x in r.fills if x["symbol"] == f["symbol"] and x["purpose"] == "entry")
        assert (protect.side, protect.order_type, protect.segment) == (Side.BUY, "SL", "options")
        assert protect.limit is not None and protect.trigger is not None and protect.limit > protect.trigger
        since = datetime.fromisoformat(entry["at"])
        candles = [c for c in sess.candles[f["symbol"]] if c.start >= since]
        at = datetime.fromisoformat(f["at"])
        q = sess.snapshots[sess.nows.index(at)].quotes[f["symbol"]]
        stop = StopOrder("BUY", "SL", dec(protect.trigger), dec(protect.limit), is_option=True)
        outcome, candle = first_fill(
            stop, candles, Decimal("0.05"), half_spread(q.bid, q.ask), StopSlippage()
        )
        assert candle is not None and outcome.price == Decimal(f["price"])
        assert candle.start + timedelta(minutes=1) == at and Decimal(f["price"]) >= dec(protect.trigger)
    (st,) = structure_report(r)["days"][0]["structures"]
    out = [leg for leg in st["legs"] if leg["exit_reason"].startswith("stop ")]
    assert out and all(leg["exit_reason"].endswith("filled at the broker") for leg in out)
    assert len(out) < 2 or st["exit_reason"] == "every leg closed at its own stop or target"


def test_the_options_square_off_is_the_fno_one_not_the_equitys() -> None:
    """A straddle held to 15:15 leaves at its exit time (decided 15:15, filled at 15:16), the F&O
    square-off's first stage: the equity square-off (15:10) would have closed it five minutes early."""
    p = plan({**TEMPLATES[LONG], "exit": "15:15"}, "late")
    fno = run(p, [DAYS[0]])
    equity = run(p, [DAYS[0]], square_off=EQUITY_SQUARE_OFF)
    assert fno.settings["square_off"] == ["15:15", "15:17", "15:19"] and FNO_SQUARE_OFF[0] == time(15, 15)
    assert equity.settings["square_off"] == ["15:10", "15:12", "15:14"]

    def last_out(r: IntradayResult) -> set[tuple[str, str]]:
        return {(f["at"][11:16], f["purpose"]) for f in r.fills if f["purpose"] in ("exit", "squareoff")}

    (st,) = structure_report(fno)["days"][0]["structures"]
    assert st["exit_reason"] == "exit time 15:15" and last_out(fno) == {("15:16", "exit")}
    assert last_out(equity) == {("15:11", "squareoff")}


# ------------------------------------------------------------------------------------------------ refusals
def test_a_refused_structure_is_recorded_with_the_governors_reason() -> None:
    small = dataclasses.replace(RISK, capital=Decimal("50000"))
    r = run(plan(TEMPLATES[LONG], LONG, small), DAYS[:2])
    rep = structure_report(r)
    assert not r.fills and r.refusals > 0 and rep["totals"]["refused_days"] == 2
    for day in rep["days"]:
        assert not day["structures"] and day["net_pnl"] == 0
        assert any("above the maximum 50% of ₹50000" in why for why in day["refused"])
    assert all(x["symbol"] == LONG for rec in r.sessions for x in rec.refused)


# ------------------------------------------------------------------------------------------------ repeatable
def test_results_repeat_by_seed_and_the_stored_state_changes_nothing() -> None:
    """The same seed gives the same fills (the live tick's round trip of its state through storage too);
    another seed another market."""
    long = template_run(LONG, len(DAYS))
    p = plan(TEMPLATES[LONG], LONG)
    again = run(p, DAYS[:2], store_rounding=True)
    assert [fills_of(again, i) for i in range(2)] == [fills_of(long, i) for i in range(2)]
    assert structure_report(again)["days"] == structure_report(long)["days"][:2]
    other = run(p, DAYS[:1], seed=8)
    assert fills_of(other, 0) != fills_of(long, 0)


@pytest.mark.slow
def test_a_day_fills_exactly_as_a_paper_run_day(tmp_path: Path) -> None:
    """The backtest of a simulated day against `tron run-day` of the same day and seed (the paper broker
    fills market orders at the next snapshot's bid or ask and works resting stops on the same candles):
    the same orders at the same minutes and prices, the same net P&L."""
    from tron.domain.plan import Plan
    from tron.runday.embedded import prepare, run_day

    day = TRADING_DAY  # the straddle's call stops out at 12:15
    assets = {
        "stocks": {"enabled": False},
        "futures": {"enabled": False},
        "options": {"enabled": True, "capital_pct": 45},
    }
    s = settings(
        tmp_path, symbols=3, risk={"daily_loss_limit": 30000, "daily_loss_limit_pct": 5}, assets=assets,
        options={"template": LONG},
    )  # fmt: skip
    paper_run = prepare(s, day, tmp_path / "run")
    result = run_day(s, day, run=paper_run)
    store = paper_run.deps.store
    options = Plan.from_doc(store.get(f"days/{day}")["plan"]).assets[Asset.OPTIONS]
    paper = sorted(
        (d["fill"]["at"], d["symbol"], d["side"], d["purpose"], d["fill"]["price"], d["fill"]["qty"])
        for _, d in store.list(f"days/{day}/intents")
        if "fill" in d
    )
    r = run(options, [day], guardrails=s.guardrails.guardrails())
    assert len(paper) >= 4 and sorted(fills_of(r, 0)) == paper
    assert any(p[3] == Purpose.PROTECT for p in paper)  # a leg's stop filled at the broker
    assert float(r.sessions[0].net) == pytest.approx(result["assets"]["options"]["net_pnl"], abs=0.001)


def test_legs_above_the_freeze_quantity_are_charged_slice_by_slice() -> None:
    """A leg of two lots with a freeze quantity of one lot goes to the exchange in two orders, each with its
    own brokerage, as the executor books a fill sent in slices; without the guardrails, one order."""
    spec = {**TEMPLATES[LONG], "legs": [{**leg, "lots": 2} for leg in TEMPLATES[LONG]["legs"]]}
    risk = dataclasses.replace(RISK, capital=Decimal("1000000"), max_position_pct=Decimal("90"))
    p = plan(spec, "straddle_two_lots", risk)
    whole = run(p, DAYS[:1])
    lot = next(it.lot for it in whole.intents if it.purpose is Purpose.ENTRY)
    sliced = run(p, DAYS[:1], guardrails=Guardrails(freeze_qty={"NIFTY": lot}))
    assert [f["qty"] for f in sliced.fills] == [f["qty"] for f in whole.fills] and len(sliced.fills) >= 4
    for cut, one in zip(sliced.fills, whole.fills, strict=True):
        side, price, day = Side(cut["side"]), Decimal(cut["price"]), date.fromisoformat(cut["at"][:10])
        assert (cut["price"], cut["qty"]) == (one["price"], 2 * lot)
        two = fill_charges("options", side, [(lot, price), (lot, price)], day).total
        assert Decimal(cut["charges"]) == two > Decimal(one["charges"])
        assert Decimal(one["charges"]) == order_charges("options", side, price, 2 * lot, day).total
    assert sliced.sessions[0].net < whole.sessions[0].net
