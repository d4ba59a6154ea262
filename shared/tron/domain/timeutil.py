"""IST time helpers. Every timestamp in TRON is timezone-aware IST; nothing here reads the clock."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")

MARKET_OPEN = time(9, 15)


def ist(d: date, t: time) -> datetime:
    """The IST instant of a wall-clock time on a date."""
    return datetime.combine(d, t, tzinfo=IST)


def require_ist(ts: datetime) -> datetime:
    """Reject naive timestamps; convert aware ones to IST."""
    if ts.tzinfo is None:
        raise ValueError(f"naive timestamp {ts.isoformat()}: TRON only accepts timezone-aware times")
    return ts.astimezone(IST)


def parse_hhmm(text: str) -> time:
    """'HH:MM' as a time; ValueError names the text when it is not one."""
    try:
        hh, mm = text.split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise ValueError(f"must be HH:MM, got {text!r}") from None
