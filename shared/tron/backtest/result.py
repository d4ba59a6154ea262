"""What a backtest produces, in either mode: the equity curve, the trades and the orders behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np


@dataclass
class Trade:
    """One round trip. ``pnl`` is net of its charges; an open trade at the end of the data has no exit."""

    symbol: str
    direction: str  # long | short
    qty: int
    entry_time: datetime
    entry_price: Decimal
    entry_bar: int
    exit_time: datetime | None = None
    exit_price: Decimal | None = None
    exit_bar: int | None = None
    pnl: Decimal = Decimal("0")
    charges: Decimal = Decimal("0")
    strategy: str = ""
    exit_reason: str = ""

    @property
    def closed(self) -> bool:
        """True once the trade has an exit."""
        return self.exit_time is not None

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (times ISO, money as strings, None for a missing exit)."""
        return {
            "symbol": self.symbol,
            "direction": self.direction,
            "qty": self.qty,
            "entry_time": self.entry_time.isoformat(),
            "entry_price": str(self.entry_price),
            "entry_bar": self.entry_bar,
            "exit_time": self.exit_time.isoformat() if self.exit_time else None,
            "exit_price": None if self.exit_price is None else str(self.exit_price),
            "exit_bar": self.exit_bar,
            "pnl": str(self.pnl),
            "charges": str(self.charges),
            "strategy": self.strategy,
            "exit_reason": self.exit_reason,
        }


@dataclass
class PriceSeries:
    """Closes of one symbol at the equity curve's bars (for the report's price chart)."""

    symbol: str
    bars: np.ndarray  # int indices into the equity curve
    close: np.ndarray


@dataclass
class BacktestResult:
    """One backtest run: the equity curve (one value per bar, marked at the bar's close), which bars held a
    position, the trades, and in intraday mode the intents and fills behind them, plus the run's settings."""

    mode: str  # intraday | peer
    strategy: str
    params: dict[str, float]
    capital: Decimal
    times: list[datetime]  # one per bar (snapshot) of the equity curve
    equity: np.ndarray  # float rupees, marked to market at each bar's close
    exposed: np.ndarray  # bool per bar: a position was open at some moment of the bar
    final_equity: Decimal
    trades: list[Trade] = field(default_factory=list)
    intents: list[Any] = field(default_factory=list)  # OrderIntent, in decision order (intraday)
    fills: list[dict[str, Any]] = field(default_factory=list)
    prices: list[PriceSeries] = field(default_factory=list)
    refusals: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
