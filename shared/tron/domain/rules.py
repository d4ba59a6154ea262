"""The rule planner: the index's recent days → a market regime → strategies and parameters per asset."""

from __future__ import annotations

import dataclasses
import itertools

from tron.domain.models import Asset, DailyBar
from tron.domain.plan import AssetPlan, Plan, PlanContext, StrategyChoice


def regime(history: list[DailyBar]) -> str:
    """trending | ranging | volatile, from the last 10 sessions of the index.

    volatile: the average daily range is above 1.6% of the close; trending: the efficiency ratio of closes
    (net move over the sum of absolute moves) is above 0.45; otherwise ranging."""
    bars = history[-10:]
    if len(bars) < 3:
        return "ranging"
    avg_range = sum((b.high - b.low) / b.close for b in bars) / len(bars)
    if avg_range > 0.016:
        return "volatile"
    closes = [b.close for b in bars]
    path = sum(abs(b - a) for a, b in itertools.pairwise(closes))
    er = abs(closes[-1] - closes[0]) / path if path else 0.0
    return "trending" if er > 0.45 else "ranging"


CHOICES: dict[str, tuple[StrategyChoice, ...]] = {
    "trending": (StrategyChoice("orb", {"range_minutes": 15, "volume_mult": 1.2}), StrategyChoice("vwap")),
    "ranging": (StrategyChoice("vwap", {"band_pct": 0.1}), StrategyChoice("orb", {"buffer_pct": 0.15})),
    "volatile": (StrategyChoice("orb", {"range_minutes": 30, "buffer_pct": 0.2, "volume_mult": 1.5}),),
}


def rule_plan(ctx: PlanContext) -> Plan:
    r = regime(ctx.index_history)
    assets = {}
    for asset, env in ctx.envelope.items():
        risk = env
        if r == "volatile":  # smaller bets on wild days
            risk = dataclasses.replace(env, risk_per_trade_pct=env.risk_per_trade_pct / 2)
        chosen = CHOICES[r] if asset is Asset.STOCKS else ()
        assets[asset] = AssetPlan(
            asset,
            ctx.enabled.get(asset, False) and bool(chosen),
            chosen,
            risk,
            note=f"{r} regime" if chosen else "no strategy for this asset yet",
        )
    return Plan(ctx.day, "rules", r, assets)
