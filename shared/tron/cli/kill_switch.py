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
from pathlib import Path
from typing import Any

from tron.cli.args import json_option
from tron.cli.errors import CommandError
from tron.config.settings import load_settings


def _store(args: argparse.Namespace) -> Any:
    from tron.bootstrap import state_store

    settings = load_settings()
    path = Path(args.state) if args.state else None
    if settings.backend != "gcp" and args.action == "status":
        where = path or settings.data_dir / "state.sqlite"
        if not where.exists():
            raise CommandError(f"no state store at {where}")
    return state_store(settings, path)


def _cmd(args: argparse.Namespace) -> int:
    from tron.adapters.clock import RealClock
    from tron.services.kill_switch import kill_switch, set_kill_switch

    store = _store(args)
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
