"""tron.services.positions_page and positions_html: the live page rendered on the server from a state store
(SQLite in memory) holding real documents: positions marked to market, orders and their states, halts,
the loss-limit headroom, the last tick per asset and the day's MTM chart; hostile values escaped; an empty
day; malformed documents shown as unreadable, never a crash; the request rules (404, 405, 400, 503)."""

from __future__ import annotations

import re
from datetime import datetime, time
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.day import ManualDay
from tests.support.days import TRADING_DAY, at, settings
from tron.adapters.sqlite_store import SqliteStore
from tron.domain.book import Book
from tron.domain.models import Asset, Position, RestingStop
from tron.domain.plan import AssetPlan, Plan
from tron.domain.risk import RiskLimits
from tron.domain.session import SessionState
from tron.domain.timeutil import ist
from tron.services.paths import KILL_SWITCH, book_path, day_path, intent_path, state_path
from tron.services.positions_page import read_page, requested_day, respond
from tron.services.tick_state import last_prices

DAY = TRADING_DAY.isoformat()
NOW = at(10, 32)
HOSTILE = '<script>alert("x")</script>'
ATTR = '"><img src=x onerror=alert(1)>'


class Page(HTMLParser):
    """The parts of the page the tests read: every tag seen, the text of each table's body rows by table
    id, the meta refresh and the chart's points."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.refresh: str | None = None
        self.points: str | None = None
        self._table: str | None = None
        self._body = False
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "table":
            self._table = a.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tbody":
            self._body = True
        elif tag == "tr" and self._body and self._table is not None:
            self.tables[self._table].append([])
        elif tag == "td" and self._body:
            self._cell = []
        elif tag == "meta" and a.get("http-equiv") == "refresh":
            self.refresh = a.get("content")
        elif tag == "polyline":
            self.points = a.get("points")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tbody":
            self._body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def plan_doc(limit: str = "5000") -> dict[str, Any]:
    risk = RiskLimits(daily_loss_limit=Decimal(limit))
    assets = {
        a: AssetPlan(a, a is not Asset.OPTIONS, (), risk)
        for a in Asset  # options off: its row says so
    }
    return Plan(TRADING_DAY, "rules", "trend", assets).to_doc()


def state_doc(prices: dict[str, float], minute: str, mtm: dict[str, str]) -> dict[str, Any]:
    session = SessionState.new(list(prices))
    session.arrays["last"] = np.array(list(prices.values()))
    return {
        "instruments": {},
        "pending": {},
        "last_minute": ist(TRADING_DAY, time.fromisoformat(minute)).isoformat(),
        "session": session.to_doc(),
        "mtm": mtm,
    }


def intent_doc(n: int, symbol: str, state: str, **extra: Any) -> dict[str, Any]:
    claimed = at(9, 40 + n).isoformat()
    return {
        "intent_id": f"{DAY.replace('-', '')}-stocks-{n}",
        "asset": "stocks",
        "symbol": symbol,
        "side": "BUY",
        "qty": 10,
        "purpose": "entry",
        "reason": "ema cross",
        "state": state,
        "claimed_at": claimed,
        "history": [{"state": "claimed", "at": claimed}],
        **extra,
    }


@pytest.fixture
def store() -> SqliteStore:
    """A day at 10:32: stocks long 10 INFY @ 100 (last 105, its stop resting) and short 4 TCS @ 200 (last
    210), ₹300 realised and ₹40 charges; futures ₹-120 realised; options idle; three intents."""
    s = SqliteStore(":memory:")
    s.set(
        day_path(DAY), {"status": "armed", "mode": "paper", "plan": plan_doc(), "squaring": [], "frozen": {}}
    )
    stop = RestingStop("p1", "ORD-9", "SL-M", 97.0, 10, at(9, 41).isoformat())
    stocks = Book(
        positions={
            "INFY": Position(
                "INFY", 10, Decimal("100"), "ema", at(9, 41).isoformat(), stop=97.0, protect=stop
            ),
            "TCS": Position("TCS", -4, Decimal("200"), "rsi", at(10, 2).isoformat(), stop=206.0),
        },
        realized=Decimal("300"),
        charges=Decimal("40"),
        trades=2,
        wins=1,
    )
    s.set(book_path(DAY, Asset.STOCKS), stocks.to_doc())
    s.set(book_path(DAY, Asset.FUTURES), Book(realized=Decimal("-120")).to_doc())
    s.set(
        state_path(DAY, Asset.STOCKS),
        state_doc(
            {"INFY": 105.0, "TCS": 210.0, "WIPRO": float("nan")}, "10:31", {"0930": "0", "1031": "250"}
        ),
    )
    s.set(state_path(DAY, Asset.FUTURES), state_doc({"NIFTY26DECFUT": 24500.0}, "10:30", {"1000": "-120"}))
    s.set(
        intent_path(DAY, "a"),
        intent_doc(1, "INFY", "filled", order_id="ORD-1", fill={"qty": 10, "price": "100"}),
    )
    s.set(intent_path(DAY, "b"), intent_doc(2, "TCS", "resting", order_id="ORD-2"))
    rejected = intent_doc(3, "HDFC", "rejected")
    rejected["history"].append({"state": "rejected", "at": at(9, 44).isoformat(), "reason": "margin short"})
    s.set(intent_path(DAY, "c"), rejected)
    return s


def page(store: Any, **kw: Any) -> tuple[int, dict[str, str], str]:
    return respond(store, NOW, "GET", "/", {}, 0, **kw)


def test_the_page_shows_positions_orders_halts_headroom_last_ticks_and_the_mtm_chart(store) -> None:
    status, headers, html = page(store)
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none': no script runs
    p = Page(html)
    assert p.refresh == "5" and "script" not in p.tags
    positions = {r[1]: r for r in p.tables["positions"]}
    assert set(positions) == {"INFY", "TCS"}
    assert positions["INFY"][:6] == ["stocks", "INFY", "+10", "100.00", "105.00", "₹50.00"]
    assert positions["INFY"][6] == "97.00 resting"
    assert positions["TCS"][2:6] == ["-4", "200.00", "210.00", "-₹40.00"]
    assets = {r[0]: r for r in p.tables["assets"]}
    assert assets["stocks"][1:3] == ["on", "10:31 IST (1 min ago)"]
    assert assets["stocks"][5:10] == ["₹300.00", "₹40.00", "₹260.00", "₹10.00", "₹270.00"]
    assert assets["options"][1:3] == ["off", "–"]
    # stocks check: 260 + 10 open + futures' -120 realised = 150; futures: -120 + 0 + stocks' 260 = 140
    limits = {r[0]: r for r in p.tables["loss-limit-table"]}
    assert limits["stocks"][1:4] == ["₹5,000.00", "₹150.00", "₹5,150.00"]
    assert limits["futures"][1:4] == ["₹5,000.00", "₹140.00", "₹5,140.00"]
    orders = p.tables["orders"]
    assert [(r[2], r[6]) for r in orders] == [("HDFC", "rejected"), ("TCS", "resting"), ("INFY", "filled")]
    assert orders[0][9] == "margin short" and orders[2][7] == "10 @ 100" and orders[2][8] == "ORD-1"
    assert "3 order intents: 1 filled, 1 rejected, 1 resting" in html
    assert "none: the kill switch is released" in html
    # the chart: 09:30 0, 10:00 0 - 120, 10:31 250 - 120 (futures carried forward)
    view = read_page(store, TRADING_DAY, NOW)
    assert view.curve == [("09:30", Decimal(0)), ("10:00", Decimal(-120)), ("10:31", Decimal(130))]
    assert p.points is not None and len(p.points.split()) == 3
    assert not view.unreadable


def test_halts_are_shown(store) -> None:
    store.set(
        day_path(DAY),
        {**store.get(day_path(DAY)), "halted": "daily loss limit ₹5000 breached", "squaring": ["options"]},
    )
    store.set(
        KILL_SWITCH,
        {"engaged": True, "reason": "news", "flatten": False, "at": NOW.isoformat(), "by": "asha"},
    )
    html = page(store)[2]
    assert "kill switch ENGAGED by asha at 10:32: news (positions kept)" in html
    assert "entries halted for the day: daily loss limit ₹5000 breached" in html
    assert "squared off, no more entries: options" in html
    assert all(r[-1] == "daily loss limit ₹5000 breached" for r in Page(html).tables["assets"])
    store.set(day_path(DAY), {**store.get(day_path(DAY)), "halted": None, "squaring": []})
    assets = Page(page(store)[2]).tables["assets"]
    assert all(r[-1] == "kill switch engaged: news" for r in assets)  # entries stop on it too


def test_hostile_values_are_escaped(store) -> None:
    store.set(
        day_path(DAY),
        {**store.get(day_path(DAY)), "halted": ATTR, "frozen": {HOSTILE: ATTR}, "mode": HOSTILE},
    )
    store.set(KILL_SWITCH, {"engaged": True, "reason": HOSTILE, "by": ATTR, "at": ATTR, "flatten": True})
    book = Book(positions={HOSTILE: Position(HOSTILE, 5, Decimal("10"), ATTR, ATTR)})
    store.set(book_path(DAY, Asset.OPTIONS), book.to_doc())
    store.set(state_path(DAY, Asset.OPTIONS), state_doc({HOSTILE: 11.0}, "10:31", {}))
    store.set(intent_path(DAY, "h"), intent_doc(9, HOSTILE, ATTR, reason=HOSTILE, order_id=ATTR))
    status, _, html = page(store)
    assert status == 200
    p = Page(html)
    assert "script" not in p.tags and "img" not in p.tags
    assert HOSTILE not in html and ATTR not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert any(r[1] == HOSTILE for r in p.tables["positions"])  # shown as text, intact


def test_an_empty_day() -> None:
    status, _, html = page(SqliteStore(":memory:"))
    p = Page(html)
    assert status == 200 and f"no plan for {DAY} yet" in html
    assert p.tables["positions"] == [["no open positions"]]
    assert "no orders today" in html and "no minute ticked yet" in html and "Unreadable" not in html


MALFORMED = {
    "book": (book_path(DAY, Asset.FUTURES), {"positions": {}, "realized": "lots"}),
    "position": (
        book_path(DAY, Asset.STOCKS),
        {
            **Book().to_doc(),
            "positions": {
                "INFY": {"symbol": "INFY", "qty": "ten", "avg_price": "1", "strategy": "x", "opened_at": ""}
            },
        },
    ),
    "session": (
        state_path(DAY, Asset.STOCKS),
        {"last_minute": "10:31", "session": {"symbols": ["A"], "arrays": "?"}},
    ),
    "mtm": (state_path(DAY, Asset.FUTURES), {"mtm": {"ten": "x"}}),
    "plan": (day_path(DAY), {"status": "armed", "plan": {"assets": 5}, "squaring": 7, "frozen": "x"}),
    "nan": (book_path(DAY, Asset.OPTIONS), {**Book().to_doc(), "realized": "NaN"}),
    "infinite mtm": (state_path(DAY, Asset.OPTIONS), {"mtm": {"1000": "Infinity"}}),
    "intent": (
        intent_path(DAY, "bad"),
        {"state": "filled", "fill": "all of it", "claimed_at": "2026-11-23T09:59:00+05:30"},
    ),
}


def test_malformed_documents_are_shown_as_unreadable_and_the_rest_still_shows(store) -> None:
    for path, doc in MALFORMED.values():
        store.set(path, doc)
    status, _, html = page(store)
    assert status == 200
    view = read_page(store, TRADING_DAY, NOW)
    named = " ".join(view.unreadable)
    for path, _ in MALFORMED.values():
        assert path in named, path
    assert "Unreadable documents" in html
    p = Page(html)
    assets = {r[0]: r for r in p.tables["assets"]}
    assert "book unreadable" in assets["futures"]  # the others still show
    assert [r[2] for r in p.tables["orders"]] == ["HDFC", "TCS", "INFY"]
    assert "no loss limit: the day has no readable plan" in html


def test_the_requested_day_and_bad_requests() -> None:
    today = TRADING_DAY
    assert requested_day({}, 0, today) == today
    assert requested_day({"date": ["2026-11-20"]}, 15, today).isoformat() == "2026-11-20"
    s = SqliteStore(":memory:")
    for params, size, message in (
        ({"date": ["2026-13-01"]}, 15, "calendar day"),
        ({"date": ["20261123"]}, 13, "calendar day"),
        ({"date": [HOSTILE]}, 40, "calendar day"),
        ({"date": ["2026-11-23", "2026-11-24"]}, 31, "more than once"),
        ({"day": ["2026-11-23"]}, 14, "unknown parameter"),
        ({}, 5000, "at most 256"),
    ):
        status, headers, body = respond(s, NOW, "GET", "/", params, size)
        assert status == 400 and message in body and headers["Content-Type"].startswith("text/plain")
    status, headers, _ = respond(s, NOW, "POST", "/", {}, 0)
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert respond(s, NOW, "GET", "/admin", {}, 0)[0] == 404
    assert respond(s, NOW, "HEAD", "/", {}, 0)[0] == 200


def test_a_store_that_cannot_be_read_is_a_503_page_that_reloads() -> None:
    class Down:
        def get(self, path: str) -> Any:
            raise ConnectionError("firestore unreachable <b>")

    status, _, html = respond(Down(), NOW, "GET", "/", {}, 0)
    assert status == 503 and "ConnectionError: firestore unreachable &lt;b&gt;" in html
    assert Page(html).refresh == "5"


def test_the_tick_records_the_marked_pnl_the_page_charts(tmp_path: Path) -> None:
    """Each tick adds its minute's marked P&L to the asset's state; the last point is the book the tick
    saw at its own prices (no order delivered since), the stocks' marked P&L the page shows."""
    d = ManualDay.start(settings(tmp_path, symbols=3), TRADING_DAY, tmp_path)
    d.run(d.at(9, 15), d.at(9, 50), [Asset.STOCKS])
    state = d.doc(state_path(DAY, Asset.STOCKS))
    assert sorted(state["mtm"]) == [f"{m // 60:02d}{m % 60:02d}" for m in range(9 * 60 + 15, 9 * 60 + 51)]
    book = Book.from_doc(d.doc(book_path(DAY, Asset.STOCKS)))
    assert Decimal(state["mtm"]["0950"]) == book.net + book.unrealized(last_prices(state))
    view = read_page(d.deps.store, TRADING_DAY, d.deps.clock.now())
    assert view.curve[-1] == ("09:50", Decimal(state["mtm"]["0950"]))
    stocks = next(a for a in view.assets if a.asset == "stocks")
    assert stocks.book is not None and stocks.open_mtm is not None
    assert stocks.book.net + stocks.open_mtm == view.curve[-1][1]
    assert re.search(r"09:50 IST", page(d.deps.store, default_day=TRADING_DAY)[2])
    assert isinstance(stocks.last_tick, datetime)
