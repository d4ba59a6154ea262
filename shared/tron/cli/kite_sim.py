"""`tron kite-sim`: serve the Kite Connect compatible simulator on 127.0.0.1 until interrupted.

Its clock starts at --date/--time IST and runs at --speed × real time; the market is the same seeded
generator `tron run-day` uses (--seed, --symbols). The first line printed is exactly
`listening on http://127.0.0.1:PORT`, so scripts and tests can read the port when --port is 0."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from tron.cli.args import decimal_nonneg, hhmm, market_options, nonempty, port, positive
from tron.cli.errors import CommandError


def cmd_kite_sim(args: argparse.Namespace) -> int:
    from tron.adapters.clock import RealClock, ScaledClock
    from tron.bootstrap import seeded_market
    from tron.config.settings import load_settings
    from tron.domain.timeutil import ist
    from tron.sim.kite import KiteSim, serve
    from tron.sim.kite.lifecycle import LifecycleSettings

    settings = load_settings(seed=args.seed, symbols=args.symbols)
    day = args.date or RealClock().now().date()
    start: datetime = ist(day, args.time)
    clock = ScaledClock(start, args.speed)
    market = seeded_market(settings, clock)
    sim = KiteSim(
        market,
        clock,
        api_key=args.api_key,
        api_secret=args.api_secret,
        rate_limits=not args.no_rate_limits,
        capital=args.capital,
        lifecycle=LifecycleSettings(synchronous=args.synchronous),
    )
    try:
        running = serve(sim, "127.0.0.1", args.port)
    except OSError as e:
        raise CommandError(f"cannot listen on 127.0.0.1:{args.port}: {e.strerror or e}", 1) from None
    print(f"listening on {running.url}", flush=True)
    print(
        f"  ticker ws://127.0.0.1:{running.port}; clock {start:%Y-%m-%d %H:%M} IST at {args.speed:g}x, "
        f"seed {settings.seed}, api key {args.api_key!r}"
        f"{'' if market.gen.calendar.is_trading_day(day) else ' (not a trading day: quotes show the last close)'}",
        file=sys.stderr,
        flush=True,
    )
    try:
        running.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return 0


def register(subparsers: Any) -> None:
    """Add `kite-sim` to the tron CLI."""
    p = subparsers.add_parser(
        "kite-sim",
        parents=[market_options("IST date the clock starts on (default: today)")],
        help="serve a Kite Connect compatible exchange simulator locally",
    )
    p.add_argument("--port", type=port, default=0, help="TCP port on 127.0.0.1 (default 0: a free one)")
    p.add_argument(
        "--time", type=hhmm, default=time(9, 15), help="IST time the clock starts at (HH:MM, 09:15)"
    )
    p.add_argument(
        "--speed", type=positive, default=1.0, help="clock speed, 1 = real time (60: a minute a second)"
    )
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
    p.add_argument(
        "--synchronous",
        action="store_true",
        help="orders reach their end inside the place/modify/cancel call (replays); by default they move "
        "through Kite's statuses over some 30 ms, as Kite's do",
    )
    p.set_defaults(func=cmd_kite_sim)
