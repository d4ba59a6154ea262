"""``tron kill-switch engage|release|status``: the user's kill switch, as the state document
``control/kill_switch`` every tick reads (the same document can be flipped in the Firestore console).

Engaged: no new entries in any asset from the next tick; unless ``--keep-positions``, every open position is
closed at the next tick too. Exits are never blocked. The store is the configured backend's: Firestore for
``backend: gcp``, else the SQLite file (``--state``, default ``<data_dir>/state.sqlite``; a `run-day`'s store
is ``var/runs/<day>-seed<seed>-n<symbols>/state.sqlite``)."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from tron.cli.args import json_option, operator_store
from tron.cli.errors import CommandError


def _cmd(args: argparse.Namespace) -> int:
    from tron.adapters.clock import RealClock
    from tron.services.kill_switch import kill_switch, set_kill_switch

    store = operator_store(args.state, must_exist=args.action == "status")
    if args.action == "status":
        ks = kill_switch(store)
    else:
        try:
            ks = set_kill_switch(
                store,
                args.action == "engage",
                args.reason or "",
                not args.keep_positions,
                RealClock().now(),
                args.by or getpass.getuser(),
            )
        except ValueError as e:
            raise CommandError(str(e)) from None
    if args.json:
        print(json.dumps(ks.to_doc()))
    elif ks.engaged:
        what = "flattening every position" if ks.flatten else "positions kept"
        print(f"kill switch ENGAGED: {ks.reason} ({what}; since {ks.at} by {ks.by})")
    else:
        print("kill switch released: entries allowed")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "kill-switch",
        parents=[json_option()],
        help="stop all entries (and flatten) from the next tick, or resume",
    )
    p.add_argument("action", choices=("engage", "release", "status"))
    p.add_argument("--reason", help="why (required to engage; logged and alerted on)")
    p.add_argument("--keep-positions", action="store_true", help="stop entries but do not flatten")
    p.add_argument("--by", help="who (default: the OS user)")
    p.add_argument("--state", help="the SQLite state store (embedded backend)")
    p.set_defaults(func=_cmd)
