"""IST time helpers. Every timestamp in TRON is timezone-aware IST; nothing here reads the clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")

MARKET_OPEN = time(9, 15)
MARKET_CLOSE = time(15, 30)


def ist(d: date, t: time) -> datetime:
    """The IST instant of a wall-clock time on a date."""
    return datetime.combine(d, t, tzinfo=IST)


def require_ist(ts: datetime) -> datetime:
    """Reject naive timestamps; convert aware ones to IST."""
    if ts.tzinfo is None:
        raise ValueError(f"naive timestamp {ts.isoformat()}: TRON only accepts timezone-aware times")
    return ts.astimezone(IST)


def floor_minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def session_minutes(d: date) -> list[datetime]:
    """Every minute mark from the open to the last minute of the normal session (09:15 … 15:29)."""
    start = ist(d, MARKET_OPEN)
    n = (MARKET_CLOSE.hour * 60 + MARKET_CLOSE.minute) - (MARKET_OPEN.hour * 60 + MARKET_OPEN.minute)
    return [start + timedelta(minutes=i) for i in range(n)]


def parse_hhmm(text: str) -> time:
    hh, mm = text.split(":")
    return time(int(hh), int(mm))
