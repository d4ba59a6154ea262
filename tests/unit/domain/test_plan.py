"""tron.domain.plan: plans outside the risk envelope are reported, each problem named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tron.domain.models import Asset
from tron.domain.plan import AssetPlan, Plan, PlanContext, StrategyChoice, validate
from tron.domain.risk import RiskLimits

DAY = date(2026, 11, 23)


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
