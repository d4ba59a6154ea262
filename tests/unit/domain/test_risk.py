"""tron.domain.risk, the governor's rules one by one: capital, position size, sector, margin, the loss limit
and each asset's share of it, the kill switch's documents, the limits stored with a plan; property checks that
no approved entry can breach the loss limit."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.domain import LIM, money
from tron.domain.risk import (
    Candidate,
    Exposure,
    KillSwitch,
    RiskLimits,
    entry_refusal,
    exposure_value,
    margin_required,
)

KW: dict[str, Any] = dict(symbol="A", confidence=0.8, worst_loss=Decimal("100"), at=time(10, 0), halted=None)


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


def test_an_assets_loss_budget_keeps_room_for_the_others() -> None:
    lim = RiskLimits(account_capital=Decimal("1000000"), loss_budget_pct=Decimal("30"))  # ₹1,500 of ₹5,000
    ex = Exposure(open_worst_loss=Decimal("1400"))  # all this asset's
    assert entry_refusal(lim, ex, **{**KW, "worst_loss": Decimal("200")}) == (
        "worst case would use more than this asset's 30% of the daily loss limit (₹1500)"
    )
    assert entry_refusal(lim, ex, **{**KW, "worst_loss": Decimal("100")}) is None
    theirs = Exposure(open_worst_loss=Decimal("1400"), others_worst=Decimal("1400"))  # the others' risk
    assert entry_refusal(lim, theirs, **{**KW, "worst_loss": Decimal("1500")}) is None


# ------------------------------------------------------------------------------------------ kill switch
def test_kill_switch_documents() -> None:
    assert KillSwitch.from_doc(None).engaged is False
    ks = KillSwitch.from_doc({"engaged": True, "reason": "broker outage"})
    assert ks.engaged and ks.flatten and ks.why == "kill switch engaged: broker outage"
    bad = KillSwitch.from_doc({"engaged": "yes"})  # a typo in the console fails safe: engaged, no flatten
    assert bad.engaged and not bad.flatten and "malformed" in bad.reason


def test_plan_documents_round_trip_the_new_limits() -> None:
    lim = RiskLimits(max_sector_pct=Decimal("20"), kelly=True, account_capital=Decimal("5"))
    assert RiskLimits.from_doc(lim.to_doc()) == lim
    old = {k: v for k, v in RiskLimits().to_doc().items() if k in list(RiskLimits().to_doc())[:10]}
    assert RiskLimits.from_doc(old) == RiskLimits()  # a plan stored before these limits existed


# ------------------------------------------------------------------------------------------------- properties
@settings(max_examples=300, deadline=None)
@given(
    realized=st.decimals(min_value=-20_000, max_value=20_000, places=2),
    open_loss=money,
    worst=money,
    limit=st.decimals(min_value=100, max_value=20_000, places=2),
)
def test_no_approved_entry_can_breach_the_loss_limit_in_its_worst_case(
    realized, open_loss, worst, limit
) -> None:
    lim = RiskLimits(daily_loss_limit=limit, daily_loss_limit_pct=Decimal("100"))
    ex = Exposure(realized_net=realized, open_worst_loss=open_loss)
    refusal = entry_refusal(
        lim, ex, symbol="A", confidence=0.9, worst_loss=worst, at=time(10, 0), halted=None
    )
    if refusal is None:
        assert realized - open_loss - worst >= -lim.loss_limit


@settings(max_examples=300, deadline=None)
@given(reason=st.sampled_from(["halted", "cutoff", "busy", "count"]))
def test_entries_are_refused_whatever_the_money_when_a_rule_says_no(reason) -> None:
    lim = RiskLimits()
    kw = {"symbol": "A", "confidence": 0.9, "worst_loss": Decimal("1"), "at": time(10, 0), "halted": None}
    ex = Exposure()
    if reason == "halted":
        kw["halted"] = "kill switch"
    elif reason == "cutoff":
        kw["at"] = time(15, 5)
    elif reason == "busy":
        ex.symbols_busy.add("A")
    else:
        ex.entries_today = lim.max_trades_per_day
    assert entry_refusal(lim, ex, **kw) is not None
