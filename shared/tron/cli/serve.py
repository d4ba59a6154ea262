"""``tron serve --port P [--date D] [--host 127.0.0.1]``: the live positions page
(tron.services.positions_page) on this machine, over the state a `tron run-day` running beside it writes.

The store is the configured backend's: Firestore for ``backend: gcp``; else the SQLite file of the run-day
of the same ``--date``, ``--seed`` and ``--symbols`` (``<data_dir>/runs/<day>-seed<seed>-n<symbols>/
state.sqlite``) or ``--state FILE``. The SQLite file is opened afresh for each request (WAL: reading never
blocks the run's writes) because run-day deletes and recreates its folder when it starts; until the file
exists the page says so and keeps reloading. Bound to 127.0.0.1 by default: the page has no login."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tron.cli.args import market_options, port
from tron.cli.errors import CommandError


class _NoStore:
    """Stands in for a store that cannot be opened: every read raises, so the page answers 503 with why."""

    def __init__(self, why: str) -> None:
        self.why = why

    def get(self, path: str) -> Any:
        raise FileNotFoundError(self.why)

    def list(self, collection: str) -> Any:
        raise FileNotFoundError(self.why)


def _cmd(args: argparse.Namespace) -> int:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    from tron.adapters.clock import RealClock
    from tron.bootstrap import state_store
    from tron.config.settings import load_settings
    from tron.services.positions_page import MAX_QUERY, respond

    settings = load_settings(seed=args.seed, symbols=args.symbols)
    clock = RealClock()
    shared: Any = None
    path: Path | None = None
    if settings.backend == "gcp":
        shared = state_store(settings)
        where = f"Firestore of project {settings.project}"
    else:
        from tron.runday.embedded import run_root

        path = (
            Path(args.state)
            if args.state
            else run_root(settings, args.date or clock.now().date()) / "state.sqlite"
        )
        where = str(path)

    def open_store() -> Any:
        if shared is not None:
            return shared
        assert path is not None
        if not path.is_file():
            return _NoStore(
                f"no state store at {path} yet: start `tron run-day` (the page reloads by itself)"
            )
        try:
            return state_store(settings, path)
        except Exception as e:  # not a database, unreadable: say so on the page
            return _NoStore(f"{path} cannot be opened: {type(e).__name__}: {e}")

    class Page(BaseHTTPRequestHandler):
        server_version = "tron-serve"

        def answer(self) -> None:
            url = urlsplit(self.path)
            size = len(url.query.encode("utf-8", "replace"))
            params = parse_qs(url.query, keep_blank_values=True) if size <= MAX_QUERY else {}
            store = open_store()
            try:
                status, headers, body = respond(
                    store, clock.now(), self.command, url.path, params, size, args.date
                )
            finally:
                if store is not shared and hasattr(store, "close"):
                    store.close()
            data = body.encode("utf-8")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = answer

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # a line every 5 s per open page would drown the terminal; errors are still printed

    try:
        server = ThreadingHTTPServer((args.host, args.port), Page)
    except OSError as e:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}", 1) from None
    server.daemon_threads = True
    bound = int(server.server_address[1])
    shown = f"[{args.host}]" if ":" in args.host else args.host
    day = args.date.isoformat() if args.date else "today"
    print(f"positions page of {day} from {where} at http://{shown}:{bound}/ (Ctrl-C stops)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: the page has no login; anyone who reaches {args.host}:{bound} sees it", file=sys.stderr
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        parents=[market_options("the day shown, and whose run-day store is read (default: today)")],
        help="serve the live positions page (positions, MTM, orders, halts) over the day's state",
    )
    p.add_argument("--port", type=port, required=True, help="TCP port (0: any free one, printed)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--state", help="the SQLite state store to read (default: the run-day's of --date)")
    p.set_defaults(func=_cmd)
