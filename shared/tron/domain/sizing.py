"""Position sizing: risk per trade over the stop distance, capped by position size, the asset's unused
capital and the loss headroom; always whole lots. Optionally the risk per trade is lowered to half-Kelly
from a strategy's realised statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


def size_by_risk(
    *,
    capital: Decimal,
    risk_per_trade_pct: Decimal,
    max_position_pct: Decimal,
    price: float,
    stop_distance: float,
    lot_size: int = 1,
    headroom: Decimal | None = None,
    unit_exposure: float | None = None,
    room: Decimal | None = None,
    slippage: float = 0.0,
) -> int:
    """Whole lots such that a stop-out loses at most risk_per_trade (and, with `slippage` rupees per unit
    beyond the stop, at most the headroom left under the daily loss limit), and the position's exposure is
    at most max_position_pct of capital and at most the room left in the asset's allocation. unit_exposure
    is what one unit uses of capital (the price for equity, the margin for a future, the premium for an
    option; default the price). 0 means no trade."""
    if price <= 0 or stop_distance <= 0 or lot_size <= 0:
        return 0
    per_unit = price if unit_exposure is None else unit_exposure
    if per_unit <= 0:
        return 0
    by_risk = math.floor(float(capital * risk_per_trade_pct / 100) / stop_distance)
    if headroom is not None:
        by_risk = min(by_risk, math.floor(float(headroom) / (stop_distance + max(slippage, 0.0))))
    if by_risk <= 0:
        return 0
    size_budget = float(capital * max_position_pct / 100)
    if room is not None:
        size_budget = min(size_budget, float(room))
    by_size = math.floor(max(size_budget, 0.0) / per_unit)
    qty = min(by_risk, by_size)
    return (qty // lot_size) * lot_size


@dataclass(frozen=True)
class StrategyStats:
    """A strategy's closed trades so far (net of charges): the inputs of the Kelly fraction."""

    trades: int = 0
    wins: int = 0
    win_sum: Decimal = Decimal("0")  # Σ net of the winners
    loss_sum: Decimal = Decimal("0")  # Σ |net| of the losers

    @property
    def win_rate(self) -> float:
        """Winners over trades (0 with no trades)."""
        return self.wins / self.trades if self.trades else 0.0

    @property
    def payoff(self) -> float:
        """Average win over average loss (inf with no losses, 0 with no wins)."""
        losses = self.trades - self.wins
        if self.wins == 0:
            return 0.0
        if losses == 0 or self.loss_sum == 0:
            return math.inf
        return float(self.win_sum / self.wins) / float(self.loss_sum / losses)

    def add(self, net: Decimal) -> StrategyStats:
        """The statistics with one more closed trade of net P&L ``net`` (a win when positive)."""
        if net > 0:
            return StrategyStats(self.trades + 1, self.wins + 1, self.win_sum + net, self.loss_sum)
        return StrategyStats(self.trades + 1, self.wins, self.win_sum, self.loss_sum - net)

    def to_doc(self) -> dict[str, object]:
        """The stored form (sums as strings)."""
        return {
            "trades": self.trades,
            "wins": self.wins,
            "win_sum": str(self.win_sum),
            "loss_sum": str(self.loss_sum),
        }

    @staticmethod
    def from_doc(d: dict[str, object]) -> StrategyStats:
        """The statistics a :meth:`to_doc` stored; missing fields count 0."""
        return StrategyStats(
            int(d.get("trades", 0)),  # type: ignore[call-overload]
            int(d.get("wins", 0)),  # type: ignore[call-overload]
            Decimal(str(d.get("win_sum", "0"))),
            Decimal(str(d.get("loss_sum", "0"))),
        )


def half_kelly_pct(stats: StrategyStats) -> Decimal:
    """Half the Kelly fraction W − (1 − W)/R as % of capital (≤ 0 means the strategy has no edge)."""
    w, r = stats.win_rate, stats.payoff
    if r == 0:
        return Decimal("0") if w == 0 else Decimal("-100")
    f = w - (1 - w) / r if math.isfinite(r) else w
    return Decimal(repr(round(f / 2 * 100, 4)))


def risk_pct_with_kelly(
    risk_per_trade_pct: Decimal, stats: StrategyStats | None, enabled: bool, min_trades: int
) -> tuple[Decimal, str | None]:
    """The risk per trade to size with, and a note when half-Kelly lowered it (capped by the configured
    risk; never raised). Without enough trades the configured risk applies."""
    if not enabled or stats is None or stats.trades < min_trades:
        return risk_per_trade_pct, None
    k = half_kelly_pct(stats)
    if k >= risk_per_trade_pct:
        return risk_per_trade_pct, None
    return max(k, Decimal("0")), (
        f"half-Kelly {k}% (win rate {stats.win_rate:.2f}, payoff {stats.payoff:.2f} over {stats.trades} trades)"
    )


def closed_trades(fills: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
    """(strategy, net P&L after both orders' charges) of each round trip in a day's filled intent
    documents (the executor's records: side, qty, purpose, strategy, fill{at, realized, charges{total}})."""
    out: list[tuple[str, Decimal]] = []
    open_qty: dict[str, int] = {}
    acc: dict[str, Decimal] = {}
    strat: dict[str, str] = {}
    for d in sorted(fills, key=lambda d: (d["fill"]["at"], d["intent_id"])):
        s = d["symbol"]
        signed = int(d["fill"]["qty"]) * (1 if d["side"] == "BUY" else -1)
        if open_qty.get(s, 0) == 0:
            acc[s], strat[s] = Decimal("0"), d["strategy"]
        acc[s] += Decimal(str(d["fill"].get("realized", "0"))) - Decimal(str(d["fill"]["charges"]["total"]))
        open_qty[s] = open_qty.get(s, 0) + signed
        if open_qty[s] == 0:
            out.append((strat[s], acc.pop(s)))
    return out
