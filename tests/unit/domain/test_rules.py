"""tron.domain.rules: the rule planner picks valid strategies for every regime."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.support.domain import daily_bars
from tron.domain import regime as rg
from tron.domain.models import Asset
from tron.domain.plan import PlanContext, validate
from tron.domain.risk import RiskLimits
from tron.domain.rules import CHOICES, rule_plan
from tron.domain.strategies import REGISTRY

DAY = date(2026, 11, 23)


def test_the_rule_planner_picks_valid_strategies_for_every_regime() -> None:
    env = {Asset.STOCKS: RiskLimits(daily_loss_limit=Decimal("5000"))}
    for name, choices in CHOICES.items():
        assert name in rg.REGIMES and choices
        for c in choices:
            REGISTRY[c.name].resolve(c.params)
    for bars in (
        daily_bars([22000 * 1.006**i for i in range(10)], 0.8),
        daily_bars([22000 + (60 if i % 2 else -60) for i in range(10)], 0.8),
        daily_bars([22000 + (200 if i % 2 else -200) for i in range(10)], 2.2),
    ):
        ctx = PlanContext(DAY, bars, env, {Asset.STOCKS: True})
        plan = rule_plan(ctx)
        assert validate(plan, ctx) == []
        assert plan.assets[Asset.STOCKS].strategies == CHOICES[plan.regime]
