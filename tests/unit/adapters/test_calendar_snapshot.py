"""The NSE calendar file that cold starts read (tron.adapters.calendar_snapshot) is the calendar that
pandas_market_calendars and special_sessions.txt give; the composition root uses it."""

from __future__ import annotations

from tron.adapters.calendar import nse_calendar
from tron.adapters.calendar_snapshot import snapshot_calendar, to_doc


def test_the_calendar_file_is_the_computed_calendar() -> None:
    snap = snapshot_calendar()
    assert snap is not None, "data/nse_calendar.json missing: python -m tron.adapters.calendar_snapshot"
    assert to_doc(snap) == to_doc(nse_calendar()), (
        "data/nse_calendar.json is stale: regenerate it with python -m tron.adapters.calendar_snapshot"
    )
