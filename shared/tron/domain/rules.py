"""The rule planner: the index's recent days → a market regime → strategies and parameters per asset."""

from __future__ import annotations

import dataclasses

from tron.domain.models import Asset, DailyBar
from tron.domain.plan import AssetPlan, Plan, PlanContext, StrategyChoice
from tron.domain.regime import daily as daily_regime


def regime(history: list[DailyBar]) -> str:
    """trending | ranging | volatile, from the last 10 sessions of the index (tron.domain.regime.daily:
    volatile above a 1.6% average true range, trending above a 0.45 efficiency ratio, otherwise ranging)."""
    return daily_regime(history).name


# Stocks per regime: follow a trend (breakouts, crossovers, momentum); fade the edges of a range (RSI,
# Bollinger, range reversal, VWAP); on volatile days only breakouts with strong confirmation.
CHOICES: dict[str, tuple[StrategyChoice, ...]] = {
    "trending": (
        StrategyChoice("orb", {"range_minutes": 15, "volume_mult": 1.2}),
        StrategyChoice("vwap"),
        StrategyChoice("ema_cross", {"fast": 9, "slow": 21}),
        StrategyChoice("macd"),
        StrategyChoice("momentum"),
    ),
    "ranging": (
        StrategyChoice("vwap", {"band_pct": 0.1}),
        StrategyChoice("rsi", {"period": 7, "oversold": 25, "overbought": 75}),
        StrategyChoice("bollinger", {"period": 20, "num_std": 2.0}),
        StrategyChoice("range_reversal"),
    ),
    "volatile": (
        StrategyChoice("orb", {"range_minutes": 30, "buffer_pct": 0.2, "volume_mult": 1.5}),
        StrategyChoice("volume_breakout", {"lookback": 30, "volume_mult": 2.0}),
    ),
}


# NIFTY futures trade these on the future's own bars; options buy calls or puts when they signal on the
# underlying (the near future stands in for the index, which has no volume).
FNO_CHOICES: dict[str, tuple[StrategyChoice, ...]] = {
    "trending": (StrategyChoice("orb", {"range_minutes": 15, "volume_mult": 1.0}), StrategyChoice("vwap")),
    "ranging": (StrategyChoice("vwap", {"band_pct": 0.03}), StrategyChoice("orb", {"buffer_pct": 0.05})),
    "volatile": (StrategyChoice("orb", {"range_minutes": 30, "buffer_pct": 0.1, "volume_mult": 1.2}),),
}

# Which contract: roll the future two trading days before expiry; options one strike out of the money on a
# trending day, at the money when ranging, a 35-delta option when volatile (cheaper, less vega).
CONTRACT: dict[str, dict[str, object]] = {
    "trending": {"roll_days": 2, "strike": "otm", "otm_steps": 1},
    "ranging": {"roll_days": 2, "strike": "atm"},
    "volatile": {"roll_days": 2, "strike": "delta", "target_delta": 0.35},
}


def rule_plan(ctx: PlanContext) -> Plan:
    """The rules' plan: the index's regime (:func:`regime`) picks each asset's strategies (``CHOICES`` for
    stocks, ``FNO_CHOICES`` for F&O) and F&O contract rules (``CONTRACT``); the risk limits are the
    configured envelope, with half the risk per trade on a volatile day. An asset is enabled when the
    configuration enables it and it has a strategy."""
    r = regime(ctx.index_history)
    assets = {}
    for asset, env in ctx.envelope.items():
        risk = env
        if r == "volatile":  # smaller bets on wild days
            risk = dataclasses.replace(env, risk_per_trade_pct=env.risk_per_trade_pct / 2)
        chosen = CHOICES[r] if asset is Asset.STOCKS else FNO_CHOICES[r]
        assets[asset] = AssetPlan(
            asset,
            ctx.enabled.get(asset, False) and bool(chosen),
            chosen,
            risk,
            note=f"{r} regime" if chosen else "no strategy for this asset yet",
            contract={} if asset is Asset.STOCKS else dict(CONTRACT[r]),
        )
    return Plan(ctx.day, "rules", r, assets)
