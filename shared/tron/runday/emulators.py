"""`tron run-day --backend emulators`: a whole trading day on the real Google Cloud stand-ins (the
Firestore and Pub/Sub emulators, fake-gcs-server), the functions served over HTTP at virtual time
(:func:`run_emulated_day`). Same seed and date → the same trades as the embedded backend."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from tron.adapters.clock import VirtualClock
from tron.adapters.logs import JsonFormatter, install
from tron.bootstrap import GcpClients, gcp
from tron.config import schedule
from tron.config.settings import Settings
from tron.devtools import emulators as dev
from tron.devtools.functions_host import FunctionsHost
from tron.devtools.metering import MeteredStore, meter
from tron.devtools.pubsub_push import PushWiring, pull_dead_letters, wire_push
from tron.domain.timeutil import ist
from tron.ports import Doc
from tron.runday.embedded import run_root
from tron.runday.loop import OnMinute, drive
from tron.services.end_of_day import summarize
from tron.services.paths import book_path

PROJECT = "tron-local"
BUCKET = "tron-local-archive"


class EmulatedDayError(RuntimeError):
    """A function answered with an error, or published messages were never acknowledged."""


@dataclass
class RecordingBus:
    """The bus the functions publish through, noting each message id so the day knows what to await."""

    inner: Any
    published: list[str] = field(default_factory=list)
    payloads: dict[str, bytes] = field(default_factory=dict)

    def publish(self, topic: str, data: Doc, attributes: dict[str, str]) -> str:
        mid = str(self.inner.publish(topic, data, attributes))
        self.published.append(mid)
        self.payloads[mid] = json.dumps(data, sort_keys=True).encode()  # what PubSubBus sends
        return mid

    def publish_raw(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        """Publish bytes as they are (tests: malformed messages, redriving dead letters)."""
        path = self.inner.topic_path(topic)
        mid = str(self.inner.publisher.publish(path, data, **(attributes or {})).result(timeout=30))
        self.published.append(mid)
        self.payloads[mid] = data
        return mid


class _JsonLines(logging.FileHandler):
    """The functions' stdout as Cloud Logging receives it: one JSON object per line; counts severities."""

    def __init__(self, path: Path, clock: Any) -> None:
        super().__init__(path, encoding="utf-8")
        self.setFormatter(JsonFormatter(clock))
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] = self.counts.get(record.levelname, 0) + 1
        super().emit(record)


@dataclass
class EmulatedDay:
    """The running parts of a day on the stand-ins (tests drive them directly)."""

    settings: Settings
    day: date
    root: Path
    emulators: dev.Emulators
    deps: Any
    meter: MeteredStore
    bus: RecordingBus
    host: FunctionsHost
    wiring: PushWiring
    subscriber: Any
    logs: _JsonLines
    owns_emulators: bool = True
    dead_letters: list[Any] = field(default_factory=list)

    @property
    def clock(self) -> VirtualClock:
        assert isinstance(self.deps.clock, VirtualClock)
        return self.deps.clock

    def settled(self) -> bool:
        """Every published message acknowledged (2xx), or failed and found in the dead-letter topic.

        Dead letters are matched by payload, not by counting failures here: the emulator may count a
        delivery attempt that never reached the endpoint."""
        gate = self.host.gate
        pending = [m for m in self.bus.published if m not in gate.acked]
        if not pending:
            return True
        if not any(m in gate.failed for m in pending):
            return False
        self.dead_letters.extend(pull_dead_letters(self.subscriber, self.wiring))
        dead = Counter(bytes(m.data) for m in self.dead_letters)
        for m in self.bus.published:
            if m not in gate.acked and dead[self.bus.payloads.get(m, b"")] > 0:
                dead[self.bus.payloads[m]] -= 1
            elif m not in gate.acked:
                return False
        return True

    def deliver(self, timeout_s: float = 120.0) -> None:
        """Let the held pushes through and wait until every message published so far is settled."""
        self.host.gate.open()
        if not self.host.gate.wait_settled(self.settled, timeout_s):
            gate = self.host.gate
            pending = [m for m in self.bus.published if m not in gate.acked]
            raise EmulatedDayError(
                f"{len(pending)} published message(s) not acknowledged after {timeout_s:.0f} s "
                f"(failures so far: {dict(gate.failed)}); first: {pending[:5]}"
            )
        self.host.gate.close()

    def call(self, function: str, body: dict[str, Any] | None = None) -> Any:
        """POST to an HTTP function as Cloud Scheduler would; its JSON answer, or EmulatedDayError."""
        status, answer = self.host.call(function, body)
        if status != 200:
            raise EmulatedDayError(f"{function} at {self.clock.now():%H:%M} answered {status}: {answer}")
        return answer

    def stop(self) -> None:
        """Stop the functions host, detach the log file and stop the stand-ins this day started."""
        self.host.stop()
        root = logging.getLogger("tron")
        root.removeHandler(self.logs)
        self.logs.close()
        if self.owns_emulators:
            self.emulators.stop()


def start(
    settings: Settings,
    day: date,
    root: Path,
    emulators: dev.Emulators | None = None,
    serialize: bool = True,
) -> EmulatedDay:
    """Start the stand-ins (or wipe and use running ones: tests share them; then the orders topic must be a
    fresh name, the Pub/Sub emulator cannot be wiped), compose the gcp backend on them, serve the functions
    and wire the push. `serialize=False` lets pushes run concurrently (duplicate-delivery tests).

    The stand-ins run on free ports; the gcp backend (bootstrap.gcp: FirestoreStore, PubSubBus, GcsArchive)
    runs on a VirtualClock at 08:45 IST of ``day``, which the functions share, as they are served in this
    process (tron.devtools.functions_host); the orders topic reaches the executor through a push
    subscription with a retry policy and a dead-letter topic. ``root`` is emptied first (a run is
    repeatable).
    """
    if root.exists():
        shutil.rmtree(root)  # a run is repeatable: same inputs, fresh stand-ins and folder
    root.mkdir(parents=True)
    owned = emulators is None
    emulators = emulators or dev.Emulators(root / "emulators").start()
    try:
        assert emulators.firestore and emulators.pubsub and emulators.gcs
        if not owned:
            dev.wipe_firestore(emulators.firestore, PROJECT)
            dev.wipe_gcs(emulators.gcs)
        firestore = dev.firestore_client(emulators.firestore, PROJECT)
        publisher, subscriber = dev.pubsub_clients(emulators.pubsub)
        storage = dev.storage_client(emulators.gcs, PROJECT)
        storage.create_bucket(BUCKET)
        gcp_settings = settings.model_copy(
            update={"backend": "gcp", "project": PROJECT, "archive_bucket": BUCKET}
        )
        clock = VirtualClock(ist(day, time(8, 45)))
        deps = gcp(gcp_settings, clock, GcpClients(firestore, publisher, storage))
        metered = meter(deps)
        bus = RecordingBus(deps.bus)
        deps.bus = bus
        logs = _JsonLines(root / "functions.jsonl", clock)
        install(logs, logging.INFO)
        host = FunctionsHost(deps, metered, serialize=serialize)
        wiring = wire_push(publisher, subscriber, PROJECT, settings.orders_topic, host.url("execute_order"))
    except BaseException:
        if owned:
            emulators.stop()
        raise
    return EmulatedDay(
        gcp_settings, day, root, emulators, deps, metered, bus, host, wiring, subscriber, logs, owned
    )


def _dump_firestore(client: Any) -> dict[str, Doc]:
    """Every document, by path (the whole emulator database: one day's run)."""
    out: dict[str, Doc] = {}

    def walk(collections: Any) -> None:
        for coll in collections:
            for ref in coll.list_documents():
                snap = ref.get()
                if snap.exists:
                    out[ref.path] = snap.to_dict() or {}
                walk(ref.collections())

    walk(client.collections())
    return dict(sorted(out.items()))


def _copy_archive(storage: Any, bucket: str, dest: Path) -> int:
    n = 0
    for blob in storage.list_blobs(bucket):
        path = dest / blob.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob.download_as_bytes())
        n += 1
    return n


def emulated_root(settings: Settings, day: date) -> Path:
    """The run folder of an emulated day: the embedded day's, with "-emulators" appended."""
    return run_root(settings, day).with_name(run_root(settings, day).name + "-emulators")


def run_emulated_day(
    settings: Settings,
    day: date,
    root: Path | None = None,
    on_minute: OnMinute | None = None,
    jobs: list[schedule.Job] | None = None,
    emulators: dev.Emulators | None = None,
) -> dict[str, Any]:
    """Run the day; returns the same summary as the embedded day plus the push, dead-letter and
    Firestore-operation figures. `emulators`: running stand-ins to use instead of starting new ones.

    The day is driven from the schedule at virtual time (tron.runday.loop.drive): each minute the clock is
    set, the pushes of the last minute's intents are let through and every published message is awaited
    until acknowledged (or dead-lettered), then the minute's jobs are called over HTTP as Cloud Scheduler
    would. EmulatedDayError if a function answers with an error or a message is never settled.

    Everything the day leaves behind is copied out before the stand-ins stop, under ``root`` (default:
    :func:`emulated_root`): state.json (every Firestore document), archive/ (every GCS object),
    functions.jsonl (the functions' JSON logs, as Cloud Logging would receive them), emulators/ (the
    stand-ins' own logs).
    """
    root = root or emulated_root(settings, day)
    run = start(settings, day, root, emulators)
    try:
        drive(
            day,
            run.clock,
            run.deps.calendar,
            run.deliver,
            lambda job: run.call(job.function, job.body),
            jobs,
            on_minute,
        )
        result = summarize(run.deps, day.isoformat())
        if not run.deps.calendar.is_trading_day(day):
            result["reason"] = run.deps.calendar.why_closed(day)
        run.dead_letters.extend(pull_dead_letters(run.subscriber, run.wiring))
        result.update(_wrap_up(run))
    finally:
        run.stop()
    return result


def _wrap_up(run: EmulatedDay) -> dict[str, Any]:
    """Copy the day out of the stand-ins and add the delivery and store figures to the summary."""
    day = run.day.isoformat()
    fs_client = run.deps.store.inner.client
    state = _dump_firestore(fs_client)
    (run.root / "state.json").write_text(json.dumps(state, indent=1, sort_keys=True, default=str))
    archived = _copy_archive(run.deps.archive.client, BUCKET, run.root / "archive")
    local_report = run.root / "archive" / "reports" / day / "report.html"
    gate = run.host.gate
    return {
        "backend": "emulators",
        "duplicate_deliveries_ignored": sum(
            int(d.get("duplicates_ignored", 0)) for p, d in state.items() if p.startswith(book_path(day, ""))
        ),
        "bus": {
            "published": len(run.bus.published),
            "pushes": gate.received,
            "pushes_failed": sum(gate.failed.values()),
            "dead_lettered": len(run.dead_letters),
        },
        "firestore_ops": {
            "total": {"reads": run.meter.total.reads, "writes": run.meter.total.writes},
            "adapter_counted": {"reads": run.meter.inner.reads, "writes": run.meter.inner.writes},
            "paper_broker": {"reads": run.meter.total.paper_reads, "writes": run.meter.total.paper_writes},
            "by_function": run.meter.report(),
        },
        "logs_by_severity": dict(run.logs.counts),
        "state": str(run.root / "state.json"),
        "logs": str(run.root / "functions.jsonl"),
        "archive": f"{run.root / 'archive'} ({archived} objects copied from gs://{BUCKET})",
        **({"report_html": str(local_report)} if local_report.exists() else {}),
    }
