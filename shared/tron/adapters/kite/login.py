"""The daily login's exchange on the official client: request_token → generate_session → access token.

The api secret is read from the Secrets port when needed (never stored in settings or printed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tron.adapters.kite.errors import Kind, classify, describe
from tron.adapters.kite.session import API_SECRET_SECRET, app_api_key
from tron.ports import BrokerUnavailable, LoginError, LoginNotConfigured, Secrets


class KiteTokenExchange:
    """The TokenExchange port on Kite. `api_key` is the configured one; a stored secret kite_api_key wins,
    read at the exchange (composing makes no Secret Manager call)."""

    def __init__(
        self,
        api_key: str,
        secrets: Secrets,
        root: str | None,
        timeout: float = 7.0,
        client_factory: Callable[..., Any] = KiteConnect,
    ) -> None:
        self.api_key = api_key
        self.secrets = secrets
        self.root = root
        self.timeout = timeout
        self._factory = client_factory

    def exchange(self, request_token: str) -> dict[str, Any]:
        """``generate_session`` with the api secret; {"access_token", "user_id", "login_time"}.

        LoginNotConfigured without a Kite root or an api secret; LoginError when Kite refuses the token;
        BrokerUnavailable for a transient or rate-limited failure.
        """
        if not self.root:
            raise LoginNotConfigured(
                "no Kite root is configured (kite.root): this build only talks to a Kite simulator; "
                "the real Kite API needs mode 'live', which is refused"
            )
        secret = self.secrets.get(API_SECRET_SECRET)
        if not secret:
            raise LoginNotConfigured(f"the Kite api secret is not set (secret {API_SECRET_SECRET!r})")
        client = self._factory(app_api_key(self.secrets, self.api_key), root=self.root, timeout=self.timeout)
        try:
            session = client.generate_session(request_token, api_secret=secret)
        except kex.KiteException as e:
            if classify(e) in (Kind.TRANSIENT, Kind.RATE_LIMITED):
                raise BrokerUnavailable(f"Kite login: {describe(e)}") from None
            raise LoginError(f"Kite refused the request token: {type(e).__name__}: {e}") from None
        except Exception as e:
            if classify(e) is not None:
                raise BrokerUnavailable(f"Kite login: {describe(e)}") from None
            raise
        return {
            "access_token": session["access_token"],
            "user_id": session.get("user_id", ""),
            "login_time": session.get("login_time"),
        }
