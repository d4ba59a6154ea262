"""A multi-leg options structure backtested over 50 simulated days (`tron backtest --strategy straddle_920
--data generated`), timed against its peer measured in the same run: the stock strategies' intraday backtest
(orb + vwap on the NIFTY 50) over the same 50 days of the same seeded market, read the same way.

Both go through tron.backtest.engine.run_intraday with days from tron.backtest.generated: each trading day
read minute by minute from the generated market as the asset's tick reads a paper day (09:15–15:29), filled
as the paper broker fills (next-quote), resting stops worked on the minute candles. The straddle's day is
the options tick's: the selected NIFTY future, the index and the chains of the two nearest expiries (87
symbols); the stocks' day is the 50 stocks. "days s" is the part of the wall time spent building the days
(the generated market quoting every symbol each minute, the same MarketData port paper days read); "engine
s" is the rest (the live decide() each minute, fills, stops, square-off). Nothing is asserted: the ratios
are the result.

Run: .venv/bin/python bench/bench_structures.py [--days 50] [--symbols 50] [--seed 7]"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from datetime import time as dtime
from decimal import Decimal

from tron.adapters.clock import VirtualClock
from tron.backtest.data import Session
from tron.backtest.engine import IntradayConfig, IntradayResult, run_intraday, structure_report
from tron.backtest.generated import GeneratedSessions, trading_days
from tron.bootstrap import trading_calendar
from tron.config.settings import shipped_templates
from tron.domain.models import Asset
from tron.domain.plan import AssetPlan, StrategyChoice
from tron.domain.risk import RiskLimits
from tron.domain.timeutil import ist
from tron.sim.market import GeneratedMarketData, MarketGenerator, nifty50

START = date(2026, 9, 1)
TEMPLATE = "straddle_920"
# What a one-lot short straddle needs: about ₹2.1 lakh of margin (50 % of the capital at most) and about
# ₹14,000 at risk at its 25 % stops; the stocks keep the default limits.
OPTIONS_RISK = RiskLimits(
    capital=Decimal("450000"), daily_loss_limit=Decimal("30000"), daily_loss_limit_pct=Decimal("10"),
    max_position_pct=Decimal("50"), max_sector_pct=Decimal("100"), risk_per_trade_pct=Decimal("2"),
)  # fmt: skip
STRUCTURE = AssetPlan(
    Asset.OPTIONS,
    True,
    (),
    OPTIONS_RISK,
    "bench",
    structure={**shipped_templates()[TEMPLATE], "name": TEMPLATE},
)
STOCKS = AssetPlan(
    Asset.STOCKS, True, (StrategyChoice("orb", {}), StrategyChoice("vwap", {})), RiskLimits(), "bench"
)


class Timed:
    """The sessions, with the time spent building them."""

    def __init__(self, sessions: GeneratedSessions) -> None:
        self.sessions, self.seconds = sessions, 0.0

    def __len__(self) -> int:
        return len(self.sessions)

    def __iter__(self) -> Iterator[Session]:
        it = iter(self.sessions)
        while True:
            t0 = time.perf_counter()
            try:
                sess = next(it)
            except StopIteration:
                return
            self.seconds += time.perf_counter() - t0
            yield sess


def backtest(
    plan: AssetPlan, days: list[date], symbols: int, seed: int
) -> tuple[float, float, IntradayResult]:
    """(wall seconds, seconds building the days, the result) of one backtest on a fresh market."""
    calendar = trading_calendar()
    clock = VirtualClock(ist(days[0], dtime(9, 15)))
    market = GeneratedMarketData(MarketGenerator(nifty50(symbols), calendar, seed=seed), clock)
    sessions = Timed(GeneratedSessions(market, clock, calendar, plan, days[0], days[-1]))
    t0 = time.perf_counter()
    result = run_intraday(sessions, IntradayConfig(plan, fill="next-quote"))
    return time.perf_counter() - t0, sessions.seconds, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=50)
    ap.add_argument("--symbols", type=int, default=50, help="the stocks' universe")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    calendar = trading_calendar()
    days = trading_days(calendar, START, START + timedelta(days=2 * args.days + 30))[: args.days]
    print(f"{len(days)} trading days {days[0]} … {days[-1]}, seed {args.seed}, next-quote fills")
    backtest(STOCKS, days[:1], args.symbols, args.seed + 1000)  # warm-up: imports, calendar, caches
    rows = []
    for name, plan in (
        (f"stocks orb+vwap ({args.symbols})", STOCKS),
        (f"{TEMPLATE} (87 symbols)", STRUCTURE),
    ):
        wall, build, result = backtest(plan, days, args.symbols, args.seed)
        rows.append((name, wall, build, result))
    print(
        f"{'backtest':<26} {'wall s':>8} {'days s':>8} {'engine s':>9} {'s/day':>6} {'fills':>6} {'net ₹':>12}"
    )
    for name, wall, build, result in rows:
        net = float(result.final_equity - result.capital)
        print(
            f"{name:<26} {wall:8.2f} {build:8.2f} {wall - build:9.2f} {wall / len(days):6.2f} "
            f"{len(result.fills):6d} {net:12,.2f}"
        )
    (_, s_wall, s_build, _), (_, o_wall, o_build, opt) = rows
    tot = structure_report(opt)["totals"]
    print(
        f"{TEMPLATE}: {tot['traded_days']} of {tot['days']} days traded, {tot['win_days']} won, "
        f"net ₹{tot['net_pnl']:,.2f}, max drawdown ₹{tot['max_drawdown']:,.2f}"
    )
    print(
        f"ratio {TEMPLATE} / stocks: wall {o_wall / s_wall:.2f}x, days {o_build / s_build:.2f}x, "
        f"engine {(o_wall - o_build) / (s_wall - s_build):.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
