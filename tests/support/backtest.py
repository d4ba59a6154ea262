"""The backtester's inputs: the simulator's minute bars written as CSV, and a plan of orb and vwap."""

from __future__ import annotations

import csv
from datetime import date, time, timedelta
from pathlib import Path

from tron.adapters.calendar import nse_calendar
from tron.domain.models import Asset
from tron.domain.plan import AssetPlan, StrategyChoice
from tron.domain.risk import RiskLimits
from tron.domain.timeutil import ist
from tron.sim.market import MINUTES, MarketGenerator, nifty50

DAYS = (date(2026, 11, 19), date(2026, 11, 20))
PLAN = AssetPlan(
    Asset.STOCKS, True, (StrategyChoice("orb", {}), StrategyChoice("vwap", {})), RiskLimits(), "test"
)


def write_sim_csvs(folder: Path, symbols: int = 8, days: tuple[date, ...] = DAYS, seed: int = 7) -> Path:
    """The simulator's minute bars, one CSV per symbol (what `tron backtest --data DIR` reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    gen = MarketGenerator(nifty50(symbols), nse_calendar(), seed=seed)
    rows: dict[str, list[list[object]]] = {s: [] for s in gen.symbols[:-1]}
    for d in days:
        data = gen.day(d)
        for k, s in enumerate(data.symbols[:-1]):
            for m in range(MINUTES):
                t = ist(d, time(9, 15)) + timedelta(minutes=m)
                rows[s].append(
                    [t.isoformat()]
                    + [round(float(a[k, m]), 2) for a in (data.o, data.h, data.lo, data.c)]
                    + [int(data.v[k, m])]
                )
    for s, r in rows.items():
        with (folder / f"{s}.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["date", "open", "high", "low", "close", "volume"])
            w.writerows(r)
    return folder
