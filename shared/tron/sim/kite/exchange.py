"""The exchange side of an order: it goes live (armed at the last price) and meets each minute's book
through the matching engine; fills are booked as trades."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tron.domain.order_rules import on_tick
from tron.domain.stop_fill import StopSlippage
from tron.sim.kite import engine
from tron.sim.kite.catalog import Listed
from tron.sim.kite.market_view import dec, lpp_range
from tron.sim.kite.order_book import OrderBook
from tron.sim.kite.venue import Venue


class Exchange:
    """Sends validated orders to the market and matches working orders, minute by minute."""

    def __init__(self, venue: Venue, book: OrderBook, stop_slippage: StopSlippage | None = None) -> None:
        self.venue = venue
        self.book = book
        self.stop_slippage = stop_slippage or StopSlippage()

    def open(self, o: engine.Order, d: date, j: int, ts: datetime) -> None:
        """Send a validated order to the exchange and meet the current minute's book."""
        o.status = engine.OPEN_PENDING
        o.placed_minute = j
        self.book.record(o, ts)
        o.exchange_order_id = f"{1100000000000000 + int(o.order_id[-9:])}"
        o.exchange_timestamp = ts
        o.exchange_update_timestamp = ts
        if o.order_type in ("SL", "SL-M"):
            o.status = engine.TRIGGER_PENDING
            self.book.record(o, ts)
            self.match(o, d, j, resting=False)
            return
        o.status = engine.OPEN
        inst = self.venue.instrument(o.exchange, o.tradingsymbol)
        q = self.venue.view.quote(d, j, inst.tradingsymbol)
        self.arm(o, inst, dec(q.last) if q is not None else o.price)
        self.book.record(o, ts)
        self.match(o, d, j, resting=False)

    def arm(self, o: engine.Order, inst: Listed, ltp: Decimal) -> None:
        """Set the limit the order works at (engine.arm); a protected market order's limit stays inside NSE's
        LPP band, as the exchange takes it."""
        engine.arm(o, ltp)
        band = lpp_range(inst, ltp)
        if band is not None and o.working_limit is not None and o.order_type in ("MARKET", "SL-M"):
            low, high = (
                on_tick(b, inst.tick_size, r) for b, r in zip(band, (ROUND_CEILING, ROUND_FLOOR), strict=True)
            )
            o.working_limit = min(max(o.working_limit, low), high)

    def match(self, o: engine.Order, d: date, minute: int, resting: bool) -> None:
        """Walk a working order through one minute's book (resting: it was already there when the minute's
        bar traded); an IOC order's unfilled rest is cancelled."""
        inst = self.venue.catalog().by_key.get(f"{o.exchange}:{o.tradingsymbol}")
        book = self.venue.view.book(inst, d, minute) if inst is not None else None
        if book is None:
            return
        consumed = self.book.consumed.setdefault(o.instrument_token, {})
        was = o.status
        fills = engine.match_minute(o, book, consumed, resting, self.stop_slippage)
        ts = self.venue.minute_ts(d, minute)
        for f in fills:
            self.book.book_fill(o, f, ts)
        if o.validity == "IOC" and o.status == engine.OPEN:
            o.cancelled_quantity = o.pending_quantity
            o.status = engine.CANCELLED
            o.status_message = None
        if fills or o.status != was:
            o.exchange_update_timestamp = ts
            self.book.record(o, ts)
