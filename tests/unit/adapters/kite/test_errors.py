"""The Kite adapters' error classification: every failure is transient, a rejection, a token error or
unknown."""

from __future__ import annotations

import pytest
import requests
from kiteconnect import exceptions as kex

from tron.adapters.kite import Kind, classify


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (kex.NetworkException("Too many requests", code=429), Kind.RATE_LIMITED),
        (kex.InputException("rate", code=429), Kind.RATE_LIMITED),
        (kex.NetworkException("OMS down", code=503), Kind.TRANSIENT),
        (kex.DataException("bad gateway", code=502), Kind.TRANSIENT),
        (kex.GeneralException("boom", code=500), Kind.TRANSIENT),
        (kex.GeneralException("teapot", code=418), Kind.REJECTED),
        (kex.InputException("bad tag", code=400), Kind.REJECTED),
        (kex.OrderException("margin", code=400), Kind.REJECTED),
        (kex.PermissionException("nope", code=403), Kind.REJECTED),
        (kex.TokenException("expired", code=403), Kind.TOKEN),
        (requests.ConnectionError("refused"), Kind.TRANSIENT),
        (requests.Timeout("slow"), Kind.TRANSIENT),
        (KeyError("content-type"), None),
    ],
)
def test_every_failure_is_classified(exc: BaseException, kind: Kind | None) -> None:
    assert classify(exc) is kind
