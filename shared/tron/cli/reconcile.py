"""``tron reconcile --date D [--json]``: the day's books against the broker's positions (tron.services.reconcile),
stored as days/{date}/reconciliation/close; exit 1 when they differ. The store and the broker are the
configured ones: Firestore and Kite for ``backend: gcp``; else the SQLite store of ``--run`` (a `run-day`'s
folder, ``var/runs/<day>-seed<seed>-n<symbols>``, default ``<data_dir>``) and its paper fills."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tron.cli.args import iso_date, json_option
from tron.cli.errors import CommandError


def _cmd(args: argparse.Namespace) -> int:
    from tron.adapters.clock import RealClock
    from tron.bootstrap import embedded, gcp
    from tron.config.settings import load_settings
    from tron.ports import BrokerUnavailable
    from tron.services.reconcile import reconcile

    settings = load_settings()
    if settings.backend == "gcp":
        deps = gcp(settings, RealClock())
    else:
        root = Path(args.run) if args.run else settings.data_dir
        if not (root / "state.sqlite").exists():
            raise CommandError(f"no state store at {root / 'state.sqlite'}")
        deps = embedded(settings, RealClock(), root, log_to_archive=False)[0]
    try:
        doc = reconcile(deps, args.date)
    except BrokerUnavailable as e:
        raise CommandError(f"the broker could not be read: {e}") from None
    if args.json:
        print(json.dumps(doc))
    elif doc["book_matches_broker"]:
        print(
            f"{args.date}: the books match the broker ({len(doc['open_at_broker'])} position(s) open there)"
        )
    else:
        print(f"{args.date}: the books DIFFER from the broker")
        for m in doc["mismatches"]:
            print(f"  {m['symbol']}: book {m['book']}, broker {m['broker']}")
    return 0 if doc["book_matches_broker"] else 1


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "reconcile",
        parents=[json_option()],
        help="compare the day's books with the broker's positions (exit 1 when they differ)",
    )
    p.add_argument("--date", type=iso_date, required=True, help="the trading day (YYYY-MM-DD)")
    p.add_argument("--run", help="a run-day's folder holding state.sqlite (embedded backend)")
    p.set_defaults(func=_cmd)
