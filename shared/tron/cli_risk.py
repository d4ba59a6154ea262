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
import sys
from pathlib import Path
from typing import Any

from tron.settings import ConfigError, load_settings


def _store(args: argparse.Namespace) -> Any:
    settings = load_settings()
    if settings.backend == "gcp":
        from google.cloud import firestore

        from tron.adapters.firestore_store import FirestoreStore

        return FirestoreStore(firestore.Client(project=settings.project))
    from tron.adapters.sqlite_store import SqliteStore

    path = Path(args.state) if args.state else settings.data_dir / "state.sqlite"
    if args.action == "status" and not path.exists():
        raise ConfigError(f"no state store at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path)


def _cmd(args: argparse.Namespace) -> int:
    from tron.adapters.clock import RealClock
    from tron.services.orders import kill_switch, set_kill_switch

    try:
        store = _store(args)
    except ConfigError as e:
        print(f"tron kill-switch: {e}", file=sys.stderr)
        return 2
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
            print(f"tron kill-switch: {e}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(ks.to_doc()))
    elif ks.engaged:
        what = "flattening every position" if ks.flatten else "positions kept"
        print(f"kill switch ENGAGED: {ks.reason} ({what}; since {ks.at} by {ks.by})")
    else:
        print("kill switch released: entries allowed")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "kill-switch", help="stop all entries (and flatten) from the next tick, or resume"
    )
    p.add_argument("action", choices=("engage", "release", "status"))
    p.add_argument("--reason", help="why (required to engage; logged and alerted on)")
    p.add_argument("--keep-positions", action="store_true", help="stop entries but do not flatten")
    p.add_argument("--by", help="who (default: the OS user)")
    p.add_argument("--state", help="the SQLite state store (embedded backend)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd)
