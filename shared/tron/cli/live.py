"""``tron live arm|disarm|status|smoke``: the operator's arming of a day for live orders (the state document
``control/live_arm``; tron.services.live), and the first live day's smoke run (tron.services.smoke).

With ``mode: live`` a day's orders go to Kite only if it was armed before it first traded; otherwise it runs on
paper and says why. The store is the configured backend's: Firestore for ``backend: gcp``, else the SQLite
file (``--state``, default ``<data_dir>/state.sqlite``, which `tron run-day` reads the arming from)."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from tron.cli.args import iso_date, json_option, loopback_url, operator_store
from tron.cli.errors import CommandError


def _smoke(args: argparse.Namespace) -> int:
    """One share of --stock and one NIFTY call lot through the whole stop lifecycle at the broker: against a
    simulator (--kite-root), or the configured Kite on an armed day (from the machine whose IP is the
    registered one)."""
    from tron.adapters.clock import RealClock
    from tron.bootstrap import embedded
    from tron.config.settings import load_settings
    from tron.runday.external import ExternalSimError, prepare_external_day
    from tron.services.execute_order import execute_order
    from tron.services.live import DayBroker, live_decision
    from tron.services.smoke import SmokeFailed, run_smoke

    day = args.date or RealClock().now().date()
    if args.kite_root:
        settings = load_settings(broker="kite", market_data="kite", kite={"root": args.kite_root})
        try:
            run = prepare_external_day(settings, day, args.kite_root, "kite")
        except ExternalSimError as e:
            raise CommandError(str(e), 1) from None
        deps, bus, where = run.deps, run.bus, run.root / "state.sqlite"
    else:
        settings = load_settings()
        if settings.mode != "live":
            raise CommandError(
                "a smoke run on the configured Kite needs mode live (or --kite-root SIMULATOR)"
            )
        deps, bus = embedded(settings)
        where = settings.data_dir / "state.sqlite"
    now = deps.clock.now()
    if not deps.calendar.is_trading_day(now.date()) or not "09:15" <= f"{now:%H:%M}" < "15:00":
        raise CommandError(f"the market is not open at {now:%Y-%m-%d %H:%M} IST: smoke runs 09:15–15:00")
    if isinstance(deps.broker, DayBroker) and not deps.broker.is_live(now.date()):
        raise CommandError(f"no smoke run on paper: {live_decision(deps.store, now.date(), now)['why']}")

    def execute(data: bytes, attributes: dict[str, str]) -> None:
        execute_order(deps, data, attributes)

    def deliver() -> None:
        bus.drain(deps.config.orders_topic, execute)

    try:
        out = run_smoke(deps, deliver, args.stock, option=not args.no_option)
    except SmokeFailed as e:
        raise CommandError(
            f"smoke failed: {e} (every broker call is recorded under days/{day}/smoke/)", 1
        ) from None
    if args.json:
        print(json.dumps(out, default=str))
        return 0
    for leg in out["legs"]:
        steps = ", ".join(f"{k} {v}" for k, v in leg["steps"].items())
        print(f"{leg['symbol']} ×{leg['qty']}: {steps}; broker position {leg['broker_position']}")
    print(f"{out['broker_calls']} broker calls recorded under days/{out['day']}/smoke/ in {where}")
    return 0


def _cmd(args: argparse.Namespace) -> int:
    from tron.adapters.clock import RealClock
    from tron.services.live import arm, disarm, live_status

    if args.action == "smoke":
        return _smoke(args)

    now = RealClock().now()
    store = operator_store(args.state, must_exist=args.action == "status")
    by = args.by or getpass.getuser()
    try:
        if args.action == "arm":
            if args.date is None:
                raise CommandError("arming names the day: --date YYYY-MM-DD")
            arm(store, args.date, args.reason or "", by, now)
        elif args.action == "disarm" and disarm(store, args.reason or "", by, now) is None:
            raise CommandError("nothing is armed", 1)
    except ValueError as e:
        raise CommandError(str(e)) from None
    status = live_status(store, args.date or now.date())
    if args.json:
        print(json.dumps(status, default=str))
        return 0
    arming = status["arming"] or {}
    if status["armed"]:
        print(f"ARMED for {status['day']} by {arming['by']} at {arming['at']}: {arming['reason']}")
    else:
        print(f"{status['day']}: {status['why_not']}")
    if decision := status["decision"]:
        print(
            f"the day's decision ({decision['at']}): {'live' if decision['live'] else 'paper'} ({decision['why']})"
        )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "live",
        parents=[json_option()],
        help="arm a day for live orders (mode live), take it back, show what is armed, or smoke-test it",
    )
    p.add_argument("action", choices=("arm", "disarm", "status", "smoke"))
    p.add_argument("--date", type=iso_date, help="the trading day (arm: required; status: default today)")
    p.add_argument("--reason", help="why (required to arm; logged and shown by status)")
    p.add_argument("--by", help="who (default: the OS user)")
    p.add_argument("--state", help="the SQLite state store (embedded backend)")
    p.add_argument(
        "--kite-root", type=loopback_url, help="smoke: a Kite simulator started with `tron kite-sim`"
    )
    p.add_argument("--stock", default="RELIANCE", help="smoke: the liquid stock to trade one share of")
    p.add_argument("--no-option", action="store_true", help="smoke: leave out the NIFTY call lot")
    p.set_defaults(func=_cmd)
