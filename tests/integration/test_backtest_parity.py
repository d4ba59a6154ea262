"""Peer mode against backtesting.py itself, on its bundled GOOG data: the same SMA(10, 20) long-only
crossover gives the same trades (entry/exit bars, prices, sizes) and the same final equity to the cent."""

from __future__ import annotations

import warnings
from datetime import datetime
from decimal import Decimal

import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG, SMA

from tron.backtest.data import Bars
from tron.backtest.metrics import summarize
from tron.backtest.peer import run_peer
from tron.domain.timeutil import IST

CASH = 10_000


class SmaCross(Strategy):
    """Long-only: buy all-in on the fast SMA crossing above the slow one, close on the cross below."""

    n1 = 10
    n2 = 20

    def init(self) -> None:
        self.fast = self.I(SMA, self.data.Close, self.n1)
        self.slow = self.I(SMA, self.data.Close, self.n2)

    def next(self) -> None:
        if crossover(self.fast, self.slow):
            self.buy()  # size 1 − ε of equity: whole shares, all-in
        elif crossover(self.slow, self.fast):
            self.position.close()


def goog_bars() -> Bars:
    times = [datetime(t.year, t.month, t.day, 15, 30, tzinfo=IST) for t in GOOG.index]
    return Bars(
        "GOOG",
        times,
        GOOG.Open.values,
        GOOG.High.values,
        GOOG.Low.values,
        GOOG.Close.values,
        GOOG.Volume.values,
    )


@pytest.fixture(scope="module")
def both():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": expected, compared below
        stats = Backtest(
            GOOG,
            SmaCross,
            cash=CASH,
            commission=0,
            trade_on_close=False,
            exclusive_orders=True,
            hedging=False,
            finalize_trades=False,
        ).run()
    ours = run_peer(goog_bars(), "sma_cross", {"fast": 10, "slow": 20}, Decimal(CASH))
    return stats, ours


def test_same_trades(both) -> None:
    stats, ours = both
    theirs = stats._trades
    closed = [t for t in ours.trades if t.closed]
    assert len(closed) == stats["# Trades"] == len(theirs) > 30
    assert [t.entry_bar for t in closed] == list(theirs.EntryBar)
    assert [t.exit_bar for t in closed] == list(theirs.ExitBar)
    assert [t.qty for t in closed] == list(theirs.Size)
    assert [float(t.entry_price) for t in closed] == list(theirs.EntryPrice)
    assert [float(t.exit_price) for t in closed] == list(theirs.ExitPrice)
    assert [round(float(t.pnl), 2) for t in closed] == [round(x, 2) for x in theirs.PnL]


def test_same_final_equity_to_the_cent(both) -> None:
    stats, ours = both
    assert ours.final_equity.quantize(Decimal("0.01")) == Decimal(f"{stats['Equity Final [$]']:.2f}")
    assert summarize(ours)["final_equity"] == f"{stats['Equity Final [$]']:.2f}"


def test_same_equity_curve(both) -> None:
    stats, ours = both
    curve = stats._equity_curve.Equity.to_numpy()
    assert len(curve) == len(ours.equity)
    assert abs(curve - ours.equity).max() < 1e-6


def test_same_drawdown_and_return(both) -> None:
    stats, ours = both
    s = summarize(ours)
    assert s["max_drawdown_pct"] == pytest.approx(stats["Max. Drawdown [%]"] * -1, abs=1e-6)
    assert s["total_return_pct"] == pytest.approx(stats["Return [%]"], abs=1e-6)
