"""The risk governor: limits on entries. Exits are never blocked.

The daily loss check is worst-case: realised net P&L, minus what every open position loses if its stop is
hit, minus what the candidate loses at its stop (charges included), must stay above the limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal

from tron.domain.money import D
from tron.domain.timeutil import parse_hhmm


@dataclass(frozen=True)
class RiskLimits:
    capital: Decimal = Decimal("1000000")
    daily_loss_limit: Decimal = Decimal("5000")  # rupees
    daily_loss_limit_pct: Decimal = Decimal("1.0")  # of capital; the smaller of the two applies
    max_trades_per_day: int = 40
    max_trades_per_symbol: int = 2
    max_open_positions: int = 10
    risk_per_trade_pct: Decimal = Decimal("0.25")
    max_position_pct: Decimal = Decimal("15")
    min_confidence: float = 0.5
    entry_cutoff: time = time(15, 0)

    @property
    def loss_limit(self) -> Decimal:
        return min(self.daily_loss_limit, self.capital * self.daily_loss_limit_pct / 100)

    def to_doc(self) -> dict[str, object]:
        return {
            "capital": str(self.capital),
            "daily_loss_limit": str(self.daily_loss_limit),
            "daily_loss_limit_pct": str(self.daily_loss_limit_pct),
            "max_trades_per_day": self.max_trades_per_day,
            "max_trades_per_symbol": self.max_trades_per_symbol,
            "max_open_positions": self.max_open_positions,
            "risk_per_trade_pct": str(self.risk_per_trade_pct),
            "max_position_pct": str(self.max_position_pct),
            "min_confidence": self.min_confidence,
            "entry_cutoff": self.entry_cutoff.strftime("%H:%M"),
        }

    @staticmethod
    def from_doc(d: dict[str, object]) -> RiskLimits:
        return RiskLimits(
            capital=D(str(d["capital"])),
            daily_loss_limit=D(str(d["daily_loss_limit"])),
            daily_loss_limit_pct=D(str(d["daily_loss_limit_pct"])),
            max_trades_per_day=int(d["max_trades_per_day"]),  # type: ignore[arg-type]
            max_trades_per_symbol=int(d["max_trades_per_symbol"]),  # type: ignore[arg-type]
            max_open_positions=int(d["max_open_positions"]),  # type: ignore[arg-type]
            risk_per_trade_pct=D(str(d["risk_per_trade_pct"])),
            max_position_pct=D(str(d["max_position_pct"])),
            min_confidence=float(d["min_confidence"]),  # type: ignore[arg-type]
            entry_cutoff=parse_hhmm(str(d["entry_cutoff"])),
        )


@dataclass
class Exposure:
    """What the governor needs to know about the day so far (from the book and pending intents)."""

    realized_net: Decimal = Decimal("0")
    open_worst_loss: Decimal = Decimal("0")  # Σ loss at stop over open positions and pending entries
    open_positions: int = 0  # open positions plus pending entries
    entries_today: int = 0
    entries_by_symbol: dict[str, int] = field(default_factory=dict)
    symbols_busy: set[str] = field(default_factory=set)  # open or with an order in flight


def entry_refusal(
    limits: RiskLimits,
    exposure: Exposure,
    *,
    symbol: str,
    confidence: float,
    worst_loss: Decimal,
    at: time,
    halted: str | None,
) -> str | None:
    """Why this entry may not be placed, or None if it may."""
    if halted:
        return f"entries halted: {halted}"
    if at >= limits.entry_cutoff:
        return f"after the entry cut-off {limits.entry_cutoff:%H:%M}"
    if confidence < limits.min_confidence:
        return f"confidence {confidence:.2f} below {limits.min_confidence:.2f}"
    if symbol in exposure.symbols_busy:
        return "symbol already has a position or an order in flight"
    if exposure.entries_today >= limits.max_trades_per_day:
        return f"trades per day at {limits.max_trades_per_day}"
    if exposure.entries_by_symbol.get(symbol, 0) >= limits.max_trades_per_symbol:
        return f"trades on {symbol} at {limits.max_trades_per_symbol}"
    if exposure.open_positions >= limits.max_open_positions:
        return f"open positions at {limits.max_open_positions}"
    if exposure.realized_net - exposure.open_worst_loss - worst_loss < -limits.loss_limit:
        return f"worst case would breach the daily loss limit ₹{limits.loss_limit}"
    return None


def loss_limit_breached(limits: RiskLimits, net_pnl: Decimal) -> bool:
    return net_pnl <= -limits.loss_limit
