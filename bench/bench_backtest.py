"""EMA(9/21) crossover over one year of 1-minute bars (250 sessions × 375 = 93,750 bars): TRON's peer mode,
backtesting.py and backtrader in the same run, on the same data, with the same rules — long-only, all-in
whole shares, next-bar-open fills, no costs. Asserts that all three make the same trades, prints the wall
times and the ratios.

The bars are a seeded random walk (deterministic). Every engine gets an EMA seeded with the SMA of the first
n closes (TA-Lib's convention): TRON its own (tron.domain.indicators), backtesting.py TA-Lib's ``EMA``,
backtrader its built-in ``EMA``; crosses are strict on both bars (backtesting.py's ``crossover``).
backtrader decides in ``next_open`` on the bars that just closed (cheat-on-open), so its market orders fill
at the open of the next bar with a size computed from that open, as the other two do.

Two comparisons, side by side in one run:

* whole process (what a user waits for): the bars written once to a CSV (``date`` with ``+05:30``, as
  Kite's history), then ``tron backtest --mode peer --strategy ema_cross --json`` and a script that reads
  the same CSV with pandas and runs backtesting.py, each in a fresh Python process: imports, reading and
  parsing the file, the backtest, the metrics and printing included. Both print their trades and final
  equity, which must be identical (to the cent). One untimed run of each first (it writes the bytecode an
  installed package has, and warms the file cache); then ``--repeat`` runs each and the best wall time
  counts; the CPU time (user + system) is printed too, the fairer figure on a busy machine;
* the backtest call only (data preparation excluded, the same for all), in this process: each engine runs
  ``--repeat`` times (backtrader once: it is slow) and the best time counts.

Run: make bench   (or .venv/bin/python bench/bench_backtest.py [--repeat 3] [--skip-process])"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

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


# ------------------------------------------------------------------------------------- whole process
# backtesting.py's whole process: read the CSV with pandas (the offsets give IST times; backtesting.py
# gets them naive, as in run_backtesting_py), run, print the closed trades and the final equity.
BACKTESTING_PY_PROCESS = """
import json, sys, warnings
import pandas as pd
import talib
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

frame = pd.read_csv(sys.argv[1], index_col="date", parse_dates=["date"])
frame.index = frame.index.tz_convert("Asia/Kolkata").tz_localize(None)
frame.columns = [c.capitalize() for c in frame.columns]
fast, slow, cash = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])

class EmaCross(Strategy):
    def init(self):
        self.fast = self.I(talib.EMA, self.data.Close, fast)
        self.slow = self.I(talib.EMA, self.data.Close, slow)

    def next(self):
        if crossover(self.fast, self.slow):
            self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    stats = Backtest(
        frame, EmaCross, cash=cash, commission=0, trade_on_close=False, exclusive_orders=True
    ).run()
t = stats._trades
trades = [
    [int(a), int(b), float(c), float(d), int(e)]
    for a, b, c, d, e in zip(t.EntryBar, t.ExitBar, t.EntryPrice, t.ExitPrice, t.Size, strict=True)
]
print(json.dumps({"trades": trades, "final_equity": float(stats["Equity Final [$]"])}))
"""


def write_csv(bars: Bars, path: Path) -> None:
    """The bars as an OHLCV CSV, times with their offset (``2025-01-01 09:15:00+05:30``)."""
    rows = (
        f"{t.isoformat(sep=' ')},{o!r},{h!r},{lo!r},{c!r},{v!r}"
        for t, o, h, lo, c, v in zip(
            bars.times, *(getattr(bars, k).tolist() for k in ("open", "high", "low", "close", "volume")),
            strict=True,
        )
    )  # fmt: skip
    path.write_text("date,open,high,low,close,volume\n" + "\n".join(rows) + "\n")


def timed_process(cmd: list[str], repeat: int) -> tuple[float, float, str]:
    """(best wall time, its CPU time, the output) of ``repeat`` runs of a command, after one untimed run.
    The child may write bytecode (PYTHONDONTWRITEBYTECODE dropped), as an installed package has it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pid = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
        out = pid.stdout.read() if pid.stdout else b""
        _, status, usage = os.wait4(pid.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{cmd[:4]} failed")
        runs.append((wall, usage.ru_utime + usage.ru_stime, out.decode()))
    return min(runs)


def whole_process(bars: Bars, repeat: int) -> bool:
    """Both engines as a user runs them, each in its own process on the same CSV; True if they agree."""
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "RWALK.csv"
        write_csv(bars, csv)
        size = csv.stat().st_size
        tron_cmd = [
            sys.executable, "-m", "tron.cli", "backtest", "--mode", "peer", "--strategy", "ema_cross",
            "--param", f"fast={FAST}", "--param", f"slow={SLOW}", "--capital", str(int(CASH)),
            "--data", str(csv), "--json",
        ]  # fmt: skip
        bpy_cmd = [sys.executable, "-c", BACKTESTING_PY_PROCESS, str(csv), str(FAST), str(SLOW), str(CASH)]
        t_tron, cpu_tron, out_tron = timed_process(tron_cmd, repeat)
        t_bpy, cpu_bpy, out_bpy = timed_process(bpy_cmd, repeat)
    ours, theirs = json.loads(out_tron), json.loads(out_bpy)
    trades = [
        [t["entry_bar"], t["exit_bar"], float(t["entry_price"]), float(t["exit_price"]), t["qty"]]
        for t in ours["trades_list"]
        if t["exit_bar"] is not None
    ]
    equity_bpy = f"{Decimal(repr(theirs['final_equity'])).quantize(Decimal('0.01'))}"
    print(f"whole process: one CSV of {size / 1e6:.1f} MB, each engine in a fresh Python process")
    print(f"{'engine':<22} {'wall s':>8} {'cpu s':>7} {'trades':>7} {'final equity':>13} {'vs tron':>8}")
    for name, t, cpu, n, eq in (
        ("tron backtest --peer", t_tron, cpu_tron, len(trades), ours["final_equity"]),
        ("backtesting.py 0.6.6", t_bpy, cpu_bpy, len(theirs["trades"]), equity_bpy),
    ):
        print(
            f"{name:<22} {t:8.3f} {cpu:7.3f} {n:7d} {eq:>13} {t / t_tron:7.1f}x  (cpu {cpu / cpu_tron:.1f}x)"
        )
    same = trades == theirs["trades"] and ours["final_equity"] == equity_bpy
    print(f"same trades and final equity: {same}; tron {t_bpy / t_tron:.1f}x faster (issue 18's target: 5x)")
    return same


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
    ap.add_argument("--skip-process", action="store_true", help="only the backtest call, in this process")
    args = ap.parse_args()
    bars, frame = make_bars()
    print(f"EMA({FAST}/{SLOW}) crossover, {len(bars):,} one-minute bars, all-in long-only, next-open fills")
    ok = True
    if not args.skip_process:
        ok &= whole_process(bars, args.repeat)
        print()
    t_tron, ours = best(lambda: run_tron(bars), args.repeat)
    t_bpy, theirs = best(lambda: run_backtesting_py(frame), args.repeat)
    rows = [("tron (peer mode)", t_tron, ours), ("backtesting.py 0.6.6", t_bpy, theirs)]
    if not args.skip_backtrader:
        t_btr, btr = best(lambda: run_backtrader(frame), 1)
        rows.append(("backtrader 1.9.78", t_btr, btr))
    from tron.domain import indicators as ind

    t_ema, _ = best(lambda: (ind.ema(bars.close, FAST), ind.ema(bars.close, SLOW)), args.repeat)
    print(f"{'backtest call only':<22} {'wall s':>8} {'trades':>7} {'vs tron':>8}")
    for name, t, trades in rows:
        print(f"{name:<22} {t:8.3f} {len(trades):7d} {t / t_tron:7.1f}x")
    print(f"(tron's time includes {t_ema:.3f} s for the two EMAs of tron.domain.indicators)")
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
