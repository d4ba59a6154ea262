"""Cold start of each Cloud Function: a fresh interpreter imports functions/main.py, builds its dependencies
(`_get_deps()`, the gcp backend) and imports what the function's first call imports. That is what a new
Cloud Run instance pays before it answers.

The clients are built against local stand-ins (the Firestore and Pub/Sub emulators, fake-gcs-server), with a
throwaway service-account key generated for the run so that google.auth finds credentials offline; the
Pub/Sub, Storage and Secret Manager clients are built on first use (bootstrap.GcpClients.default), so a
function pays only for those it calls. Rounds interleave the functions; the median and the minimum of
`--runs` fresh interpreters (default 5) are printed, warm disk cache. The peer measured in the same run: a
fresh interpreter importing only functions_framework (the floor any Python function pays).
Aim: tick_* and execute_order under 1 s. `--computed-calendar` gives the figure from before
data/nse_calendar.json (the calendar computed with pandas_market_calendars at every start).

Run: make bench-cold-start   (or .venv/bin/python bench/cold_start.py [--runs N] [--computed-calendar]
[--importtime FUNCTION])"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tron.devtools.emulators import Emulators

ROOT = Path(__file__).resolve().parents[1]
MAIN_DIR = ROOT / "functions"

# What each entry point imports on its first call (mirrors functions/main.py's lazy imports).
FIRST_CALL = {
    "plan_day": ["tron.services.plan_day"],
    "tick_stocks": ["tron.domain.models", "tron.services.tick"],
    "execute_order": ["tron.services.execute_order"],
    "square_off": ["tron.services.square_off"],
    "end_of_day": ["tron.services.end_of_day"],
}

PROBE = r"""
import importlib, json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {main_dir!r})
import main
t1 = time.perf_counter()
main._get_deps()
t2 = time.perf_counter()
for m in {modules!r}:
    importlib.import_module(m)
t3 = time.perf_counter()
print(json.dumps({{"import_main": t1 - t0, "deps": t2 - t1, "first_call_imports": t3 - t2, "total": t3 - t0}}))
"""

# The "before" figure: the NSE calendar computed with pandas_market_calendars (which imports pandas) at
# every start, as before data/nse_calendar.json (tron.adapters.calendar_snapshot).
COMPUTED_CALENDAR = """
import tron.bootstrap
tron.bootstrap.snapshot_calendar = lambda: None
"""

FLOOR = r"""
import json, time
t0 = time.perf_counter()
import functions_framework
print(json.dumps({"total": time.perf_counter() - t0}))
"""


def _env(em: Emulators, tmp: Path) -> dict[str, str]:
    assert em.firestore and em.pubsub and em.gcs
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRON_")}
    env.update(
        {
            "TRON_BACKEND": "gcp",
            # As deployed (infra/terraform/functions.tf): Kite quotes; the session is built, nothing is called.
            "TRON_MARKET_DATA": "kite",
            "TRON_KITE__ROOT": "https://api.kite.trade",
            "GOOGLE_CLOUD_PROJECT": "tron-cold-start",
            "TRON_ARCHIVE_BUCKET": "tron-cold-start",
            "TRON_DATA_DIR": str(tmp),
            "FIRESTORE_EMULATOR_HOST": em.firestore.host,
            "PUBSUB_EMULATOR_HOST": em.pubsub.host,
            "STORAGE_EMULATOR_HOST": em.gcs.url,
            # A throwaway service-account key made here, so google.auth.default() finds credentials
            # offline; nothing calls Google (the other clients use the stand-ins; Secret Manager is only
            # constructed, as in _get_deps()).
            "GOOGLE_APPLICATION_CREDENTIALS": str(_throwaway_key(tmp)),
        }
    )
    return env


def _throwaway_key(tmp: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = tmp / "throwaway-service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "tron-cold-start",
                "private_key_id": "0",
                "private_key": pem,
                "client_email": "cold-start@tron-cold-start.iam.gserviceaccount.com",
                "client_id": "0",
                "token_uri": "http://127.0.0.1:9/token",
            }
        )
    )
    return path


def _run(code: str, env: dict[str, str]) -> dict[str, float]:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"cold-start probe failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--computed-calendar",
        action="store_true",
        help="compute the NSE calendar with pandas_market_calendars at start (the figure before the file)",
    )
    ap.add_argument("--importtime", metavar="FUNCTION", help="print the 40 slowest imports of one function")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Emulators(Path(tmp) / "emulators") as em:
        env = _env(em, Path(tmp))
        prelude = COMPUTED_CALENDAR if args.computed_calendar else ""
        if args.computed_calendar:
            print("the NSE calendar computed with pandas_market_calendars at start (before the file)")
        # Rounds interleave the functions (and the peer), so a burst of load from elsewhere on the machine
        # does not land on one function only; the median and the minimum of the rounds are printed.
        results: dict[str, list[dict[str, float]]] = {fn: [] for fn in ("peer", *FIRST_CALL)}
        for _ in range(args.runs):
            results["peer"].append(_run(FLOOR, env))
            for fn, modules in FIRST_CALL.items():
                code = PROBE.format(main_dir=str(MAIN_DIR), modules=modules)
                results[fn].append(_run(code.replace("import main\n", prelude + "import main\n", 1), env))
        floor = statistics.median(r["total"] for r in results["peer"])
        print(
            f"peer: a fresh interpreter importing functions_framework only: {floor:.3f} s "
            f"(median of {args.runs})"
        )
        print(
            f"{'function':<15} {'import main':>12} {'_get_deps()':>12} {'first call':>11} {'total s':>8} "
            f"{'min s':>7} {'vs peer':>8}  aim"
        )
        for fn in FIRST_CALL:
            runs = results[fn]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            best = min(r["total"] for r in runs)
            aim = (
                "< 1 s " + ("ok" if med["total"] < 1 else "MISSED")
                if fn in ("tick_stocks", "execute_order")
                else ""
            )
            print(
                f"{fn:<15} {med['import_main']:>12.3f} {med['deps']:>12.3f} {med['first_call_imports']:>11.3f} "
                f"{med['total']:>8.3f} {best:>7.3f} {med['total'] / floor:>7.1f}x  {aim}"
            )
        print("(tick_futures and tick_options load what tick_stocks loads.)")


if __name__ == "__main__":
    main()
