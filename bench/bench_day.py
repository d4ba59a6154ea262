"""A whole simulated day at 50 and 200 symbols (and more if asked), timed end to end.

"Per minute" is everything done in one market minute (three assets' ticks, the executor, the store, logs).
The peer measured in the same run is the market generator alone producing the same day's data: the ratio
says how much the pipeline (ticks, governor, executor, store, logs) costs on top of just making the data.
Run: make bench   (or .venv/bin/python bench/bench_day.py 50 200 500)"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from tron.adapters.calendar import nse_calendar
from tron.config.settings import load_settings
from tron.runday.embedded import run_day
from tron.sim.market import MarketGenerator, nifty50

DAY = date(2026, 11, 23)


def _generator_s(n: int) -> float:
    """The peer: a fresh generator making the day's data, median of three (after one warm-up run, so the
    calendar and imports are not billed to it)."""
    calendar = nse_calendar()
    MarketGenerator(nifty50(n), calendar, seed=98).day(DAY)
    times = []
    for seed in (99, 100, 101):
        t = time.perf_counter()
        MarketGenerator(nifty50(n), calendar, seed=seed).day(DAY)
        times.append(time.perf_counter() - t)
    return sorted(times)[1]


def main(sizes: list[int]) -> None:
    print(
        f"{'symbols':>8} {'day s':>8} {'per minute ms':>14} {'generator s':>12} {'ratio':>7} {'orders':>7} {'store r/w':>14}"
    )
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            s = load_settings(data_dir=Path(tmp), symbols=n)
            t0 = time.perf_counter()
            from tron.runday.embedded import prepare

            run = prepare(s, DAY, Path(tmp) / "run")
            result = run_day(s, DAY, run=run)
            day_s = time.perf_counter() - t0
            store = run.deps.store
            gen_s = _generator_s(n)
            print(
                f"{n:>8} {day_s:>8.2f} {1000 * day_s / 375:>14.1f} {gen_s:>12.3f} {day_s / gen_s:>7.0f} "
                f"{result['orders_placed']:>7} {store.reads:>6}/{store.writes:<7}"
            )


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1:]] or [50, 200])
