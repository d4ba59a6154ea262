"""The Planner port over the pure rule planner."""

from __future__ import annotations

from tron.domain.plan import Plan, PlanContext
from tron.domain.rules import rule_plan


class RulesPlanner:
    """The Planner port over :func:`tron.domain.rules.rule_plan` (also plan_day's fallback planner)."""

    name = "rules"

    def plan(self, context: PlanContext) -> Plan:
        """The rules' plan for the context."""
        return rule_plan(context)
