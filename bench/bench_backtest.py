"""EMA(9/21) crossover over one year of 1-minute bars (250 sessions × 375 = 93,750 bars): TRON's peer mode,
backtesting.py and backtrader in the same run, on the same data, with the same rules — long-only, all-in
whole shares, next-bar-open fills, no costs. Asserts that all three make the same trades, prints the wall
times and the ratios.

The bars are a seeded random walk (deterministic). Every engine gets an EMA seeded with the SMA of the first
n closes (TA-Lib's convention): TRON its own (tron.domain.indicators), backtesting.py TA-Lib's ``EMA``,
backtrader its built-in ``EMA``; crosses are strict on both bars (backtesting.py's ``crossover``).
backtrader decides in ``next_open`` on the bars that just closed (cheat-on-open), so its market orders fill
at the open of the next bar with a size computed from that open, as the other two do.

Timed: the backtest call only (data preparation excluded, the same for all). Each engine runs
``--repeat`` times (backtrader once: it is slow) and the best time counts.
Run: make bench   (or .venv/bin/python bench/bench_backtest.py [--repeat 3])"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from tron.backtest.data import Bars
from tron.backtest.peer import run_peer
from tron.domain.timeutil import IST

SESSIONS, MINUTES = 250, 375
CASH = 1_000_000.0
FAST, SLOW = 9, 21
EPS = sys.float_info.epsilon


def make_bars(seed: int = 2026) -> tuple[Bars, pd.DataFrame]:
    """93,750 one-minute bars, weekdays from 2025-01-01, 09:15–15:29 IST; a random walk around ₹1,000."""
    rng = np.random.default_rng(seed)
    n = SESSIONS * MINUTES
    close = np.round(1000 * np.exp(np.cumsum(rng.normal(0, 0.0009, n))), 2)
    gap = np.exp(rng.normal(0, 0.0002, n))
    opens = np.round(np.concatenate([[1000.0], close[:-1]]) * gap, 2)
    wick = np.abs(rng.normal(0, 0.0004, (2, n)))
    high = np.round(np.maximum(opens, close) * (1 + wick[0]), 2)
    low = np.round(np.minimum(opens, close) * (1 - wick[1]), 2)
    volume = rng.integers(1_000, 50_000, n).astype(float)
    days, d = [], date(2025, 1, 1)
    while len(days) < SESSIONS:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    times = [
        datetime(day.year, day.month, day.day, 9, 15, tzinfo=IST) + timedelta(minutes=m)
        for day in days
        for m in range(MINUTES)
    ]
    bars = Bars("RWALK", times, opens, high, low, close, volume)
    frame = pd.DataFrame(
        {"Open": opens, "High": high, "Low": low, "Close": close, "Volume": volume},
        index=pd.DatetimeIndex([t.replace(tzinfo=None) for t in times]),
    )
    return bars, frame


def best(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


# ----------------------------------------------------------------------------------------------- TRON
def run_tron(bars: Bars) -> list[tuple]:
    r = run_peer(bars, "ema_cross", {"fast": FAST, "slow": SLOW}, Decimal(int(CASH)))
    return [
        (t.entry_bar, t.exit_bar, float(t.entry_price), float(t.exit_price), t.qty)
        for t in r.trades
        if t.closed
    ]


# ------------------------------------------------------------------------------------- backtesting.py
def run_backtesting_py(frame: pd.DataFrame) -> list[tuple]:
    import talib
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    class EmaCross(Strategy):
        def init(self) -> None:
            self.fast = self.I(talib.EMA, self.data.Close, FAST)
            self.slow = self.I(talib.EMA, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(
            frame, EmaCross, cash=CASH, commission=0, trade_on_close=False, exclusive_orders=True
        ).run()
    t = stats._trades
    return list(zip(t.EntryBar, t.ExitBar, t.EntryPrice, t.ExitPrice, (int(x) for x in t.Size), strict=True))


# ------------------------------------------------------------------------------------------ backtrader
def run_backtrader(frame: pd.DataFrame) -> list[tuple]:
    import backtrader as bt

    class EmaCross(bt.Strategy):
        def __init__(self) -> None:
            self.fast = bt.ind.EMA(self.data.close, period=FAST)
            self.slow = bt.ind.EMA(self.data.close, period=SLOW)
            self.fills: list[tuple[int, float, int]] = []

        def next_open(self) -> None:
            # In next_open the indicators still end at the bar that just closed: [0] is that bar.
            if len(self) < SLOW + 1:
                return
            f1, s1, f2, s2 = self.fast[0], self.slow[0], self.fast[-1], self.slow[-1]
            if f2 < s2 and f1 > s1 and not self.position:
                size = int((self.broker.getcash() * (1 - EPS)) // self.data.open[0])
                if size >= 1:
                    self.buy(size=size)
            elif s2 < f2 and s1 > f1 and self.position:
                self.close()

        def notify_order(self, order) -> None:  # type: ignore[no-untyped-def]
            if order.status == order.Completed:
                self.fills.append((len(self) - 1, round(order.executed.price, 2), int(order.executed.size)))

    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(EmaCross)
    cerebro.broker.setcash(CASH)
    strat = cerebro.run()[0]
    fills = strat.fills
    return [
        (fin[0], fout[0], fin[1], fout[1], fin[2])
        for fin, fout in zip(fills[::2], fills[1::2], strict=False)
        if fout[2] == -fin[2]
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-backtrader", action="store_true")
    args = ap.parse_args()
    bars, frame = make_bars()
    print(f"EMA({FAST}/{SLOW}) crossover, {len(bars):,} one-minute bars, all-in long-only, next-open fills")
    t_tron, ours = best(lambda: run_tron(bars), args.repeat)
    t_bpy, theirs = best(lambda: run_backtesting_py(frame), args.repeat)
    rows = [("tron (peer mode)", t_tron, ours), ("backtesting.py 0.6.6", t_bpy, theirs)]
    if not args.skip_backtrader:
        t_btr, btr = best(lambda: run_backtrader(frame), 1)
        rows.append(("backtrader 1.9.78", t_btr, btr))
    from tron.domain import indicators as ind

    t_ema, _ = best(lambda: (ind.ema(bars.close, FAST), ind.ema(bars.close, SLOW)), args.repeat)
    print(f"{'engine':<22} {'wall s':>8} {'trades':>7} {'vs tron':>8}")
    for name, t, trades in rows:
        print(f"{name:<22} {t:8.3f} {len(trades):7d} {t / t_tron:7.1f}x")
    print(f"(tron's time includes {t_ema:.3f} s for the two EMAs of tron.domain.indicators)")
    ok = True
    for name, _, trades in rows[1:]:
        same = trades == ours
        ok &= same
        print(f"same trades as {name}: {same}")
        if not same:
            diff = next(i for i, (a, b) in enumerate(zip(ours, trades, strict=False)) if a != b)
            print(f"  first difference at trade {diff}: tron {ours[diff]} vs {trades[diff]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
