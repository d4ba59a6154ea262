"""The NSE calendar as a file: tron/data/nse_calendar.json holds the holidays and special sessions that
tron.adapters.calendar.nse_calendar() computes with pandas_market_calendars.

Why: computing it imports pandas and pandas_market_calendars, about 0.3–0.45 s of every Cloud Function's
cold start (bench/cold_start.py), while the list changes once a year. A test
(tests/unit/adapters/test_calendar_snapshot.py) fails when the file differs from the computed calendar:
regenerate it with `python -m tron.adapters.calendar_snapshot`."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path

from tron.domain.calendar import TradingCalendar

FILE = "nse_calendar.json"


def snapshot_calendar() -> TradingCalendar | None:
    """The calendar from the file, or None when there is no file (bootstrap then computes it)."""
    res = resources.files("tron.data").joinpath(FILE)
    if not res.is_file():
        return None
    doc = json.loads(res.read_text())
    return TradingCalendar(
        holidays=frozenset(map(date.fromisoformat, doc["holidays"])),
        special_sessions=frozenset(map(date.fromisoformat, doc["special_sessions"])),
    )


def to_doc(cal: TradingCalendar) -> dict[str, list[str]]:
    """The calendar as the snapshot file stores it: sorted ISO dates of holidays and special sessions."""
    return {
        "holidays": sorted(d.isoformat() for d in cal.holidays),
        "special_sessions": sorted(d.isoformat() for d in cal.special_sessions),
    }


def write() -> Path:
    """Compute the calendar (tron.adapters.calendar.nse_calendar) and write the snapshot file; its path."""
    from tron.adapters.calendar import nse_calendar

    path = Path(str(resources.files("tron.data").joinpath(FILE)))
    path.write_text(json.dumps(to_doc(nse_calendar()), indent=1) + "\n")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
