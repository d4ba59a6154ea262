"""tron.services.stats: the strategy statistics roll up once per day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.support.days import embedded_deps
from tron.domain.models import Asset
from tron.domain.sizing import StrategyStats

DAY = date(2026, 11, 23)


def test_strategy_statistics_roll_up_once_per_day(tmp_path) -> None:
    from tron.services.stats import roll_up_stats

    deps = embedded_deps(tmp_path)
    prev = "2026-11-20"  # the trading day before 2026-11-23

    def put(
        iid: str, side: str, purpose: str, at_: str, realized: str, charges: str, asset: str = "stocks"
    ) -> None:
        deps.store.set(
            f"days/{prev}/intents/{iid}",
            {
                "intent_id": iid, "asset": asset, "symbol": "A", "side": side, "purpose": purpose,
                "strategy": "orb", "state": "filled",
                "fill": {"qty": 10, "at": at_, "realized": realized, "charges": {"total": charges}},
            },
        )  # fmt: skip

    put("1", "BUY", "entry", f"{prev}T10:00:00+05:30", "0", "10")
    put("2", "SELL", "exit", f"{prev}T11:00:00+05:30", "500", "10")
    put("3", "BUY", "entry", f"{prev}T10:00:00+05:30", "0", "10", asset="futures")  # another asset's
    roll_up_stats(deps, Asset.STOCKS, DAY)
    roll_up_stats(deps, Asset.STOCKS, DAY)  # idempotent: the day is folded once
    doc = deps.store.get("stats/stocks")
    assert doc["days"] == [prev]
    assert StrategyStats.from_doc(doc["strategies"]["orb"]) == StrategyStats(
        1, 1, Decimal("480"), Decimal("0")
    )
