"""Per-strategy statistics of closed trades (stats/{asset}), folded in once a day; half-Kelly sizing reads
them."""

from __future__ import annotations

from datetime import date

from tron.domain.models import Asset, IntentState
from tron.domain.sizing import StrategyStats, closed_trades
from tron.services.deps import Deps
from tron.services.paths import intents_path, stats_path


def roll_up_stats(deps: Deps, asset: Asset, day: date) -> None:
    """At a day's first tick: fold the previous trading day's closed trades in (if the end of day did not)."""
    fold_day_stats(deps, asset, deps.calendar.previous_trading_day(day).isoformat())


def fold_day_stats(deps: Deps, asset: Asset, prev: str) -> None:
    """Fold a day's closed trades into stats/{asset} (per strategy: trades, wins, sums of wins and losses);
    half-Kelly sizing reads them. Idempotent: each day is folded once (end_of_day may call it too)."""
    path = stats_path(asset)
    doc = deps.store.get(path) or {"days": [], "strategies": {}}
    if prev in doc["days"]:
        return
    fills = [
        d
        for _, d in deps.store.list(intents_path(prev))
        if d.get("state") == IntentState.FILLED and d.get("asset") == asset.value and "fill" in d
    ]
    stats = {k: StrategyStats.from_doc(v) for k, v in doc["strategies"].items()}
    for strategy, net in closed_trades(fills):
        stats[strategy] = stats.get(strategy, StrategyStats()).add(net)
    deps.store.set(
        path,
        {"days": [*doc["days"], prev][-400:], "strategies": {k: v.to_doc() for k, v in stats.items()}},
    )
