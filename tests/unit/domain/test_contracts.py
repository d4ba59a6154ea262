"""tron.domain.contracts: the future to trade and when to roll, the option expiry and strike, the rules
validated."""

from __future__ import annotations

from datetime import date

import pytest

from tron.adapters.calendar import nse_calendar
from tron.domain.contracts import ContractRules, option_expiry, pick_option, select_future
from tron.domain.models import Asset, Instrument
from tron.domain.plan import AssetPlan, PlanContext, validate
from tron.domain.risk import RiskLimits

DAY = date(2026, 11, 23)


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
