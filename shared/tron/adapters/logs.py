"""Structured logs: one JSON object per line in Cloud Logging's format (severity, message, component,
correlation id), timestamped by the TRON clock; optionally archived per day and component."""

from __future__ import annotations

import json
import logging
from typing import Any

from tron.ports import Archive, Clock

_SEVERITY = {"WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL", "INFO": "INFO", "DEBUG": "DEBUG"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON in Cloud Logging's shape, timestamped by ``clock``."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def record(self, r: logging.LogRecord) -> dict[str, Any]:
        """The record as a dict: severity, message, time, component (the ``component`` extra, else the
        logger name without "tron."), logger, and when present the correlation id (also as a Cloud Logging
        label), ``data`` and the exception."""
        out: dict[str, Any] = {
            "severity": _SEVERITY.get(r.levelname, "DEFAULT"),
            "message": r.getMessage(),
            "time": self.clock.now().isoformat(),
            "component": getattr(r, "component", r.name.removeprefix("tron.")),
            "logger": r.name,
        }
        if cid := getattr(r, "correlation_id", None):
            out["correlation_id"] = cid
            out["logging.googleapis.com/labels"] = {"correlation_id": cid}
        if data := getattr(r, "data", None):
            out["data"] = data
        if r.exc_info:
            out["exception"] = self.formatException(r.exc_info)
        return out

    def format(self, r: logging.LogRecord) -> str:
        """:meth:`record` as JSON (non-JSON values as strings, non-ASCII kept)."""
        return json.dumps(self.record(r), default=str, ensure_ascii=False)


class ArchiveHandler(logging.Handler):
    """Appends each record to logs/{date}/{component}.jsonl in the archive."""

    def __init__(self, archive: Archive, formatter: JsonFormatter) -> None:
        super().__init__()
        self.archive = archive
        self.json = formatter
        self.counts: dict[str, int] = {}

    def emit(self, r: logging.LogRecord) -> None:
        """Append the record's JSON line and count it by severity."""
        rec = self.json.record(r)
        self.counts[rec["severity"]] = self.counts.get(rec["severity"], 0) + 1
        self.archive.append_lines(
            f"logs/{rec['time'][:10]}/{rec['component']}.jsonl",
            [json.dumps(rec, default=str, ensure_ascii=False)],
        )


def install(handler: logging.Handler, level: int = logging.INFO) -> None:
    """Make ``handler`` the only handler of the "tron" logger, at ``level``, not propagating to the root."""
    root = logging.getLogger("tron")
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
