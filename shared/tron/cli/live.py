"""``tron live arm|disarm|status``: the operator's arming of a day for live orders (the state document
``control/live_arm``; tron.services.live).

With ``mode: live`` a day's orders go to Kite only if it was armed before it first traded; otherwise it runs on
paper and says why. The store is the configured backend's: Firestore for ``backend: gcp``, else the SQLite
file (``--state``, default ``<data_dir>/state.sqlite``, which `tron run-day` reads the arming from)."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from tron.cli.args import iso_date, json_option, operator_store
from tron.cli.errors import CommandError


def _cmd(args: argparse.Namespace) -> int:
    from tron.adapters.clock import RealClock
    from tron.services.live import arm, disarm, live_status

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
        help="arm a day for live orders (mode live), take it back, or show what is armed",
    )
    p.add_argument("action", choices=("arm", "disarm", "status"))
    p.add_argument("--date", type=iso_date, help="the trading day (arm: required; status: default today)")
    p.add_argument("--reason", help="why (required to arm; logged and shown by status)")
    p.add_argument("--by", help="who (default: the OS user)")
    p.add_argument("--state", help="the SQLite state store (embedded backend)")
    p.set_defaults(func=_cmd)
