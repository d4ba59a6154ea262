"""`tron data fetch`: download Kite's historical candles to Parquet for research (tron.services.history).

    tron data fetch --symbols INFY,TCS|nifty50 [--futures NIFTY] [--index NIFTY] --from D --to D
                    --interval minute|day --out DIR [--kite-root URL] [--json]

Kite is reached as the other commands reach it: the API root from --kite-root, else kite.root
(TRON_KITE__ROOT); the app's api key from the secret kite_api_key, else kite.api_key; the day's access token
from the secret kite_access_token (the embedded backend: TRON_SECRET_KITE_ACCESS_TOKEN, which
`tron kite-login --print-token` prints; backend gcp: Secret Manager). Requests are paced at Kite's 3 a second
(kite.rate_limits) and retried as every Kite call is. A progress line goes to stderr; the summary to stdout.
Interrupted or stopped by Kite, the same command resumes where it stopped."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from importlib import resources
from typing import Any, TextIO

from tron.cli.args import iso_date, json_option
from tron.cli.errors import CommandError

KITE_API = "https://api.kite.trade"  # tron.config.settings.KITE_API (the settings load inside the command)
INTERVALS = ("minute", "day")
DOWNLOAD_TIMEOUT_S = 30.0  # a 60-day minute answer is ~1.5 MB: more than a quote's 7 s per call


def nifty50() -> list[str]:
    """The NIFTY 50 constituents TRON trades (tron/data/nifty50.csv)."""
    text = resources.files("tron.data").joinpath("nifty50.csv").read_text()
    return [r["symbol"] for r in csv.DictReader(text.splitlines())]


def symbols(text: str) -> list[str]:
    """A comma-separated list of symbols (upper-cased); `nifty50` stands for the NIFTY 50 constituents."""
    out: list[str] = []
    for part in text.split(","):
        s = part.strip()
        if not s:
            raise argparse.ArgumentTypeError(f"an empty symbol in {text!r}")
        out.extend(nifty50() if s.lower() == "nifty50" else [s.upper()])
    return list(dict.fromkeys(out))


def kite_root(text: str) -> str:
    """The real Kite API or a loopback simulator URL (as kite.root accepts)."""
    from tron.config.settings import KITE_API, is_loopback

    if text.rstrip("/") != KITE_API and not is_loopback(text):
        raise argparse.ArgumentTypeError(
            f"must be {KITE_API} or a loopback Kite simulator URL (http://127.0.0.1:PORT), got {text!r}"
        )
    return text.rstrip("/")


class ProgressLine:
    """The fetch's progress on one stderr line: rewritten in place on a terminal; elsewhere (a log, a pipe)
    a line at most every ``every`` seconds. Waits for the broker get a line of their own."""

    def __init__(self, stream: TextIO, every: float = 5.0) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every = every
        self.started = time.monotonic()
        self.last = float("-inf")
        self.shown: tuple[int, int, int] | None = None  # the counters of the last line written
        self.width = 0

    def __call__(self, p: Any) -> None:
        now = time.monotonic()
        if p.note:
            self._line(f"  {p.current}: {p.note}", final=True)
            return
        counters = (p.requests, p.files, p.rows)
        done = p.requests >= p.total_requests and p.files >= p.total_files
        if not self.tty and (counters == self.shown or (not done and now - self.last < self.every)):
            return
        self.last, self.shown = now, counters
        rate = p.requests / max(now - self.started, 1e-9)
        left = p.total_requests - p.requests
        eta = f" · ETA {left / rate:.0f} s" if rate > 0 and left > 0 else ""
        share = p.requests / p.total_requests if p.total_requests else 1.0
        bar = "#" * round(20 * share)
        text = (
            f"[{bar:<20}] {p.requests}/{p.total_requests} requests · {p.files}/{p.total_files} files · "
            f"{p.rows:,} rows · {rate:.1f} req/s{eta}" + (f" · {p.current}" if p.current else "")
        )
        self._line(text, final=not self.tty)

    def _line(self, text: str, final: bool) -> None:
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width) + ("\n" if final else ""))
            self.width = 0 if final else len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line in place on a terminal."""
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()
            self.width = 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Download the candles and the instruments dump; print the summary; the exit code."""
    import logging

    from tron.adapters.clock import RealClock
    from tron.adapters.kite import CircuitBreaker, KiteSession, RateLimiter
    from tron.adapters.kite.history import KiteHistory
    from tron.adapters.localfs import LocalArchive
    from tron.config.settings import load_settings
    from tron.ports import OrderRejected, SessionExpired
    from tron.services.history import (
        FetchRequest,
        HistoryInputError,
        HistoryUnavailable,
        fetch_history,
    )

    logging.getLogger("tron").addHandler(logging.NullHandler())  # waits are on the progress line
    if not (args.symbols or args.futures or args.index):
        raise CommandError("nothing to fetch: give --symbols, --futures or --index")
    if args.start > args.end:
        raise CommandError(f"--from {args.start} is after --to {args.end}")
    settings = load_settings()
    k = settings.kite
    root = args.kite_root or k.root
    if not root:
        raise CommandError(
            f"no Kite API: pass --kite-root {KITE_API} (or a simulator's URL) or set TRON_KITE__ROOT"
        )
    clock = RealClock()
    session = KiteSession(
        k.api_key,
        _secrets(settings, clock),
        root,
        limiter=RateLimiter(enabled=k.rate_limits),
        breaker=CircuitBreaker(k.breaker_failures, k.breaker_cooloff_s),
        retries=k.retries,
        timeout=max(k.timeout_s, DOWNLOAD_TIMEOUT_S),
    )
    request = FetchRequest(
        args.start,
        args.end,
        args.interval,
        tuple(args.symbols or ()),
        tuple(args.futures or ()),
        tuple(args.index or ()),
    )
    progress = ProgressLine(sys.stderr)
    try:
        summary = fetch_history(KiteHistory(session), LocalArchive(args.out), clock, request, progress)
    except HistoryInputError as e:
        raise CommandError(str(e)) from None
    except SessionExpired as e:
        raise CommandError(f"the Kite session is gone: {e}", 1) from None
    except OrderRejected as e:
        raise CommandError(f"Kite refused a request: {e}", 1) from None
    except HistoryUnavailable as e:
        raise CommandError(str(e), 1) from None
    except KeyboardInterrupt:
        progress.close()
        print("interrupted: the files written are kept; run the same command to resume", file=sys.stderr)
        return 130
    finally:
        progress.close()
    if args.json:
        print(json.dumps(summary.doc()))
    else:
        print(
            f"{summary.interval} candles {summary.start}..{summary.end} of {len(summary.targets)} "
            f"instrument(s) in {args.out}: {summary.files_written} file(s) written ({summary.rows:,} rows, "
            f"{summary.requests} request(s)), {summary.files_complete} already complete; "
            f"instruments dump {summary.instruments}"
        )
    return 0


def _secrets(settings: Any, clock: Any) -> Any:
    """Where the Kite token is read: Secret Manager for backend gcp, else the environment."""
    if settings.backend == "gcp":
        from google.cloud import secretmanager

        from tron.adapters.secretmanager import SecretManagerSecrets

        return SecretManagerSecrets(
            secretmanager.SecretManagerServiceClient(), settings.project or "", 300, clock
        )
    from tron.adapters.env_secrets import EnvSecrets

    return EnvSecrets()


def register(sub: Any) -> None:
    """Add `tron data fetch` to the tron CLI."""
    p = sub.add_parser("data", help="research data: download Kite's historical candles (fetch)")
    data = p.add_subparsers(dest="data_command", required=True)
    f = data.add_parser(
        "fetch",
        parents=[json_option("print the summary as JSON")],
        help="download Kite's candles to Parquet, DIR/<interval>/<SYMBOL>/<YYYY-MM>.parquet (resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument(
        "--symbols", type=symbols, help="NSE equities, comma-separated (INFY,TCS), or nifty50 for all 50"
    )
    f.add_argument(
        "--futures", type=symbols, help="the current future of these underlyings (NIFTY): NIFTY-I at day"
    )
    f.add_argument("--index", type=symbols, help="indices by name: NIFTY (NIFTY 50), BANKNIFTY, …")
    f.add_argument("--from", dest="start", type=iso_date, required=True, help="first day (YYYY-MM-DD)")
    f.add_argument("--to", dest="end", type=iso_date, required=True, help="last day (YYYY-MM-DD)")
    f.add_argument("--interval", choices=INTERVALS, required=True, help="candle interval")
    f.add_argument("--out", required=True, help="the folder the files go to (created)")
    f.add_argument("--kite-root", type=kite_root, help=f"the Kite API ({KITE_API}, or a simulator's URL)")
    f.set_defaults(func=cmd_fetch)
