"""The services on a bad day, minute by minute on the embedded backend: ticks that arrive late, quotes that
are garbage, exits that cannot get through, messages that lie. Each case ends in a clear record and moves
no money that was not decided."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TRADING_DAY, settings
from tests.support.day import ManualDay
from tron.domain.models import Asset


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: str, text: str) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelname == level and text in r.getMessage()]


@pytest.fixture
def logs() -> Iterator[Records]:
    handler, logger = Records(), logging.getLogger("tron")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def day(tmp_path: Path) -> ManualDay:
    return ManualDay.start(settings(tmp_path), TRADING_DAY, tmp_path / "run")


# ---------------------------------------------------------------------------------------------- late ticks
def test_a_tick_older_than_the_last_processed_minute_is_skipped_as_stale(
    day: ManualDay, logs: Records
) -> None:
    day.run(day.at(9, 15), day.at(10, 1), [Asset.STOCKS])
    before = day.doc(f"days/{TRADING_DAY}/assets/stocks")
    late = day.minute(day.at(10, 0), [Asset.STOCKS])[Asset.STOCKS]  # committed after 10:01's tick
    assert late.status == "stale" and late.intents == []
    after = day.doc(f"days/{TRADING_DAY}/assets/stocks")
    assert after["last_minute"] == before["last_minute"] == day.at(10, 1).isoformat()
    assert after["session"] == before["session"]
    assert logs.at("WARNING", "stale tick")
