"""tron.services.kite_login: the daily login stores a new token and never returns it; bad request tokens
and refused logins store nothing; the login URL."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from tests.support.fakes.kite import Clock
from tron.adapters.env_secrets import EnvSecrets
from tron.domain.timeutil import ist
from tron.ports import BrokerUnavailable, LoginError
from tron.services.kite_login import answer, check_request_token, login_url, valid_until

DAY = date(2026, 11, 23)


class Exchange:
    def __init__(self, result: Any) -> None:
        self.result = result

    def exchange(self, request_token: str) -> dict[str, Any]:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def test_the_login_stores_a_new_token_and_never_returns_it() -> None:
    secrets = EnvSecrets({})
    clock = Clock(ist(DAY, time(8, 30)))
    status, body = answer(
        secrets, Exchange({"access_token": "SECRET123", "user_id": "AB1234"}), "req42", clock
    )
    assert status == 200 and secrets.get("kite_access_token") == "SECRET123"
    assert "SECRET123" not in str(body) and body["valid_until"] == "2026-11-24T06:00:00+05:30"
    assert valid_until(ist(DAY, time(5))).day == 23


@pytest.mark.parametrize("bad", [None, "", "  ", "has space", "x" * 129, 42, "tok;drop"])
def test_a_missing_or_malformed_request_token_is_a_clear_400(bad: Any) -> None:
    secrets = EnvSecrets({})
    status, body = answer(secrets, Exchange({"access_token": "T"}), bad, Clock(ist(DAY, time(8))))
    assert status == 400 and "request_token" in body["error"]
    assert secrets.get("kite_access_token") is None
    with pytest.raises(LoginError):
        check_request_token(bad)


def test_a_refused_or_unreachable_login_stores_nothing() -> None:
    secrets = EnvSecrets({})
    clock = Clock(ist(DAY, time(8)))
    assert answer(secrets, Exchange(LoginError("Kite refused the request token")), "abc", clock)[0] == 400
    assert answer(secrets, Exchange(BrokerUnavailable("down")), "abc", clock)[0] == 503
    assert secrets.get("kite_access_token") is None


def test_the_login_url_is_kites() -> None:
    assert login_url("sim") == "https://kite.zerodha.com/connect/login?v=3&api_key=sim"
    with pytest.raises(ValueError):
        login_url("a&b=c")
