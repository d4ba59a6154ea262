"""The ports: everything services need from the world, as Protocols.

Each has an embedded adapter (local runs, tests) and a Google Cloud / Kite adapter; one contract test suite
runs against both."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from tron.domain.models import Asset, DailyBar, Instrument, OrderIntent, Snapshot
from tron.domain.plan import Plan, PlanContext

T = TypeVar("T")
Doc = dict[str, Any]


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware IST."""
        ...


class Txn(Protocol):
    def get(self, path: str) -> Doc | None: ...
    def set(self, path: str, data: Doc) -> None: ...
    def create(self, path: str, data: Doc) -> None:
        """Create the document; raises AlreadyExists if it is there."""
        ...


class StateStore(Protocol):
    """A document store with Firestore's shape: paths like `days/2026-11-23/intents/ID`."""

    def get(self, path: str) -> Doc | None: ...
    def set(self, path: str, data: Doc) -> None: ...
    def create(self, path: str, data: Doc) -> bool:
        """Create-if-absent: True if this call created it, False if it already existed."""
        ...

    def list(self, collection: str) -> list[tuple[str, Doc]]:
        """The documents directly in a collection, as (id, data), ordered by id."""
        ...

    def transaction(self, fn: Callable[[Txn], T]) -> T:
        """Run fn atomically (reads before writes); retried on contention, so fn must be repeatable."""
        ...


class AlreadyExists(Exception):
    pass


class Bus(Protocol):
    def publish(self, topic: str, data: Doc, attributes: dict[str, str]) -> str:
        """Publish a JSON message; returns the message id. Delivery is at least once."""
        ...


class Archive(Protocol):
    """Blob storage for logs, reports and replay inputs (GCS, or a local folder)."""

    def write(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Write and return a location the user can open (a file path or gs:// URL)."""
        ...

    def append_lines(self, path: str, lines: Iterable[str]) -> None: ...
    def read(self, path: str) -> bytes | None: ...


class Secrets(Protocol):
    def get(self, name: str) -> str | None: ...
    def put(self, name: str, value: str) -> None:
        """Store a new version (the daily Kite access token)."""
        ...


class MarketData(Protocol):
    def instruments(self, asset: Asset) -> list[Instrument]: ...
    def snapshot(self, symbols: list[str]) -> Snapshot:
        """One batched quote of the symbols as of now."""
        ...

    def daily_history(self, symbol: str, before: date, days: int) -> list[DailyBar]: ...
    def preflight(self) -> str | None:
        """None if quotes can be had today, else why not (an expired Kite session)."""
        ...


@dataclass(frozen=True)
class BrokerOrder:
    order_id: str
    tag: str
    status: str  # COMPLETE | REJECTED | OPEN | CANCELLED
    filled_qty: int
    avg_price: Decimal
    ts: datetime
    message: str = ""
    ambiguous: bool = False  # placed after a try whose fate is unknown: a second order may exist (see Broker)


class OrderRejected(Exception):
    """The broker refused the order (an input or order error): record it, do not retry."""


class BrokerUnavailable(Exception):
    """A transient failure (network, 429, no fresh quote yet): retry later."""


class Broker(Protocol):
    def place(self, intent: OrderIntent) -> BrokerOrder:
        """Place the intent's order with its tag; paper brokers fill it. Raises OrderRejected or
        BrokerUnavailable."""
        ...

    def find_by_tag(self, day: date, tag: str) -> BrokerOrder | None:
        """The order carrying this tag today, if the broker has one (recovery after a crash)."""
        ...

    def orders_with_tag(self, day: date, tag: str) -> list[BrokerOrder]:
        """Every order carrying this tag today, as the broker reports it now. Kite has no idempotency key:
        a place request held in the network can arrive after the retry that replaced it, so after an
        ambiguous placement there may be two."""
        ...

    def cancel(self, order_id: str) -> str:
        """Cancel a working order (OrderRejected if it is already complete or cancelled)."""
        ...

    def preflight(self) -> str | None:
        """A cheap call before the open: why the broker cannot be used today (an expired token), or None."""
        ...


class LoginError(ValueError):
    """The request token is missing, malformed or refused by Kite (the caller's error: HTTP 400)."""


class LoginNotConfigured(RuntimeError):
    """The Kite app is not configured here (no api secret, no Kite root): an operator's error."""


class TokenExchange(Protocol):
    def exchange(self, request_token: str) -> dict[str, Any]:
        """{"access_token", "user_id", "login_time"}; raises LoginError, LoginNotConfigured or
        BrokerUnavailable."""
        ...


class Planner(Protocol):
    name: str

    def plan(self, context: PlanContext) -> Plan: ...


class Reviewer(Protocol):
    def review(self, report: Doc) -> Doc:
        """Suggestions about the day (never applied automatically): {"summary": str, "suggestions": [str]}."""
        ...
