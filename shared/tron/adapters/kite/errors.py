"""What a failed Kite call means for TRON, decided in one place.

| failure | kind | what happens |
|---|---|---|
| HTTP 429 (any error type), "Too many requests" | RATE_LIMITED | retried with backoff (the request was refused, so a retry is safe) |
| NetworkException, DataException, GeneralException with a 5xx, connection errors, timeouts | TRANSIENT | retried with backoff, then BrokerUnavailable (an order retry first looks for the tag) |
| InputException, OrderException, PermissionException, other 4xx | REJECTED | OrderRejected: recorded, never retried |
| TokenException | TOKEN | TokenExpired: entries halt for the day (ERROR log); exits keep being retried |
"""

from __future__ import annotations

from enum import Enum

import requests
from kiteconnect import exceptions as kex

from tron.ports import BrokerUnavailable


class Kind(Enum):
    """What a failed Kite call means: retried (RATE_LIMITED, TRANSIENT), refused (REJECTED) or a new login
    needed (TOKEN); the module docstring's table says which failures are which."""

    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    REJECTED = "rejected"
    TOKEN = "token"


class TokenExpired(BrokerUnavailable):
    """The Kite session is gone (expired at 06:00 IST, revoked, or never created): run the daily login.

    A BrokerUnavailable, so a caller that does not know better retries (an exit keeps trying, and succeeds as
    soon as a fresh token is stored); the broker turns it into a rejection for entries."""


def classify(exc: BaseException) -> Kind | None:
    """The kind of a failure, or None for a programming error that must not be swallowed."""
    if isinstance(exc, kex.KiteException):
        code = getattr(exc, "code", None)
        if code == 429 or "too many requests" in str(exc).lower():
            return Kind.RATE_LIMITED
        if isinstance(exc, kex.TokenException):
            return Kind.TOKEN
        if isinstance(exc, (kex.InputException, kex.OrderException, kex.PermissionException)):
            return Kind.REJECTED
        if isinstance(exc, (kex.NetworkException, kex.DataException)):
            return Kind.TRANSIENT
        # GeneralException and unknown types: a server fault is transient, a client fault is a refusal.
        return Kind.TRANSIENT if code is None or int(code) >= 500 else Kind.REJECTED
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
        return Kind.TRANSIENT
    if isinstance(exc, requests.RequestException):
        return Kind.TRANSIENT
    return None


def describe(exc: BaseException) -> str:
    """`ErrorType (HTTP code): message`, never including credentials."""
    code = getattr(exc, "code", None)
    where = f" (HTTP {code})" if code else ""
    return f"{type(exc).__name__}{where}: {exc}"
