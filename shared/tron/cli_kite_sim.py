"""`tron kite-sim`: serve the Kite Connect compatible simulator on 127.0.0.1 until interrupted.

Its clock starts at --date/--time IST and runs at --speed × real time; the market is the same seeded
generator `tron run-day` uses (--seed, --symbols). The first line printed is exactly
`listening on http://127.0.0.1:PORT`, so scripts and tests can read the port when --port is 0."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time
from decimal import Decimal

from tron.cli_args import decimal_nonneg, hhmm, iso_date, nonempty, port, positive, positive_int


def cmd_kite_sim(args: argparse.Namespace) -> int:
    from tron.adapters.calendar import nse_calendar
    from tron.adapters.clock import RealClock, ScaledClock
    from tron.domain.timeutil import ist
    from tron.sim.kite import KiteSim, serve
    from tron.sim.market import GeneratedMarketData, MarketGenerator, nifty50

    day = args.date or RealClock().now().date()
    start: datetime = ist(day, args.time)
    clock = ScaledClock(start, args.speed)
    market = GeneratedMarketData(MarketGenerator(nifty50(args.symbols), nse_calendar(), args.seed), clock)
    sim = KiteSim(
        market,
        clock,
        api_key=args.api_key,
        api_secret=args.api_secret,
        rate_limits=not args.no_rate_limits,
        capital=args.capital,
    )
    try:
        running = serve(sim, "127.0.0.1", args.port)
    except OSError as e:
        print(f"tron kite-sim: cannot listen on 127.0.0.1:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"listening on {running.url}", flush=True)
    print(
        f"  ticker ws://127.0.0.1:{running.port}; clock {start:%Y-%m-%d %H:%M} IST at {args.speed:g}x, "
        f"seed {args.seed}, api key {args.api_key!r}"
        f"{'' if nse_calendar().is_trading_day(day) else ' (not a trading day: quotes show the last close)'}",
        file=sys.stderr,
        flush=True,
    )
    try:
        running.thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `kite-sim` to the tron CLI."""
    p = subparsers.add_parser("kite-sim", help="serve a Kite Connect compatible exchange simulator locally")
    p.add_argument("--port", type=port, default=0, help="TCP port on 127.0.0.1 (default 0: a free one)")
    p.add_argument("--date", type=iso_date, help="IST date the clock starts on (default: today)")
    p.add_argument(
        "--time", type=hhmm, default=time(9, 15), help="IST time the clock starts at (HH:MM, 09:15)"
    )
    p.add_argument(
        "--speed", type=positive, default=1.0, help="clock speed, 1 = real time (60: a minute a second)"
    )
    p.add_argument("--seed", type=int, default=7, help="market generator seed (default 7, as run-day)")
    p.add_argument("--symbols", type=positive_int, help="universe size (default: the NIFTY 50)")
    p.add_argument("--api-key", type=nonempty, default="sim", help="API key clients must use (default sim)")
    p.add_argument(
        "--api-secret", type=nonempty, default="sim-secret", help="API secret for the checksum (sim-secret)"
    )
    p.add_argument(
        "--capital", type=decimal_nonneg, default=Decimal("1000000"), help="opening cash (₹, 1000000)"
    )
    p.add_argument(
        "--no-rate-limits", action="store_true", help="do not enforce Kite's rate limits (replays)"
    )
    p.set_defaults(func=cmd_kite_sim)


def main(argv: list[str] | None = None) -> int:
    """`python -m tron.cli_kite_sim …`: the same command without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="tron kite-sim")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["kite-sim", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
