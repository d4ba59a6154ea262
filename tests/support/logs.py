"""TRON's log records for tests to read (caplog misses them once a run has installed the archive handler
on "tron", which stops propagation)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: str, text: str) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelname == level and text in r.getMessage()]


@contextmanager
def tron_records() -> Iterator[Records]:
    """Collect the "tron" logger's records at INFO and above; the logger's level is restored after."""
    handler, logger = Records(), logging.getLogger("tron")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
