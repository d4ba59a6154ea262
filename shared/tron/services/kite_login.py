"""The daily Kite login, and what TRON does when the session is gone.

Kite access tokens expire at 06:00 IST every day. Each morning the user logs in on Kite; Kite redirects to
the kite_login function with a `request_token`, which is exchanged (with the api secret) for the day's
access token, stored as a new version of the `kite_access_token` secret. Every Kite call reads the latest
version, so the rest of the system needs no restart. Nothing here ever returns or logs a token."""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta
from typing import Any

from tron.domain.timeutil import ist
from tron.ports import BrokerUnavailable, Clock, LoginError, LoginNotConfigured, Secrets, TokenExchange
from tron.services import notify
from tron.services.deps import Deps
from tron.services.paths import day_path

log = logging.getLogger("tron.kite_login")
ACCESS_TOKEN_SECRET = "kite_access_token"
LOGIN_URL = "https://kite.zerodha.com/connect/login"
TOKEN_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")


def login_url(api_key: str) -> str:
    """Where the user logs in; Kite then redirects to the app's redirect URL with a request_token."""
    if not TOKEN_RE.match(api_key or ""):
        raise ValueError(f"a Kite api key is letters and digits, got {api_key!r}")
    return f"{LOGIN_URL}?v=3&api_key={api_key}"


def valid_until(at: datetime) -> datetime:
    """Kite sessions end at 06:00 IST: the next 06:00 after the login."""
    six = ist(at.date(), time(6, 0))
    return six if at < six else six + timedelta(days=1)


def check_request_token(value: Any) -> str:
    """The request token, stripped; LoginError when it is missing or not 1–128 letters and digits."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise LoginError("request_token is missing: Kite passes it as ?request_token=… after the login")
    if not isinstance(value, str) or not TOKEN_RE.match(value.strip()):
        raise LoginError("request_token is malformed: expected 1–128 letters and digits")
    return value.strip()


def complete_login(
    secrets: Secrets, exchange: TokenExchange, request_token: Any, clock: Clock
) -> dict[str, Any]:
    """Exchange the request token and store the access token as a new secret version. Returns what may be
    shown: the user id, the login time and until when the session is valid."""
    token = check_request_token(request_token)
    session = exchange.exchange(token)
    access = session.get("access_token")
    if not access:
        raise BrokerUnavailable("Kite returned a session without an access token")
    secrets.put(ACCESS_TOKEN_SECRET, str(access))
    now = clock.now()
    out = {
        "status": "ok",
        "user_id": session.get("user_id", ""),
        "login_time": str(session.get("login_time") or ""),
        "stored_as": ACCESS_TOKEN_SECRET,
        "valid_until": valid_until(now).isoformat(),
    }
    log.info(
        f"Kite login for {out['user_id']}: a new access token is stored, valid until {out['valid_until']}",
        extra={"component": "kite_login"},
    )
    return out


def answer(
    secrets: Secrets, exchange: TokenExchange, request_token: Any, clock: Clock
) -> tuple[int, dict[str, Any]]:
    """The HTTP answer of the kite_login function: 200, 400 (bad or refused token), 500 (not configured) or
    503 (Kite unreachable). Messages never include a token or the secret."""
    try:
        return 200, complete_login(secrets, exchange, request_token, clock)
    except LoginError as e:
        log.warning(f"Kite login refused: {e}", extra={"component": "kite_login"})
        return 400, {"status": "error", "error": str(e)}
    except LoginNotConfigured as e:
        log.error(f"Kite login not configured: {e}", extra={"component": "kite_login"})
        return 500, {"status": "error", "error": str(e)}
    except BrokerUnavailable as e:
        log.error(f"Kite login failed, try again: {e}", extra={"component": "kite_login"})
        return 503, {"status": "error", "error": f"Kite is unreachable, try again: {e}"}


def login(deps: Deps, request_token: Any) -> tuple[int, dict[str, Any]]:
    """The kite_login function's work: the configured Kite app exchanges the token, the deps' Secrets store
    it (a new Secret Manager version on the gcp backend)."""
    if deps.login is None:
        why = "no Kite root is configured (kite.root): there is no Kite app to log in to"
        log.error(f"Kite login not configured: {why}", extra={"component": "kite_login"})
        return 500, {"status": "error", "error": why}
    return answer(deps.secrets, deps.login, request_token, deps.clock)


def halt_for_expired_token(deps: Deps, reason: str) -> bool:
    """The Kite session is gone: halt today's entries (exits are never blocked) with an ERROR log. Returns
    True if this call halted the day (False: already halted, or no day planned)."""
    day = deps.clock.now().date().isoformat()

    def body(txn: Any) -> bool:
        doc = txn.get(day_path(day))
        if doc is None or doc.get("halted"):
            return False
        txn.set(day_path(day), {**doc, "halted": f"Kite session expired: {reason}"})
        return True

    halted = bool(deps.store.transaction(body))
    if halted:
        log.error(
            f"Kite session expired, entries halted for the day (exits continue once a new token is stored): "
            f"{reason}",
            extra={"component": "kite", "correlation_id": day},
        )
        notify.expired_token(deps, day, reason)
    return halted
