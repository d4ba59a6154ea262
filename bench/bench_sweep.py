"""A parameter sweep on the local process pool: 16 parameter sets of ``orb`` (range_minutes 10/15/20/30 ×
buffer_pct 0/0.05/0.1/0.2), each a task of tron.backtest.tasks backtesting the same days through the
intraday engine (the live decide(), Zerodha charges), run on 1 worker (in this process) and on 2 workers
(a ``ProcessPoolExecutor``, its start included). Asserts the results are identical and prints the wall
times and their ratio (target ≥ 1.7× on 2 workers). Then the whole `tron optimize` walk-forward on the same
bars (two windows: 16 sets in sample, then the chosen set out of sample), on 1 and 2 workers.

The bars are the seeded simulated market's (tron.sim.market), one CSV per symbol, written once to a temporary
folder; the one-minute load average before and after is printed, since the machine may be shared.
Run: .venv/bin/python bench/bench_sweep.py [--symbols 6] [--days 8] [--repeat 1]"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path

from tron.adapters.calendar import nse_calendar
from tron.backtest.tasks import RunSpec, Task, run_local, start_pool, trading_days
from tron.cli import main
from tron.domain.risk import RiskLimits
from tron.domain.timeutil import ist
from tron.sim.market import MINUTES, MarketGenerator, nifty50

RANGES = (10, 15, 20, 30)
BUFFERS = (0.0, 0.05, 0.1, 0.2)
FIRST_DAY = date(2026, 10, 1)
OPEN = dtime(9, 15)


def write_bars(folder: Path, symbols: int, days: int, seed: int = 7) -> list[date]:
    """The simulator's minute bars of ``days`` trading days from FIRST_DAY, one CSV per symbol."""
    cal = nse_calendar()
    gen = MarketGenerator(nifty50(symbols), cal, seed=seed)
    picked: list[date] = []
    d = FIRST_DAY
    while len(picked) < days:
        if cal.is_trading_day(d):
            picked.append(d)
        d += timedelta(days=1)
    rows: dict[str, list[list[object]]] = {s: [] for s in gen.symbols[:-1]}
    for d in picked:
        data = gen.day(d)
        for k, s in enumerate(data.symbols[:-1]):  # the last is the index
            for m in range(MINUTES):
                t = ist(d, OPEN) + timedelta(minutes=m)
                prices = (round(float(a[k, m]), 2) for a in (data.o, data.h, data.lo, data.c))
                rows[s].append([t.isoformat(), *prices, int(data.v[k, m])])
    for s, r in rows.items():
        with (folder / f"{s}.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["date", "open", "high", "low", "close", "volume"])
            w.writerows(r)
    return picked


def sweep(data: str, days: list[date]) -> list[Task]:
    """One task per parameter set over all the days."""
    spec = RunSpec(data, RiskLimits(capital=Decimal(1_000_000)).to_doc())
    grid = [(r, b) for r in RANGES for b in BUFFERS]
    return [
        Task(i, 0, "train", i, days[0], days[-1], (("orb", {"range_minutes": r, "buffer_pct": b}),), spec)
        for i, (r, b) in enumerate(grid)
    ]


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers, once shut down)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed_sweep(tasks: list[Task], workers: int, repeat: int) -> tuple[float, float, list]:
    """The best wall time of ``repeat`` runs, its CPU time, and the results."""
    best, cpu, out = float("inf"), 0.0, []
    for _ in range(repeat):
        c0, t0 = cpu_seconds(), time.perf_counter()
        if workers == 1:
            out = run_local(tasks, 1)
        else:
            with start_pool(workers) as pool:
                out = run_local(tasks, workers, pool=pool)
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, cpu_seconds() - c0
    return best, cpu, out


def timed_optimize(data: str, workers: int, train: int, test: int) -> tuple[float, dict]:
    argv = [
        "optimize", "--data", data, "--strategy", "orb", "--grid", "range_minutes=" + ",".join(map(str, RANGES)),
        "--grid", "buffer_pct=" + ",".join(map(str, BUFFERS)), "--train", f"{train}d", "--test", f"{test}d",
        "--capital", "1000000", "--workers", str(workers), "--json",
    ]  # fmt: skip
    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = main(argv)
    elapsed = time.perf_counter() - t0
    assert code == 0
    doc = json.loads(buf.getvalue())
    doc.pop("workers")
    return elapsed, doc


def main_() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=6)
    ap.add_argument("--days", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1, help="best of N timings per worker count")
    args = ap.parse_args()
    print(f"cores available: {len(os.sched_getaffinity(0))}; load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        days = write_bars(folder, args.symbols, args.days)
        trading_days(str(folder))  # read once here: the pool's forked workers inherit it
        tasks = sweep(str(folder), days)
        print(
            f"sweep: {len(tasks)} parameter sets × {args.symbols} symbols × {len(days)} days of minute bars"
        )
        t1, c1, r1 = timed_sweep(tasks, 1, args.repeat)
        t2, c2, r2 = timed_sweep(tasks, 2, args.repeat)
        assert r1 == r2, "the results depend on the number of workers"
        trades = sum(r.trades for r in r1)
        print(f"  1 worker  {t1:7.2f} s wall, {c1:6.2f} s CPU   ({trades} trades in all)")
        print(f"  2 workers {t2:7.2f} s wall, {c2:6.2f} s CPU   (CPU / wall = {c2 / t2:.2f} of 2 cores)")
        print(f"  speed-up  {t1 / t2:7.2f}×  (target ≥ 1.7×)")
        train, test = (len(days) * 2) // 3, max(1, len(days) // 6)
        o1, d1 = timed_optimize(str(folder), 1, train, test)
        o2, d2 = timed_optimize(str(folder), 2, train, test)
        assert d1 == d2, "the walk-forward depends on the number of workers"
        print(
            f"tron optimize ({train}d train / {test}d test, {len(d1['windows'])} windows × 16 sets + "
            f"{len(d1['windows'])} out-of-sample): 1 worker {o1:.2f} s, 2 workers {o2:.2f} s, {o1 / o2:.2f}×"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main_())
