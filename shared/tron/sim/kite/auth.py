"""Sessions: request-token exchange with Kite's checksum, access tokens that die at 06:00 IST.

Kite's access token is valid until 6 AM the next day; the simulator measures that on its own clock, so a
test advancing a virtual clock past 06:00 sees the 403 TokenException a real morning would bring."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from tron.domain.timeutil import IST, ist

EXPIRY_HOUR = time(6, 0)


def checksum(api_key: str, request_token: str, api_secret: str) -> str:
    return hashlib.sha256((api_key + request_token + api_secret).encode()).hexdigest()


def expiry_after(login: datetime) -> datetime:
    """The first 06:00 IST strictly after the login instant."""
    local = login.astimezone(IST)
    cut = ist(local.date(), EXPIRY_HOUR)
    return cut if local < cut else cut + timedelta(days=1)


@dataclass
class Session:
    access_token: str
    public_token: str
    login_time: datetime
    expires_at: datetime


class Sessions:
    """Issued tokens; request tokens are single use, as on Kite."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.by_token: dict[str, Session] = {}
        self.used_request_tokens: set[str] = set()

    def create(self, now: datetime) -> Session:
        s = Session(secrets.token_hex(16), secrets.token_hex(16), now, expiry_after(now))
        self.by_token[s.access_token] = s
        return s

    def valid(self, access_token: str, now: datetime) -> bool:
        s = self.by_token.get(access_token)
        return s is not None and now < s.expires_at

    def invalidate(self, access_token: str) -> bool:
        return self.by_token.pop(access_token, None) is not None

    def expire_all(self) -> None:
        self.by_token.clear()
