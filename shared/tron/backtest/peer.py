"""Peer-comparison mode: the conventions of backtesting.py, so a strategy can be checked against it
(:func:`run_peer`, with the moving-average crossovers in ``STRATEGIES``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from tron.backtest.data import Bars
from tron.backtest.result import BacktestResult, PriceSeries, Trade
from tron.domain import indicators as ind
from tron.domain.money import dec

EPS = sys.float_info.epsilon


@dataclass(frozen=True)
class PeerStrategy:
    """A long-only moving-average crossover: its name, a one-line description, the default ``fast`` and
    ``slow`` periods, the average (an indicator from tron.domain.indicators) and its warm-up: the bars from
    the start of the data after which its values no longer depend on where the data starts (checked by
    tron.backtest.bias; it does not delay trading, as backtesting.py's does not)."""

    name: str
    doc: str
    defaults: dict[str, float]
    average: Callable[[np.ndarray, int], np.ndarray]
    warmup: Callable[[dict[str, float]], int]

    def resolve(self, given: dict[str, Any] | None) -> dict[str, float]:
        """The defaults overridden by ``given``; ValueError for an unknown parameter, a period that is not a
        whole number ≥ 1, or ``fast`` not shorter than ``slow``."""
        out = dict(self.defaults)
        for k, v in (given or {}).items():
            if k not in out:
                raise ValueError(f"{self.name}: unknown parameter {k!r}; allowed: {', '.join(out)}")
            out[k] = float(v)
        for k in ("fast", "slow"):
            if out[k] != int(out[k]) or out[k] < 1:
                raise ValueError(f"{self.name}.{k} must be a whole number of bars ≥ 1, got {out[k]:g}")
        if out["fast"] >= out["slow"]:
            raise ValueError(
                f"{self.name}: fast ({out['fast']:g}) must be shorter than slow ({out['slow']:g})"
            )
        return out


def _sma_warmup(p: dict[str, float]) -> int:
    """Both SMAs are exact from bar ``slow - 1``; a crossing reads the bar before too."""
    return int(p["slow"])


def _ema_warmup(p: dict[str, float]) -> int:
    """An EMA never forgets its seed (the SMA of the first n closes), but its weight after m bars is
    (1 - 2/(n+1))^m: below e^-18 (2e-8 of the gap between two seeds) from 10 × (slow + 1) bars on."""
    return 10 * (int(p["slow"]) + 1)


STRATEGIES: dict[str, PeerStrategy] = {
    "sma_cross": PeerStrategy(
        "sma_cross", "long when the fast SMA crosses above the slow one, flat when it crosses below",
        {"fast": 10, "slow": 20}, ind.sma, _sma_warmup,
    ),
    "ema_cross": PeerStrategy(
        "ema_cross", "long when the fast EMA crosses above the slow one, flat when it crosses below",
        {"fast": 9, "slow": 21}, ind.ema, _ema_warmup,
    ),
}  # fmt: skip


def crossings(fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(up, down) booleans per bar, backtesting.py's ``crossover`` in both directions.

    Up at bar i when ``fast[i-1] < slow[i-1] and fast[i] > slow[i]`` (strict on both bars; a NaN warm-up
    value never crosses); down the same with fast and slow swapped. Bar 0 never crosses.
    """
    up = np.zeros(fast.shape, dtype=bool)
    down = np.zeros(fast.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        up[1:] = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
        down[1:] = (slow[:-1] < fast[:-1]) & (slow[1:] > fast[1:])
    return up, down


def run_peer(
    bars: Bars,
    strategy: str = "sma_cross",
    params: dict[str, Any] | None = None,
    capital: Decimal = Decimal(10_000),
) -> BacktestResult:
    """Backtest a ``STRATEGIES`` crossover on one symbol's bars (any bar size) as backtesting.py would.

    * up-cross → buy, down-cross → close the position; the order fills at the next bar's open (no fill for
      a signal on the last bar); no commission, no spread, no slippage, no intraday square-off;
    * all-in with whole shares: ``int(cash × (1 − ε) // open)`` with ε = ``sys.float_info.epsilon``,
      exactly backtesting.py's relative size ``1 − ε``; an up-cross while long closes the trade and opens a
      new one at the same open (backtesting.py's ``exclusive_orders=True``);
    * a trade still open at the end stays open and is marked to market at the last close (backtesting.py's
      default ``finalize_trades=False``); it is listed, but not counted among the closed trades.

    Equity is marked at each bar's close. ValueError for an unknown strategy, bad parameters
    (:meth:`PeerStrategy.resolve`) or a capital that is not positive.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown peer strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    if capital <= 0:
        raise ValueError(f"capital must be positive, got {capital}")
    spec = STRATEGIES[strategy]
    p = spec.resolve(params)
    close, opens, n = bars.close, bars.open, len(bars)
    up, down = crossings(spec.average(close, int(p["fast"])), spec.average(close, int(p["slow"])))

    cash, qty = dec(capital), 0
    trades: list[Trade] = []
    open_trade: Trade | None = None
    change_bar: list[int] = []
    qty_after: list[int] = []
    cash_after: list[float] = []

    def close_at(j: int, price: Decimal) -> None:
        nonlocal cash, qty, open_trade
        assert open_trade is not None
        cash += qty * price
        open_trade.exit_time, open_trade.exit_price, open_trade.exit_bar = bars.times[j], price, j
        open_trade.pnl = qty * (price - open_trade.entry_price)
        trades.append(open_trade)
        open_trade, qty = None, 0

    for i in np.flatnonzero(up | down):
        j = int(i) + 1
        if j >= n:
            break
        price = dec(float(opens[j]))
        if up[i]:
            if open_trade is not None:
                close_at(j, price)
            size = int((float(cash) * (1 - EPS)) // float(opens[j]))
            if size >= 1:
                qty = size
                cash -= qty * price
                open_trade = Trade(bars.symbol, "long", qty, bars.times[j], price, j, strategy=strategy)
        elif open_trade is not None:
            close_at(j, price)
        else:
            continue
        change_bar.append(j)
        qty_after.append(qty)
        cash_after.append(float(cash))

    # Equity at each bar's close: the cash and position after that bar's (opening) fills.
    at = np.searchsorted(np.array(change_bar, dtype=np.int64), np.arange(n), side="right") - 1
    held = np.where(at >= 0, np.array([*qty_after, 0], dtype=np.float64)[at], 0.0)
    cash_curve = np.where(at >= 0, np.array([*cash_after, 0.0])[at], float(capital))
    equity = cash_curve + held * close
    exposed = held > 0
    for t in trades:  # a trade's exit bar counts too (backtesting.py: entry_bar … exit_bar)
        exposed[t.exit_bar] = True
    if open_trade is not None:
        open_trade.pnl = qty * (dec(float(close[-1])) - open_trade.entry_price)
    final = cash + qty * dec(float(close[-1]))
    return BacktestResult(
        mode="peer",
        strategy=strategy,
        params=p,
        capital=dec(capital),
        times=bars.times,
        equity=equity,
        exposed=exposed,
        final_equity=final,
        trades=trades + ([open_trade] if open_trade is not None else []),
        prices=[PriceSeries(bars.symbol, np.arange(n), close)],
        settings={
            "fill": "next-open",
            "charges": "none",
            "sizing": "all-in, whole shares",
            "long_only": True,
        },
    )
