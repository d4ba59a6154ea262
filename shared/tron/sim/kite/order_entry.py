"""Order entry: a checked order gets an id, passes Kite's RMS (or stays in the book REJECTED) and goes to the
exchange, or waits for the open as an AMO."""

from __future__ import annotations

from datetime import date, datetime

from tron.sim.kite import engine
from tron.sim.kite.catalog import Listed
from tron.sim.kite.exchange import Exchange
from tron.sim.kite.margins import Margins
from tron.sim.kite.market_view import circuit_limits, dec, lpp_range
from tron.sim.kite.order_book import OrderBook
from tron.sim.kite.order_params import OrderParams
from tron.sim.kite.portfolio import Portfolio
from tron.sim.kite.protocol import (
    BROKER_EQUITY_SQUARE_OFF_MINUTE,
    BROKER_FNO_SQUARE_OFF_MINUTE,
    CIRCUIT_MESSAGE,
    as_float,
    sl_gap_problem,
)
from tron.sim.kite.venue import Venue


class OrderEntry:
    """Places orders whose parameters were checked; used by the place route and by firing GTTs."""

    def __init__(
        self, venue: Venue, portfolio: Portfolio, book: OrderBook, margins: Margins, exchange: Exchange
    ) -> None:
        self.venue = venue
        self.portfolio = portfolio
        self.book = book
        self.margins = margins
        self.exchange = exchange

    def place(
        self,
        variety: str,
        p: OrderParams,
        now: datetime,
        at: tuple[date, int] | None = None,
        source: str = "api",
    ) -> engine.Order:
        """Enter the order at `now` and at once validate it and send it to the exchange at minute `at`
        (default: the clock's): an RMS rejection is returned as a REJECTED order, an AMO as AMO REQ RECEIVED.
        (The asynchronous lifecycle does the same in steps: receive, then validate, then send.)"""
        o = self.receive(variety, p, now, source)
        if self.validate(o, now):
            self.send(o, now, at)
        return o

    def receive(self, variety: str, p: OrderParams, now: datetime, source: str = "api") -> engine.Order:
        """PUT ORDER REQ RECEIVED: the order gets its id, nothing is checked yet."""
        o = self.book.new_order(
            variety,
            p.inst,
            p.side,
            p.quantity,
            p.product,
            p.order_type,
            p.price,
            p.trigger,
            p.protection,
            p.tag,
            p.validity,
            now,
            disclosed=p.disclosed,
            source=source,
        )
        o.validity_ttl = p.ttl
        return o

    def validate(self, o: engine.Order, now: datetime) -> bool:
        """VALIDATION PENDING and Kite's RMS: False when the order ended REJECTED or waits as an AMO."""
        o.status = engine.VALIDATION_PENDING
        self.book.record(o, now)
        reason = self.rms(o, self.venue.instrument(o.exchange, o.tradingsymbol))
        if reason is not None:
            o.status = engine.REJECTED
            o.status_message = reason
            self.book.record(o, now)
            return False
        if o.variety == "amo":
            o.status = engine.AMO_REQ_RECEIVED
            self.book.record(o, now)
            return False
        return True

    def send(self, o: engine.Order, now: datetime, at: tuple[date, int] | None = None) -> None:
        """OPEN PENDING, then live at the exchange at minute `at` (default: the clock's)."""
        d, j = at or self.venue.now_minute()
        self.exchange.open(o, d, j, now)

    def rms(self, o: engine.Order, inst: Listed) -> str | None:
        """The risk checks that leave a REJECTED order in the book (Kite's RMS), in Kite's order: the reason,
        or None when the order passes."""
        d, j = self.venue.now_minute()
        q = self.venue.view.quote(d, j, inst.tradingsymbol)
        if q is None:
            return "Instrument is not tradable today."
        lower, upper = circuit_limits(inst, dec(q.prev_close))
        for px in (
            o.price if o.order_type in ("LIMIT", "SL") else None,
            o.trigger_price if o.order_type in ("SL", "SL-M") else None,
        ):
            if px is not None and (px < lower or px > upper):
                return CIRCUIT_MESSAGE
        band = lpp_range(inst, dec(q.last)) if o.order_type in ("LIMIT", "SL") else None
        if band is not None and (o.price > band[1] if o.transaction_type == "BUY" else o.price < band[0]):
            return CIRCUIT_MESSAGE
        if o.order_type == "SL" and (
            why := sl_gap_problem(o.transaction_type, o.price, o.trigger_price, inst.is_option)
        ):
            return why
        if o.product == "MIS" and o.variety == "regular":
            cutoff = BROKER_FNO_SQUARE_OFF_MINUTE if inst.is_derivative else BROKER_EQUITY_SQUARE_OFF_MINUTE
            if j >= cutoff:
                return "MIS orders are blocked after the auto square-off time. Use NRML/CNC or square off."
        if o.product == "CNC" and o.transaction_type == "SELL":
            holding = self.portfolio.holdings.get(inst.tradingsymbol)
            held = holding.quantity if holding is not None else 0
            pos = self.portfolio.positions.get((inst.exchange, inst.tradingsymbol, "CNC"))
            selling = sum(
                x.pending_quantity
                for x in self.book.orders.values()
                if x.working
                and x.product == "CNC"
                and x.transaction_type == "SELL"
                and x.tradingsymbol == inst.tradingsymbol
            )
            free = held + (pos.quantity if pos else 0) - selling
            if o.quantity > free:
                return (
                    f"Insufficient holdings to sell {o.quantity} {inst.tradingsymbol} (CNC); "
                    f"available quantity is {max(free, 0)}. Use MIS to sell short intraday."
                )
        ltp = dec(q.last)
        price = o.price if o.order_type in ("LIMIT", "SL") and o.price > 0 else ltp
        available, *_ = self.margins.available()
        before = self.margins.instrument_margin(inst, o.product)
        after = self.margins.instrument_margin(inst, o.product, (o.transaction_type, o.quantity, price))
        required = after - before
        # the order's own margin is not yet counted in `available`
        if required > 0 and required > available:
            return (
                f"Insufficient funds. Required margin is {as_float(required):.2f} but available margin is "
                f"{as_float(available):.2f}. Check the orderbook for open orders."
            )
        return None
