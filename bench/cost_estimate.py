"""Monthly Google Cloud cost of TRON in asia-south1, from counts MEASURED on a simulated day.

What is measured. `tron.runday.embedded.run_day` runs a whole paper day on the embedded backend (SQLite store, in-process
bus, local archive) through the same services the Cloud Functions call. This script wraps the runner's two
call sites (`dispatch` for the scheduled functions, `execute_order` for each push delivery) and counts, per
function: invocations, Firestore document reads and writes (the SQLite store counts them as Firestore bills
them), Pub/Sub publishes and bytes, archive operations (each GCS append is three requests: metadata get,
download, upload-with-precondition, see tron/adapters/gcs_archive.py), log bytes, secret reads and the local
run time. A closed day is measured the same way (Cloud Scheduler fires every day; on a closed day each tick
returns after one read).

What is modelled (assumptions, printed with the result). Billed time per request = local run time + in-region
round trips (constants below) rounded up to 100 ms, + a cold start for the first request of a function that
runs only once or twice a day; CPU is billed for the whole request at the function's memory size's vCPU
share (Cloud Functions 2nd gen). A month = TRADING_DAYS trading days + the rest closed.

Static egress as deployed (infra/terraform/network.tf): a Serverless VPC Access connector (2 always-on
e2-micro), Cloud NAT and one reserved address. Also priced, as an alternative that is NOT deployed: direct
VPC egress (the functions' instances on a subnet, no connector) through the same NAT and address. The pinned
google provider (~> 6.50) cannot set it on google_cloudfunctions2_function (infra/terraform/README.md,
"Static egress"); its NAT gateway charge counts the function instances alive (from each call's virtual time
to IDLE_KEEP_S after it), the model's only new assumption.

Prices: Google's published list prices in USD, read in Nov 2026 (PRICES_READ); each has its source page.
Values marked [unconfirmed] could not be re-read from the page's regional table when this was written:
check them at the source before relying on them. Run:
    .venv/bin/python bench/cost_estimate.py [--symbols 50] [--days 21] [--json]"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import tron.runday.embedded as runner
from tron.config import schedule
from tron.config.settings import load_settings

TRADING_DAY = date(2026, 11, 23)  # a Monday session
CLOSED_DAY = date(2026, 11, 24)  # an NSE holiday (Guru Nanak Jayanti), as in the tests
TRADING_DAYS = 21
CALENDAR_DAYS = 30

# ---- prices (USD), read 2026-11 --------------------------------------------------------------------------
PRICES_READ = "2026-11"
RUN = "https://cloud.google.com/run/pricing"  # Cloud Functions 2nd gen bill as Cloud Run services
RUN_CPU_S = 0.000024  # per vCPU-second, request-based billing, Tier 1 [asia-south1 tier unconfirmed]
RUN_GIB_S = 0.0000025  # per GiB-second, Tier 1
RUN_REQUEST = 0.40 / 1e6
RUN_FREE_CPU_S, RUN_FREE_GIB_S, RUN_FREE_REQUESTS = 180_000, 360_000, 2_000_000  # per month, billing account
FIRESTORE = "https://cloud.google.com/firestore/pricing"
FS_READ, FS_WRITE = 0.036 / 1e5, 0.108 / 1e5  # asia-south1 [unconfirmed]
FS_FREE_READS, FS_FREE_WRITES = 50_000, 20_000  # per day, (default) database only
PUBSUB = "https://cloud.google.com/pubsub/pricing"
PUBSUB_TIB = 40.0  # message delivery throughput, per TiB, each request billed at >= 1000 bytes
PUBSUB_FREE_BYTES = 10 * 2**30  # per month
GCS = "https://cloud.google.com/storage/pricing"
GCS_CLASS_A, GCS_CLASS_B = 0.005 / 1000, 0.0004 / 1000  # Standard, regional
GCS_GB_MONTH = 0.023  # Standard storage in asia-south1 [unconfirmed]; the always-free tier is US-only
SCHEDULER = "https://cloud.google.com/scheduler/pricing"
SCHEDULER_JOB_MONTH, SCHEDULER_FREE_JOBS = 0.10, 3
SECRETS = "https://cloud.google.com/secret-manager/pricing"
SECRET_VERSION_MONTH, SECRET_ACCESS = 0.06, 0.03 / 10_000
SECRET_FREE_VERSIONS, SECRET_FREE_ACCESSES = 6, 10_000
CONNECTOR = "https://cloud.google.com/vpc/pricing#serverless-vpc-pricing"
E2_MICRO_HOUR = 0.01005  # e2-micro in asia-south1 [unconfirmed: us-central1's $0.008376 x 1.2]
NAT = "https://cloud.google.com/nat/pricing"
NAT_PER_INSTANCE_HOUR = (
    0.0014  # per instance (here: connector VM) behind the gateway [unconfirmed for serverless]
)
NAT_GIB = 0.045  # data processed
NAT_IP_HOUR = 0.005  # each static or ephemeral external IP a NAT gateway uses (same page)
DIRECT_VPC = "https://cloud.google.com/run/docs/configuring/vpc-direct-vpc"  # no instances to pay for
IP = "https://cloud.google.com/vpc/network-pricing#ipaddress"
STATIC_IP_HOUR = 0.005  # in-use static external IPv4
LOGGING = "https://cloud.google.com/stackdriver/pricing"
LOG_GIB, LOG_FREE_GIB = 0.50, 50  # ingestion, per project per month
HOURS_MONTH = 730

# ---- model constants (assumptions) -----------------------------------------------------------------------
RTT_S = {"fs_read": 0.008, "fs_write": 0.004, "gcs_request": 0.030, "publish": 0.015}
GCS_BYTES_PER_S = 50e6  # in-region object download/upload throughput of one function instance
KITE_CALL_S = 0.080  # one quote snapshot per tick, one order per execution (paper: the simulator's)
COLD_START_S = 2.0  # imports of a function on a cold instance (../shared/reference/gcp-local.md: 1.5-2 s)
REQUEST_LOG_BYTES = 1200  # the platform's request log per invocation
SCHEDULER_LOG_BYTES = 600  # Cloud Scheduler's AttemptFinished entry per firing
SECRET_TTL_MIN = 5  # SecretManagerSecrets caches a value 300 s per instance
SESSION_MINUTES = 375
SECRETS_GRANTED = {  # secrets each function may read (infra/terraform/functions.tf)
    "plan_day": 3,
    "tick_stocks": 2,
    "tick_futures": 2,
    "tick_options": 2,
    "execute_order": 2,
    "square_off": 2,
    "end_of_day": 3,
    "kite_login": 2,
}
CONNECTOR_MIN_INSTANCES = 2  # infra/terraform/network.tf
IDLE_KEEP_S = 900  # an instance stays up (and, with direct VPC egress, NAT-assigned) this long after a call
# [assumed: Google documents "an unspecified amount of time"; 15 min is the usual observation]
EGRESS_GIB_MONTH = 0.5  # Kite quotes/orders through NAT (assumed: ~20 KB per quote snapshot)
ARTIFACT_GB = 3.0  # function images kept in Artifact Registry (assumed)
ARTIFACT_GB_MONTH, ARTIFACT_FREE_GB = 0.10, 0.5

# Cloud Functions 2nd gen memory -> vCPU share (terraform memory sizes), and each function's memory.
VCPU = {"512Mi": 0.333, "1Gi": 0.583}
MEMORY = {
    "plan_day": "1Gi",
    "tick_stocks": "1Gi",
    "tick_futures": "1Gi",
    "tick_options": "1Gi",
    "execute_order": "512Mi",
    "square_off": "512Mi",
    "end_of_day": "1Gi",
    "kite_login": "512Mi",
}
GIB = {"512Mi": 0.5, "1Gi": 1.0}


@dataclass
class Usage:
    invocations: int = 0
    fs_reads: int = 0
    fs_writes: int = 0
    publishes: int = 0
    publish_bytes: int = 0
    gcs_a: int = 0
    gcs_b: int = 0
    gcs_bytes: int = 0
    gcs_moved: int = 0  # bytes downloaded + uploaded (an append rewrites the whole daily object)
    log_bytes: int = 0
    secret_reads: int = 0
    local_s: float = 0.0
    billed_s: float = 0.0
    durations: list[float] = field(default_factory=list)
    calls: list[tuple[float, float]] = field(default_factory=list)  # (virtual start s of day, billed s)

    def add(self, other: Usage, times: float = 1.0) -> None:
        for k in ("invocations", "fs_reads", "fs_writes", "publishes", "publish_bytes", "gcs_a", "gcs_b"):
            setattr(self, k, getattr(self, k) + getattr(other, k) * times)
        for k in ("gcs_bytes", "gcs_moved", "log_bytes", "secret_reads", "local_s", "billed_s"):
            setattr(self, k, getattr(self, k) + getattr(other, k) * times)


class Meter:
    """Per-function counters around the runner's call sites."""

    def __init__(self, deps: Any) -> None:
        self.deps = deps
        self.by_fn: dict[str, Usage] = defaultdict(Usage)
        self.current: str | None = None
        self.sizes: dict[str, int] = defaultdict(int)  # archive object -> bytes so far
        self._wrap_archive(deps.archive)
        self._wrap_bus(deps.bus)
        self._wrap_secrets(deps.secrets)

    def _u(self) -> Usage | None:
        return self.by_fn[self.current] if self.current else None

    def _wrap_archive(self, archive: Any) -> None:
        write, append, read = archive.write, archive.append_lines, archive.read

        def w(path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
            if u := self._u():
                u.gcs_a += 1
                u.gcs_bytes += len(data)
            return write(path, data, content_type)

        def a(path: str, lines: Any) -> None:
            lines = list(lines)
            size = sum(len(x.encode()) + 1 for x in lines)
            if u := self._u():
                u.gcs_a += 1  # upload with if_generation_match
                u.gcs_b += 2  # get_blob (metadata) + download of the current object
                u.gcs_bytes += size
                u.gcs_moved += 2 * self.sizes[path] + size
                if path.startswith("logs/"):
                    u.log_bytes += size
            self.sizes[path] += size
            append(path, lines)

        def r(path: str) -> bytes | None:
            if u := self._u():
                u.gcs_b += 1
            return read(path)

        archive.write, archive.append_lines, archive.read = w, a, r

    def _wrap_bus(self, bus: Any) -> None:
        publish = bus.publish

        def p(topic: str, data: dict, attributes: dict[str, str]) -> str:
            if u := self._u():
                u.publishes += 1
                u.publish_bytes += max(
                    1000, len(json.dumps(data)) + sum(len(k) + len(v) for k, v in attributes.items())
                )
            return publish(topic, data, attributes)

        bus.publish = p

    def _wrap_secrets(self, secrets: Any) -> None:
        get = secrets.get

        def g(name: str) -> str | None:
            if u := self._u():
                u.secret_reads += 1
            return get(name)

        secrets.get = g

    def around(self, function: str, call: Callable[[], Any]) -> Any:
        store = self.deps.store
        r0, w0 = store.reads, store.writes
        u = self.by_fn[function]
        before = (u.gcs_a, u.gcs_b, u.publishes, u.gcs_moved)
        self.current = function
        now = self.deps.clock.now()
        start_s = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
        t0 = time.perf_counter()
        try:
            return call()
        finally:
            dt = time.perf_counter() - t0
            self.current = None
            reads, writes = store.reads - r0, store.writes - w0
            gcs = (u.gcs_a - before[0]) + (u.gcs_b - before[1])
            pubs = u.publishes - before[2]
            modelled = (
                dt
                + reads * RTT_S["fs_read"]
                + writes * RTT_S["fs_write"]
                + gcs * RTT_S["gcs_request"]
                + (u.gcs_moved - before[3]) / GCS_BYTES_PER_S
                + pubs * RTT_S["publish"]
                + (
                    KITE_CALL_S
                    if function.startswith(("tick_", "execute_order", "square_off", "plan_day"))
                    else 0
                )
            )
            u.invocations += 1
            u.fs_reads += reads
            u.fs_writes += writes
            u.local_s += dt
            billed = math.ceil(modelled * 10) / 10
            u.billed_s += billed
            u.durations.append(dt)
            u.calls.append((start_s, billed))


def measure_day(day: date, symbols: int | None, tmp: Path) -> tuple[dict[str, Usage], dict[str, Any]]:
    settings = load_settings(data_dir=tmp, symbols=symbols)
    run = runner.prepare(settings, day, tmp / f"run-{day}")
    meter = Meter(run.deps)
    dispatch, execute = runner.dispatch, runner.execute_order

    def metered_dispatch(deps: Any, function: str, body: dict[str, Any]) -> Any:
        return meter.around(function, lambda: dispatch(deps, function, body))

    def metered_execute(deps: Any, data: bytes, attributes: dict[str, str]) -> Any:
        return meter.around("execute_order", lambda: execute(deps, data, attributes))

    runner.dispatch, runner.execute_order = metered_dispatch, metered_execute
    try:
        if run.deps.calendar.is_trading_day(day):
            result = runner.run_day(settings, day, run=run)
        else:
            # run_day only plans a closed day; Cloud Scheduler fires every job anyway: fire them all.
            for t, job in schedule.timeline(schedule.load(), day):
                run.deps.clock.set(t)
                runner.dispatch(run.deps, job.function, job.body)
            result = {"trading_day": False, "assets": {}}
    finally:
        runner.dispatch, runner.execute_order = dispatch, execute
    return dict(meter.by_fn), result


def cold_starts(fn: str, invocations: float) -> float:
    """Cold starts per day: functions called every minute stay warm; the rest start cold each time they
    run after a long idle (at most one per scheduled burst)."""
    if fn.startswith("tick_") or fn == "execute_order":
        return 1.0 if invocations else 0.0
    return float(invocations)


def instance_hours(usage: dict[str, Usage]) -> float:
    """Hours function instances exist in one day: per function, the union of [start, start + billed +
    IDLE_KEEP_S] over its calls (one instance at a time: calls of the simulated day do not overlap)."""
    total = 0.0
    for u in usage.values():
        end = -1.0
        for start, billed in sorted(u.calls):
            stop = start + billed + IDLE_KEEP_S
            total += max(0.0, stop - max(start, end))
            end = max(end, stop)
    return total / 3600


def estimate(trading: dict[str, Usage], closed: dict[str, Usage], days: int) -> dict[str, Any]:
    closed_days = CALENDAR_DAYS - days
    month: dict[str, Usage] = defaultdict(Usage)
    for fn, u in trading.items():
        month[fn].add(u, days)
    for fn, u in closed.items():
        month[fn].add(u, closed_days)
    # kite_login: one call per trading day (the morning login), not part of the simulated day
    kite = month["kite_login"]
    kite.invocations += days
    kite.billed_s += days * (COLD_START_S + 1.0)
    kite.secret_reads += days * 2
    for fn, u in month.items():
        if fn == "kite_login":
            continue
        per_day_cold = cold_starts(fn, trading.get(fn, Usage()).invocations)
        u.billed_s += COLD_START_S * (
            per_day_cold * days + cold_starts(fn, closed.get(fn, Usage()).invocations) * closed_days
        )

    lines: list[tuple[str, str, float, str]] = []  # (item, quantity, USD, source)

    cpu_s = sum(u.billed_s * VCPU[MEMORY[fn]] for fn, u in month.items())
    gib_s = sum(u.billed_s * GIB[MEMORY[fn]] for fn, u in month.items())
    requests = sum(u.invocations for u in month.values())
    run_gross = cpu_s * RUN_CPU_S + gib_s * RUN_GIB_S + requests * RUN_REQUEST
    run_free = RUN_FREE_CPU_S * RUN_CPU_S + RUN_FREE_GIB_S * RUN_GIB_S + RUN_FREE_REQUESTS * RUN_REQUEST
    lines.append(
        (
            "Cloud Functions (Run) compute",
            f"{requests:,.0f} requests, {cpu_s:,.0f} vCPU-s, {gib_s:,.0f} GiB-s",
            max(0.0, run_gross - run_free),
            RUN,
        )
    )

    fs_cost = 0.0
    per_day = [(trading, days), (closed, closed_days)]
    reads_m = writes_m = 0
    for usage, n in per_day:
        r = sum(u.fs_reads for u in usage.values())
        w = sum(u.fs_writes for u in usage.values())
        reads_m += r * n
        writes_m += w * n
        fs_cost += n * (max(0, r - FS_FREE_READS) * FS_READ + max(0, w - FS_FREE_WRITES) * FS_WRITE)
    lines.append(
        ("Firestore operations", f"{reads_m:,.0f} reads, {writes_m:,.0f} writes", fs_cost, FIRESTORE)
    )

    pub_bytes = sum(u.publish_bytes for u in month.values()) * 2  # publish + push delivery
    lines.append(
        (
            "Pub/Sub",
            f"{sum(u.publishes for u in month.values()):,.0f} messages",
            max(0.0, pub_bytes - PUBSUB_FREE_BYTES) / 2**40 * PUBSUB_TIB,
            PUBSUB,
        )
    )

    a = sum(u.gcs_a for u in month.values())
    b = sum(u.gcs_b for u in month.values())
    stored_gb = sum(u.gcs_bytes for u in month.values()) / 1e9  # one month's archive (30 days standard)
    lines.append(
        (
            "Cloud Storage archive",
            f"{a:,.0f} class A, {b:,.0f} class B, {stored_gb:.2f} GB",
            a * GCS_CLASS_A + b * GCS_CLASS_B + stored_gb * GCS_GB_MONTH,
            GCS,
        )
    )

    jobs = len(schedule.load())
    lines.append(
        (
            "Cloud Scheduler",
            f"{jobs} jobs",
            max(0, jobs - SCHEDULER_FREE_JOBS) * SCHEDULER_JOB_MONTH,
            SCHEDULER,
        )
    )

    # Accesses (modelled: paper mode reads no Kite secret): a live function reads each secret it is granted
    # (infra/terraform/functions.tf) once per cache TTL while warm, i.e. all session for the ticks and the
    # executor, once per call for the rest. Versions: 4 secrets + one kite_access_token version per login,
    # which stay active (billed) until destroyed.
    accesses = 0.0
    for fn, u in trading.items():
        warm = fn.startswith("tick_") or fn == "execute_order"
        refreshes = SESSION_MINUTES / SECRET_TTL_MIN if warm else u.invocations
        accesses += SECRETS_GRANTED.get(fn, 0) * refreshes * days
    accesses += days * SECRETS_GRANTED["kite_login"]
    versions = 4 + days
    lines.append(
        (
            "Secret Manager",
            f"{versions} active versions (month 1), {accesses:,.0f} accesses",
            max(0, versions - SECRET_FREE_VERSIONS) * SECRET_VERSION_MONTH
            + max(0.0, accesses - SECRET_FREE_ACCESSES) * SECRET_ACCESS,
            SECRETS,
        )
    )

    log_bytes = sum(u.log_bytes for u in month.values()) + requests * REQUEST_LOG_BYTES
    log_bytes += (
        sum(len(j.fire_times(TRADING_DAY)) for j in schedule.load()) * CALENDAR_DAYS * SCHEDULER_LOG_BYTES
    )
    lines.append(
        (
            "Cloud Logging ingestion",
            f"{log_bytes / 2**30:.2f} GiB",
            max(0.0, log_bytes / 2**30 - LOG_FREE_GIB) * LOG_GIB,
            LOGGING,
        )
    )
    lines.append(
        (
            "Artifact Registry (images)",
            f"{ARTIFACT_GB:.1f} GB (assumed)",
            max(0.0, ARTIFACT_GB - ARTIFACT_FREE_GB) * ARTIFACT_GB_MONTH,
            "https://cloud.google.com/artifact-registry/pricing",
        )
    )
    base = sum(x[2] for x in lines)

    egress = [
        (
            "VPC connector (2 x e2-micro, always on)",
            f"{CONNECTOR_MIN_INSTANCES * HOURS_MONTH} instance-hours",
            CONNECTOR_MIN_INSTANCES * HOURS_MONTH * E2_MICRO_HOUR,
            CONNECTOR,
        ),
        (
            "Cloud NAT gateway + data",
            f"{CONNECTOR_MIN_INSTANCES * HOURS_MONTH} instance-hours, {EGRESS_GIB_MONTH} GiB",
            CONNECTOR_MIN_INSTANCES * HOURS_MONTH * NAT_PER_INSTANCE_HOUR + EGRESS_GIB_MONTH * NAT_GIB,
            NAT,
        ),
        ("Static external IP (in use)", f"{HOURS_MONTH} hours", HOURS_MONTH * STATIC_IP_HOUR, IP),
    ]
    # The alternative: no connector; the NAT gateway serves the function instances themselves while they
    # exist (kite_login: one morning call a trading day, not part of the simulated day).
    nat_hours = (
        instance_hours(trading) * days
        + instance_hours(closed) * (CALENDAR_DAYS - days)
        + days * (COLD_START_S + 1.0 + IDLE_KEEP_S) / 3600
    )
    direct = [
        ("Direct VPC egress (no connector)", "no instances, subnet addresses free", 0.0, DIRECT_VPC),
        (
            "Cloud NAT gateway + data",
            f"{nat_hours:,.0f} function instance-hours, {EGRESS_GIB_MONTH} GiB",
            nat_hours * NAT_PER_INSTANCE_HOUR + EGRESS_GIB_MONTH * NAT_GIB,
            NAT,
        ),
        ("Static external IP (used by the NAT)", f"{HOURS_MONTH} hours", HOURS_MONTH * NAT_IP_HOUR, NAT),
    ]
    return {
        "lines": lines,
        "egress": egress,
        "direct_vpc": direct,
        "total_without_egress": base,
        "total_with_egress": base + sum(x[2] for x in egress),
        "total_with_direct_vpc": base + sum(x[2] for x in direct),
        "month": month,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbols", type=int, default=None, help="universe size (default: the NIFTY 50)")
    ap.add_argument("--days", type=int, default=TRADING_DAYS, help="trading days a month")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        trading, result = measure_day(TRADING_DAY, args.symbols, Path(tmp))
        closed, _ = measure_day(CLOSED_DAY, args.symbols, Path(tmp))
    est = estimate(trading, closed, args.days)
    if args.json:
        print(
            json.dumps(
                {
                    "per_trading_day": {fn: _row(u) for fn, u in trading.items()},
                    "per_closed_day": {fn: _row(u) for fn, u in closed.items()},
                    "lines": est["lines"],
                    "egress": est["egress"],
                    "direct_vpc": est["direct_vpc"],
                    "total_without_egress": est["total_without_egress"],
                    "total_with_egress": est["total_with_egress"],
                    "total_with_direct_vpc": est["total_with_direct_vpc"],
                },
                default=str,
            )
        )
        return 0
    trades = {a: s["trades"] for a, s in result.get("assets", {}).items()}
    print(
        f"Measured on a simulated trading day {TRADING_DAY} (trades per asset {trades}) and a closed day {CLOSED_DAY}:"
    )
    print(
        f"{'function':14} {'calls':>6} {'fs reads':>9} {'fs writes':>9} {'publish':>8} {'GCS A':>6} {'GCS B':>6} "
        f"{'log KiB':>8} {'GCS MB moved':>12} {'local ms p50':>12} {'billed s':>9}"
    )
    for label, usage in (("trading day", trading), ("closed day", closed)):
        print(f"-- {label}")
        for fn in sorted(usage):
            u = usage[fn]
            p50 = sorted(u.durations)[len(u.durations) // 2] * 1000 if u.durations else 0
            print(
                f"{fn:14} {u.invocations:>6} {u.fs_reads:>9} {u.fs_writes:>9} {u.publishes:>8} {u.gcs_a:>6} "
                f"{u.gcs_b:>6} {u.log_bytes / 1024:>8.0f} {u.gcs_moved / 1e6:>12.1f} {p50:>12.1f} {u.billed_s:>9.1f}"
            )
        tr = sum(u.fs_reads for u in usage.values())
        tw = sum(u.fs_writes for u in usage.values())
        print(
            f"{'total':14} {'':>6} {tr:>9} {tw:>9}   (free daily quota: {FS_FREE_READS:,} reads, {FS_FREE_WRITES:,} writes)"
        )
    print(
        f"\nMonthly estimate, asia-south1, {args.days} trading + {CALENDAR_DAYS - args.days} closed days, "
        f"list prices read {PRICES_READ} (USD):"
    )
    for item, qty, usd, _src in est["lines"] + est["egress"]:
        print(f"  {item:42} {qty:52} {usd:>8.2f}")
    print(
        f"  {'total without static egress (enable_static_egress=false)':95} {est['total_without_egress']:>8.2f}"
    )
    print(f"  {'total with the VPC connector, Cloud NAT and static IP':95} {est['total_with_egress']:>8.2f}")
    print(
        "Not deployable with the pinned google provider (~> 6.50 has no direct VPC egress on "
        "google_cloudfunctions2_function; see infra/terraform/README.md): the static egress with direct VPC "
        "egress instead of the connector:"
    )
    for item, qty, usd, _src in est["direct_vpc"]:
        print(f"  {item:42} {qty:52} {usd:>8.2f}")
    print(
        f"  {'total with direct VPC egress, Cloud NAT and static IP':95} {est['total_with_direct_vpc']:>8.2f}"
    )
    sources = est["lines"] + est["egress"] + est["direct_vpc"]
    print("Sources: " + ", ".join(sorted({x[3] for x in sources})))
    return 0


def _row(u: Usage) -> dict[str, Any]:
    return {k: v for k, v in u.__dict__.items() if k not in ("durations", "calls")}


if __name__ == "__main__":
    sys.exit(main())
