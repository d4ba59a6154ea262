"""The ports: everything services need from the world, as Protocols.

Each has an embedded adapter (local runs, tests) and a Google Cloud / Kite adapter; one contract test suite
runs against both."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from tron.domain.models import Asset, Candle, DailyBar, Instrument, OrderIntent, Side, Snapshot
from tron.domain.plan import Plan, PlanContext
from tron.domain.structures import PlannedLeg

T = TypeVar("T")
Doc = dict[str, Any]


class Clock(Protocol):
    """The time source every service reads (real, virtual or scaled; nothing else calls datetime.now)."""

    def now(self) -> datetime:
        """Timezone-aware IST."""
        ...


class Txn(Protocol):
    """The view of the store inside StateStore.transaction: every read must come before the first write."""

    def get(self, path: str) -> Doc | None:
        """The document's data, or None if it does not exist."""
        ...

    def set(self, path: str, data: Doc) -> None:
        """Write the whole document (replacing it) when the transaction commits."""
        ...

    def create(self, path: str, data: Doc) -> None:
        """Create the document; raises AlreadyExists if it is there."""
        ...


class StateStore(Protocol):
    """A document store with Firestore's shape: paths like `days/2026-11-23/intents/ID`."""

    def get(self, path: str) -> Doc | None:
        """The document's data, or None if it does not exist."""
        ...

    def set(self, path: str, data: Doc) -> None:
        """Write the whole document (replacing it)."""
        ...

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
    """Txn.create found its document already there (the whole transaction is rolled back)."""


class Bus(Protocol):
    """The message bus that carries claimed order intents from the tick to the executor."""

    def publish(self, topic: str, data: Doc, attributes: dict[str, str]) -> str:
        """Publish a JSON message; returns the message id. Delivery is at least once."""
        ...


class Archive(Protocol):
    """Blob storage for logs, reports and replay inputs (GCS, or a local folder)."""

    def write(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Write (replacing the blob whole: a reader never sees half of it) and return a location the user
        can open (a file path or gs:// URL)."""
        ...

    def append_lines(self, path: str, lines: Iterable[str]) -> None:
        """Append the lines (each ending in one newline), creating the blob if needed; concurrent appenders
        never lose each other's lines."""
        ...

    def read(self, path: str) -> bytes | None:
        """The blob's bytes, or None if there is none."""
        ...


class Secrets(Protocol):
    """Named secrets: the Kite api key and secret, the daily access token, the OpenAI key."""

    def get(self, name: str) -> str | None:
        """The latest value of the secret, or None if it is not set."""
        ...

    def put(self, name: str, value: str) -> None:
        """Store a new version (the daily Kite access token)."""
        ...


class MarketData(Protocol):
    """Instruments, quotes and daily history of the market (Kite, or the generated market)."""

    def instruments(self, asset: Asset) -> list[Instrument]:
        """The instruments of an asset class listed today (the universe for stocks, NIFTY contracts for
        F&O)."""
        ...

    def snapshot(self, symbols: list[str]) -> Snapshot:
        """One batched quote of the symbols as of now."""
        ...

    def daily_history(self, symbol: str, before: date, days: int) -> list[DailyBar]:
        """Up to ``days`` daily bars of the sessions before ``before``, oldest first."""
        ...

    def minute_bars(self, symbol: str, since: datetime) -> list[Candle]:
        """The completed one-minute candles of since's day that start at or after ``since``, oldest first
        (Kite's historical candles): the true high and low a resting stop is worked against."""
        ...

    def preflight(self) -> str | None:
        """None if quotes can be had today, else why not (an expired Kite session)."""
        ...


@dataclass(frozen=True)
class HistoryBar:
    """One candle of the broker's history: its start (IST), prices, traded volume and open interest (0 when
    the broker gives none: equities, indices, or OI not asked for)."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int
    oi: int = 0


class SessionExpired(Exception):
    """The broker session is gone (no access token, or an expired one): log in again; retrying cannot help."""


class HistoricalData(Protocol):
    """The broker's archive of candles and its instruments list (Kite's historical API), for research
    downloads (`tron data fetch`). Calls are paced at the broker's rate; a request must fit its span limit.

    Every method raises SessionExpired when the session is gone, BrokerUnavailable when the broker cannot
    answer now (try again later), OrderRejected when it refuses the request itself."""

    def max_days(self, interval: str) -> int | None:
        """The most calendar days one request of the interval may span (Kite: minute 60, day 2000), or None
        when the broker has no such interval."""
        ...

    def continuous(self, interval: str) -> bool:
        """Whether the broker splices a future's expired contracts into one series at this interval (Kite:
        day candles only)."""
        ...

    def instruments(self) -> list[dict[str, Any]]:
        """Today's instruments list of every exchange, as the broker lists it (Kite's dump: instrument_token,
        exchange_token, tradingsymbol, name, last_price, expiry, strike, tick_size, lot_size,
        instrument_type, segment, exchange). Only live contracts are listed."""
        ...

    def candles(
        self,
        token: int,
        start: datetime,
        end: datetime,
        interval: str,
        continuous: bool = False,
        oi: bool = False,
    ) -> list[HistoryBar]:
        """The candles of an instrument starting between ``start`` and ``end`` (one request: the span must
        fit :meth:`max_days`), oldest first."""
        ...


@dataclass(frozen=True)
class BrokerOrder:
    """An order's state at the broker as the executor books it: what filled (``filled_qty`` at
    ``avg_price``), when, and the broker's message."""

    order_id: str
    tag: str
    status: str  # COMPLETE | REJECTED | CANCELLED | OPEN | TRIGGER PENDING (a stop resting, not triggered)
    filled_qty: int
    avg_price: Decimal
    ts: datetime
    message: str = ""
    ambiguous: bool = False  # placed after a try whose fate is unknown: a second order may exist (see Broker)
    parts: tuple[tuple[int, Decimal], ...] = ()  # sent in slices (freeze quantity): each one's fill and price

    @property
    def executed(self) -> tuple[tuple[int, Decimal], ...]:
        """What each executed order filled, at its price: the slices that filled, or the order itself (the
        broker charges brokerage per executed order)."""
        if self.parts:
            return tuple((q, px) for q, px in self.parts if q > 0)
        return ((self.filled_qty, self.avg_price),) if self.filled_qty > 0 else ()

    @property
    def ended(self) -> bool:
        """It works no more: what it filled is final."""
        return self.status in ENDED_STATUSES


SLICE_SEP = "+"  # joins the broker's order ids of an order sent in slices into the one id TRON holds for it


def order_ids(order_id: str) -> list[str]:
    """The broker's order ids behind an order TRON holds: one, or an order's slices."""
    return order_id.split(SLICE_SEP)


ENDED_STATUSES = ("COMPLETE", "REJECTED", "CANCELLED")  # Kite's statuses of an order that works no more


@dataclass(frozen=True)
class WorkingOrder:
    """An order still working at the broker (or an active GTT, ``kind`` "gtt"): what the open's check reads.
    ``tag`` is empty for one TRON did not place."""

    order_id: str
    symbol: str
    tag: str
    status: str
    kind: str = "order"


@dataclass(frozen=True)
class ExternalFill:
    """What an order TRON did not place (no tag) filled on the account today: one from the Kite app, or the
    broker's auto square-off (``by`` ADMINSQF, which costs ₹50 + GST on top of the usual charges)."""

    order_id: str
    symbol: str
    side: Side
    qty: int
    price: Decimal
    ts: datetime
    by: str


class OrderRejected(Exception):
    """The broker refused the order (an input or order error): record it, do not retry."""


class BrokerUnavailable(Exception):
    """A transient failure (network, 429, no fresh quote yet): retry later."""


class Broker(Protocol):
    """Where orders go: Kite, or a paper broker that fills at the quotes.

    Besides MARKET orders it rests stops: a protect intent (order_type SL-M or SL, its trigger and an SL's
    limit) is placed and answered TRIGGER PENDING; it fills at the broker by the stop-fill model
    (tron.domain.stop_fill) when the market reaches it, is moved by :meth:`modify` (a trail) and turned
    into an exit by :meth:`convert`, so a stop and an exit can never both fill."""

    def place(self, intent: OrderIntent) -> BrokerOrder:
        """Place the intent's order with its tag: a MARKET order is followed to its end (paper brokers fill
        it), a stop until it rests. Raises OrderRejected or BrokerUnavailable."""
        ...

    def modify(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        """Move a resting stop to a trail intent's trigger (and limit); the order as it now rests. Raises
        OrderRejected when the broker refuses (the order ended, the trigger is already crossed, no
        modifications left) or BrokerUnavailable."""
        ...

    def convert(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        """Turn a resting stop into the exit intent's order now (SL-M to MARKET with market protection, SL to
        a marketable LIMIT inside the price bands) and follow it to its end. A stop that already filled is
        answered as it filled (COMPLETE: book that fill as the exit). Raises OrderRejected or
        BrokerUnavailable."""
        ...

    def order_states(self, day: date, order_ids: list[str]) -> dict[str, BrokerOrder]:
        """These orders as the broker holds them now, in one read (orders it does not know are left out):
        how a resting stop stands, or what it filled. A paper broker works its resting stops against the
        minute candles completed since it last looked."""
        ...

    def find_by_tag(self, day: date, tag: str) -> BrokerOrder | None:
        """The order carrying this tag today, if the broker has one (recovery after a crash)."""
        ...

    def net_positions(self, day: date) -> dict[str, int]:
        """The day's net signed quantity per symbol as the broker holds it (flat symbols may be left out),
        in one read: what each tick compares the book with. Raises BrokerUnavailable."""
        ...

    def orders_with_tag(self, day: date, tag: str) -> list[BrokerOrder]:
        """Every order carrying this tag today, as the broker reports it now. Kite has no idempotency key:
        a place request held in the network can arrive after the retry that replaced it, so after an
        ambiguous placement there may be two."""
        ...

    def cancel(self, order_id: str) -> str:
        """Cancel a working order (OrderRejected if it is already complete or cancelled)."""
        ...

    def external_fills(self, day: date) -> list[ExternalFill]:
        """Today's filled orders without a tag (a paper broker has none), in one read, oldest first. Raises
        BrokerUnavailable."""
        ...

    def working_orders(self) -> list[WorkingOrder]:
        """Every order still working on the account, and every active GTT (a paper broker: none before the
        day's first order). Raises BrokerUnavailable."""
        ...

    def preflight(self) -> str | None:
        """A cheap call before the open: why the broker cannot be used today (an expired token), or None."""
        ...


class Margins(Protocol):
    """The broker's margin calculator and the account's funds: read-only, nothing is placed."""

    def basket(self, legs: list[PlannedLeg]) -> Decimal:
        """The margin the broker would block for these legs entered together (hedges counted, the account's
        positions considered). Raises BrokerUnavailable."""
        ...

    def available(self) -> Decimal:
        """The account's margin available now (equity segment). Raises BrokerUnavailable."""
        ...


class LoginError(ValueError):
    """The request token is missing, malformed or refused by Kite (the caller's error: HTTP 400)."""


class LoginNotConfigured(RuntimeError):
    """The Kite app is not configured here (no api secret, no Kite root): an operator's error."""


class TokenExchange(Protocol):
    """The daily Kite login's second step: a request token for an access token."""

    def exchange(self, request_token: str) -> dict[str, Any]:
        """{"access_token", "user_id", "login_time"}; raises LoginError, LoginNotConfigured or
        BrokerUnavailable."""
        ...


class Planner(Protocol):
    """Chooses the day's plan before the open (rules, or an LLM); plan_day validates what it returns."""

    name: str

    def plan(self, context: PlanContext) -> Plan:
        """The plan for ``context.day``."""
        ...


class Reviewer(Protocol):
    """Reads the day's report after the close and suggests changes for a person to consider."""

    def review(self, report: Doc) -> Doc:
        """Suggestions about the day (never applied automatically): {"summary": str, "suggestions": [str]}."""
        ...


# The kinds of notification the services send (each switchable in the configuration: telegram.notify).
NOTIFICATION_KINDS = (
    "entries",  # an entry filled: price, reason
    "exits",  # an exit filled (target, time stop, square-off, kill switch...): price, reason, P&L
    "stops",  # a stop resting at the broker filled
    "halts",  # entries halted: loss limit, kill switch, expired token, failed preflight
    "drift",  # the book and the broker disagree; a fill TRON did not place was booked
    "dead_letters",  # an order stuck past its lease (its message dead-lettered or lost) driven again
    "login_needed",  # the Kite session is missing or expired: log in
    "day_summary",  # the day's results after the close
)


class Notifier(Protocol):
    """Tells the operator what happened (a log line, or a message to their phone). Neither method ever
    raises or blocks for long: a failed or slow send is logged at WARNING and dropped, so a notification
    can never fail or hold up an order path."""

    def send(self, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        """Notify ``text`` (plain text) of one of NOTIFICATION_KINDS, unless that kind is switched off."""
        ...

    def reply(self, chat_id: int, text: str) -> None:
        """Answer a command in the chat it came from (the Telegram webhook); never filtered by kind."""
        ...
