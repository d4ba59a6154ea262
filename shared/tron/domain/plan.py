"""The daily plan: which strategies each asset runs, with which parameters, inside which risk envelope.

A plan from any planner (rules or an LLM) is validated against the strategy registry and the configured
risk envelope before it is used."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tron.domain.contracts import ContractRules
from tron.domain.models import Asset, DailyBar
from tron.domain.risk import RiskLimits
from tron.domain.strategies import REGISTRY
from tron.domain.structures import StructureSpec, parse_spec


@dataclass(frozen=True)
class StrategyChoice:
    """One registry strategy and the parameters the planner chose for it (defaults for the rest)."""

    name: str
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AssetPlan:
    """One asset's day: whether it trades, its strategies, its risk limits and (F&O) contract rules."""

    asset: Asset
    enabled: bool
    strategies: tuple[StrategyChoice, ...]
    risk: RiskLimits
    note: str = ""
    contract: dict[str, Any] = field(default_factory=dict)  # F&O contract rules (domain.contracts)
    min_agreement: int = 1  # strategies that must agree on a symbol's side (tron.domain.strategies.aggregate)
    structure: dict[str, Any] | None = None  # options: the multi-leg structure traded instead (its spec)

    def structure_spec(self) -> StructureSpec | None:
        """The structure, parsed (None: the strategies trade); ValueError naming a bad key."""
        d = self.structure
        return None if d is None else parse_spec(str(d.get("name", "structure")), d)


@dataclass(frozen=True)
class Plan:
    """The day's plan: who made it (``planner``, with ``fallback_reason`` when the rules stood in for
    another planner), the regime it saw, and each asset's plan. Stored in the day's document."""

    day: date
    planner: str
    regime: str
    assets: dict[Asset, AssetPlan]
    fallback_reason: str | None = None

    def to_doc(self) -> dict[str, Any]:
        """The stored form, JSON-ready; :meth:`from_doc` reads it."""
        return {
            "day": self.day.isoformat(),
            "planner": self.planner,
            "regime": self.regime,
            "fallback_reason": self.fallback_reason,
            "assets": {
                a.value: {
                    "enabled": p.enabled,
                    "strategies": [{"name": s.name, "params": s.params} for s in p.strategies],
                    "risk": p.risk.to_doc(),
                    "note": p.note,
                    "contract": p.contract,
                    "min_agreement": p.min_agreement,
                    **({"structure": p.structure} if p.structure is not None else {}),
                }
                for a, p in self.assets.items()
            },
        }

    @staticmethod
    def from_doc(d: dict[str, Any]) -> Plan:
        """The plan a :meth:`to_doc` stored (KeyError for a missing required field). It is not validated
        here: see :func:`validate`."""
        assets = {
            Asset(k): AssetPlan(
                asset=Asset(k),
                enabled=bool(v["enabled"]),
                strategies=tuple(
                    StrategyChoice(s["name"], dict(s.get("params", {}))) for s in v["strategies"]
                ),
                risk=RiskLimits.from_doc(v["risk"]),
                note=v.get("note", ""),
                contract=dict(v.get("contract", {})),
                min_agreement=int(v.get("min_agreement", 1)),
                structure=v.get("structure"),
            )
            for k, v in d["assets"].items()
        }
        return Plan(date.fromisoformat(d["day"]), d["planner"], d["regime"], assets, d.get("fallback_reason"))


@dataclass(frozen=True)
class PlanContext:
    """What a planner knows before the open: the index's recent daily bars and the configured envelope."""

    day: date
    index_history: list[DailyBar]
    envelope: dict[Asset, RiskLimits]
    enabled: dict[Asset, bool]


def validate(plan: Plan, context: PlanContext) -> list[str]:
    """Every way the plan leaves its bounds (empty when it is valid)."""
    problems = []
    for asset, ap in plan.assets.items():
        env = context.envelope.get(asset)
        if env is None:
            problems.append(f"{asset}: not a configured asset")
            continue
        for s in ap.strategies:
            if s.name not in REGISTRY:
                problems.append(f"{asset}: unknown strategy {s.name!r}")
                continue
            try:
                REGISTRY[s.name].resolve(s.params)
            except ValueError as e:
                problems.append(f"{asset}: {e}")
        if not 1 <= ap.min_agreement <= max(1, len(ap.strategies)):
            problems.append(
                f"{asset}: min_agreement {ap.min_agreement} must be between 1 and the number of strategies "
                f"({len(ap.strategies)})"
            )
        if ap.structure is not None:
            try:
                ap.structure_spec()
            except (ValueError, TypeError, AttributeError) as e:
                problems.append(f"{asset}: structure: {e}")
        try:
            ContractRules.from_doc(ap.contract)
        except (ValueError, TypeError) as e:
            problems.append(f"{asset}: contract: {e}")
        r = ap.risk
        for name in (
            "daily_loss_limit",
            "daily_loss_limit_pct",
            "max_trades_per_day",
            "max_trades_per_symbol",
            "max_open_positions",
            "risk_per_trade_pct",
            "max_position_pct",
            "max_sector_pct",
            "loss_budget_pct",
            "mis_leverage",
            "capital",
        ):
            if getattr(r, name) > getattr(env, name):
                problems.append(
                    f"{asset}: {name} {getattr(r, name)} above the configured {getattr(env, name)}"
                )
        if r.futures_margin_pct < env.futures_margin_pct or r.min_position_pct < env.min_position_pct:
            problems.append(
                f"{asset}: futures_margin_pct and min_position_pct may not go below the configured"
            )
        if r.account != env.account or (env.kelly and not r.kelly):
            problems.append(f"{asset}: account_capital and kelly are configuration, not the planner's choice")
        if r.entry_cutoff > env.entry_cutoff:
            problems.append(
                f"{asset}: entry_cutoff {r.entry_cutoff} later than the configured {env.entry_cutoff}"
            )
        if r.min_confidence < env.min_confidence:
            problems.append(
                f"{asset}: min_confidence {r.min_confidence} below the configured {env.min_confidence}"
            )
    return problems
