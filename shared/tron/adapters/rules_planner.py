"""The Planner port over the pure rule planner."""

from __future__ import annotations

from tron.domain.plan import Plan, PlanContext
from tron.domain.rules import rule_plan


class RulesPlanner:
    name = "rules"

    def plan(self, context: PlanContext) -> Plan:
        return rule_plan(context)
