"""The live positions page: the day in progress as the state store holds it (:func:`read_page`) and the
HTTP answer of the positions_page function and of `tron serve` (:func:`respond`); the HTML is
tron.services.positions_html's.

Read-only, through the Store port only, with the readers the Telegram commands use (Book.from_doc,
tick_state.last_prices and halted_reason, kill_switch): the day's document (status, halts, the plan's loss
limits), the kill switch, each asset's book and state (positions, marks, last tick, the marked P&L each
tick recorded) and the day's intents. A document that cannot be read is named on the page as unreadable
and the rest is still shown; a store that cannot be read at all is a 503 page that keeps refreshing.

One view costs 2 + 2 per asset document reads plus one per intent of the day (Firestore bills a list per
document returned), and the page reloads itself every 5 s while it is open."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from tron.domain.book import Book
from tron.domain.models import Asset
from tron.domain.money import dec
from tron.domain.plan import AssetPlan, Plan
from tron.domain.risk import KillSwitch
from tron.domain.timeutil import IST
from tron.services.kill_switch import kill_switch
from tron.services.messages import BadRequest
from tron.services.paths import book_path, day_path, intents_path, state_path
from tron.services.positions_html import render, unavailable
from tron.services.tick_state import halted_reason, last_prices

T = TypeVar("T")
MAX_ORDERS = 100  # the latest intents shown (all are counted per state)
MAX_QUERY = 256  # bytes of query string accepted: "date=YYYY-MM-DD" is 15
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
METHODS = ("GET", "HEAD")
# No script, no external resource, no framing: the page is markup, inline CSS and inline SVG.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
TEXT = {**HEADERS, "Content-Type": "text/plain; charset=utf-8"}


@dataclass(frozen=True)
class PositionRow:
    """One open position: its quantity and average price, the last price it is marked at and its MTM (None
    before its symbol has a price), its stop (``resting`` when it rests at the broker) and target."""

    asset: str
    symbol: str
    qty: int
    avg_price: Decimal
    last: float | None
    mtm: Decimal | None
    stop: float | None
    resting: bool
    target: float | None
    strategy: str
    opened_at: str


@dataclass(frozen=True)
class AssetRow:
    """One asset's day: whether the plan enables it, why its entries are stopped, its last tick, its book
    (None: unreadable), its open MTM (None: its marks are unreadable) and its loss limit with the marked P&L
    its tick checks against it (its own book marked plus the other assets' realised net, as tron.domain
    .decide does; None when the plan or a book is unreadable)."""

    asset: str
    enabled: bool | None
    halted: str | None
    last_tick: datetime | None
    book: Book | None
    open_mtm: Decimal | None
    loss_limit: Decimal | None
    checked: Decimal | None

    @property
    def headroom(self) -> Decimal | None:
        """How much more the marked P&L may lose before the limit halts and flattens the day."""
        return None if self.loss_limit is None or self.checked is None else self.loss_limit + self.checked


@dataclass(frozen=True)
class OrderRow:
    """One order intent as the executor left it: when it was claimed, what, its state, its fill and the
    broker's order id, and why (its decision, or why it ended rejected or cancelled)."""

    at: str
    asset: str
    symbol: str
    purpose: str
    side: str
    qty: str
    state: str
    fill: str
    order_id: str
    note: str


@dataclass
class PageView:
    """Everything the page shows of one day; ``unreadable`` names each document that could not be read."""

    day: date
    now: datetime
    status: str | None = None  # None: no day document (not planned yet)
    reason: str = ""
    mode: str = ""
    halted: str | None = None
    squaring: list[str] = field(default_factory=list)
    frozen: dict[str, str] = field(default_factory=dict)
    kill: KillSwitch = field(default_factory=KillSwitch)
    assets: list[AssetRow] = field(default_factory=list)
    positions: list[PositionRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)  # the latest MAX_ORDERS, newest first
    order_counts: dict[str, int] = field(default_factory=dict)
    curve: list[tuple[str, Decimal]] = field(default_factory=list)  # (HH:MM, the account's marked P&L)
    unreadable: list[str] = field(default_factory=list)

    @property
    def net(self) -> Decimal | None:
        """Realised P&L net of charges across the readable books (None: none is readable)."""
        books = [a.book for a in self.assets if a.book is not None]
        return sum((b.net for b in books), Decimal(0)) if books else None

    @property
    def open_mtm(self) -> Decimal:
        return sum((a.open_mtm for a in self.assets if a.open_mtm is not None), Decimal(0))

    @property
    def orders_total(self) -> int:
        return sum(self.order_counts.values())


def read_page(store: Any, day: date, now: datetime) -> PageView:
    """The page's view of ``day`` from ``store``; a document that cannot be parsed is listed in
    ``unreadable`` and left out (an error of the store itself propagates)."""
    view = PageView(day, now)
    d = day.isoformat()
    daydoc = store.get(day_path(d))
    plan = _day(view, daydoc)
    view.kill = kill_switch(store)
    books: dict[Asset, Book | None] = {}
    states: dict[Asset, dict[str, Any] | None] = {}
    for a in Asset:
        books[a] = _parsed(view, book_path(d, a), store.get(book_path(d, a)), _book)
        states[a] = store.get(state_path(d, a))
    for a in Asset:
        view.assets.append(_asset(view, d, a, daydoc, plan, books, states[a]))
    view.curve = _curve(view, d, states)
    _orders(view, store.list(intents_path(d)), d)
    return view


def _parsed(view: PageView, path: str, doc: Any, parse: Callable[[Any], T]) -> T | None:
    """``parse(doc)``, or None with the path and the error noted as unreadable. Any error: a malformed
    document must not take the page down, whatever it holds."""
    try:
        return parse(doc)
    except Exception as e:
        note = f"{path}: {type(e).__name__}: {e}"[:300]
        if note not in view.unreadable:  # the day's halts are read once per asset
            view.unreadable.append(note)
        return None


def _day(view: PageView, daydoc: dict[str, Any] | None) -> Plan | None:
    """The day's status and halts into ``view``; the day's plan (None before plan_day, or unreadable)."""
    if daydoc is None:
        return None
    path = day_path(view.day.isoformat())
    view.status = str(daydoc.get("status"))
    view.reason = str(daydoc.get("reason") or "")
    view.mode = str(daydoc.get("mode") or "")
    view.halted = str(daydoc["halted"]) if daydoc.get("halted") else None
    view.squaring = _parsed(view, f"{path} (squaring)", daydoc.get("squaring") or [], _strings) or []
    view.frozen = _parsed(view, f"{path} (frozen)", daydoc.get("frozen") or {}, _string_map) or {}
    if "plan" not in daydoc:
        return None
    return _parsed(view, f"{path} (plan)", daydoc["plan"], Plan.from_doc)


def _book(doc: dict[str, Any] | None) -> Book:
    """Book.from_doc, its amounts finite (a stored "NaN" parses, then breaks every comparison)."""
    book = Book.from_doc(doc)
    _finite(book.realized, book.charges, *(p.avg_price for p in book.positions.values()))
    return book


def _finite(*amounts: Decimal) -> None:
    for x in amounts:
        if not dec(x).is_finite():
            raise ValueError(f"{x!r} is not a finite amount")


def _loss_limit(plan: AssetPlan) -> Decimal:
    limit = plan.risk.loss_limit
    _finite(limit)
    return limit


def _strings(v: Any) -> list[str]:
    if not isinstance(v, list):
        raise TypeError(f"a list was expected, got {type(v).__name__}")
    return [str(x) for x in v]


def _string_map(v: Any) -> dict[str, str]:
    if not isinstance(v, dict):
        raise TypeError(f"a map was expected, got {type(v).__name__}")
    return {str(k): str(x) for k, x in v.items()}


def _asset(
    view: PageView,
    d: str,
    asset: Asset,
    daydoc: dict[str, Any] | None,
    plan: Plan | None,
    books: dict[Asset, Book | None],
    state: dict[str, Any] | None,
) -> AssetRow:
    """The asset's row, and its open positions appended to ``view.positions``."""
    sp = state_path(d, asset)
    book = books[asset]
    marks = _parsed(view, f"{sp} (session)", state, last_prices)
    last = (state or {}).get("last_minute")
    tick = _parsed(view, f"{sp} (last_minute)", last, _instant) if last else None
    open_mtm = None
    if book is not None:  # its positions shown unmarked when its prices cannot be read
        rows = _parsed(view, book_path(d, asset), book, lambda b: _positions(asset, b, marks or {}))
        if rows is not None:
            view.positions.extend(rows)
            open_mtm = None if marks is None else book.unrealized(marks)
    ap = plan.assets.get(asset) if plan is not None else None
    limit = _parsed(view, f"{day_path(d)} (plan {asset})", ap, _loss_limit) if ap is not None else None
    others = [b for a, b in books.items() if a is not asset]
    checked = None
    if book is not None and open_mtm is not None and all(b is not None for b in others):
        checked = book.net + open_mtm + sum((b.net for b in others if b is not None), Decimal(0))
    halted = _parsed(view, f"{day_path(d)} (halts)", daydoc or {}, lambda doc: halted_reason(doc, asset))
    return AssetRow(
        asset.value,
        None if ap is None else ap.enabled,
        halted,
        tick,
        book,
        open_mtm,
        limit,
        checked,
    )


def _positions(asset: Asset, book: Book, marks: dict[str, float]) -> list[PositionRow]:
    """The book's open positions, marked where their symbol has a price (each field checked: a stored
    position of the wrong shape makes the book unreadable rather than the page)."""
    rows = []
    for s, p in sorted(book.positions.items()):
        mark = marks.get(s)
        rows.append(
            PositionRow(
                asset.value,
                str(s),
                int(p.qty),
                dec(p.avg_price),
                mark,
                None if mark is None else Book(positions={s: p}).unrealized(marks),
                _number(p.stop),
                p.protect is not None,
                _number(p.target),
                str(p.strategy),
                str(p.opened_at),
            )
        )
    return rows


def _number(v: Any) -> float | None:
    return None if v is None else float(v)


def _instant(text: Any) -> datetime:
    t = datetime.fromisoformat(str(text))
    if t.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return t.astimezone(IST)


def _curve(view: PageView, d: str, states: dict[Asset, dict[str, Any] | None]) -> list[tuple[str, Decimal]]:
    """The account's marked P&L at each minute any asset ticked: each asset's last recorded value summed
    (an asset counts 0 before its first tick)."""
    series: dict[Asset, dict[str, Decimal]] = {}
    for a, state in states.items():
        points = (state or {}).get("mtm")
        if points:
            got = _parsed(view, f"{state_path(d, a)} (mtm)", points, _points)
            if got:
                series[a] = got
    minutes = sorted({m for s in series.values() for m in s})
    last = dict.fromkeys(series, Decimal(0))
    out = []
    for m in minutes:
        for a, s in series.items():
            last[a] = s.get(m, last[a])
        out.append((f"{m[:2]}:{m[2:]}", sum(last.values(), Decimal(0))))
    return out


def _points(v: Any) -> dict[str, Decimal]:
    if not isinstance(v, dict):
        raise TypeError(f"a map was expected, got {type(v).__name__}")
    out = {}
    for k, x in v.items():
        if not (isinstance(k, str) and re.fullmatch(r"\d{4}", k)):
            raise ValueError(f"minute {k!r} is not HHMM")
        value = Decimal(str(x))
        if not value.is_finite():
            raise ValueError(f"{x!r} at {k} is not a finite amount")
        out[k] = value
    return out


def _orders(view: PageView, docs: list[tuple[str, dict[str, Any]]], d: str) -> None:
    """Every intent counted per state; the latest MAX_ORDERS as rows, newest first."""
    for _, doc in docs:
        state = str(doc.get("state"))
        view.order_counts[state] = view.order_counts.get(state, 0) + 1
    latest = sorted(docs, key=lambda kv: str(kv[1].get("claimed_at")), reverse=True)[:MAX_ORDERS]
    for iid, doc in latest:
        row = _parsed(view, f"{intents_path(d)}/{iid}", doc, _order)
        if row is not None:
            view.orders.append(row)


def _order(doc: dict[str, Any]) -> OrderRow:
    fill = doc.get("fill") or {}
    if not isinstance(fill, dict):
        raise TypeError(f"fill is {type(fill).__name__}, not a map")
    history = doc.get("history") or []
    ended = history[-1] if isinstance(history, list) and history and isinstance(history[-1], dict) else {}
    claimed = doc.get("claimed_at")
    at = _instant(claimed).strftime("%H:%M:%S") if claimed else ""
    return OrderRow(
        at,
        str(doc.get("asset", "")),
        str(doc.get("symbol", "")),
        str(doc.get("purpose", "")),
        str(doc.get("side", "")),
        str(doc.get("qty", "")),
        str(doc.get("state", "")),
        f"{fill.get('qty', '')} @ {fill['price']}" if fill.get("price") is not None else "",
        str(doc.get("order_id") or ""),
        str(ended.get("reason") or doc.get("reason") or ""),
    )


# ---------------------------------------------------------------------------------------------- HTTP
def requested_day(params: Mapping[str, Sequence[str]], query_bytes: int, today: date) -> date:
    """The day a request asks for: ``?date=YYYY-MM-DD``, else ``today``. BadRequest (400) for an oversized
    query, another parameter, a repeated or malformed date."""
    if query_bytes > MAX_QUERY:
        raise BadRequest(f"the query string is {query_bytes} bytes; at most {MAX_QUERY} are accepted")
    unknown = sorted(k for k in params if k != "date")
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0][:40]!r}: the page takes only ?date=YYYY-MM-DD")
    values = params.get("date") or []
    if not values:
        return today
    if len(values) > 1:
        raise BadRequest("date is given more than once")
    text = values[0]
    try:
        if not DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"date must be a calendar day as YYYY-MM-DD, got {text[:40]!r}") from None


def respond(
    store: Any,
    now: datetime,
    method: str,
    path: str,
    params: Mapping[str, Sequence[str]],
    query_bytes: int,
    default_day: date | None = None,
) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) for one request: the page of the requested day (``default_day``, else the
    date of ``now``, when the query names none) at "/"; 404 for another path, 405 for a method other than
    GET or HEAD, 400 for a bad query (text saying what is wrong), 503 when the store cannot be read (a page
    that keeps reloading until it can)."""
    if path != "/":
        return 404, TEXT, "not found: the page is at /\n"
    if method.upper() not in METHODS:
        return 405, {**TEXT, "Allow": ", ".join(METHODS)}, f"{method[:20]} is not allowed: GET the page\n"
    try:
        day = requested_day(params, query_bytes, default_day or now.date())
    except BadRequest as e:
        return e.status, TEXT, f"{e}\n"
    try:
        view = read_page(store, day, now)
    except Exception as e:  # the store itself (Firestore unreachable, the SQLite file locked or gone)
        return 503, HEADERS, unavailable(day, now, f"{type(e).__name__}: {e}")
    return 200, HEADERS, render(view)
