"""Simulated time: working orders advance lazily to the clock's minute (TTL expiry, resting fills, AMOs at the
open, GTTs, Zerodha's MIS auto square-off), and a new date closes the old day and settles the account."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from tron.domain.timeutil import ist
from tron.sim.kite import engine
from tron.sim.kite.exchange import Exchange
from tron.sim.kite.gtt_book import GttBook
from tron.sim.kite.market_view import dec
from tron.sim.kite.order_book import OrderBook
from tron.sim.kite.portfolio import AccountPosition, Holding, Portfolio
from tron.sim.kite.protocol import BROKER_EQUITY_SQUARE_OFF_MINUTE, BROKER_FNO_SQUARE_OFF_MINUTE
from tron.sim.kite.venue import Venue
from tron.sim.market import MINUTES

AUTO_SQUARE_OFF_CHARGE = Decimal("59.00")  # ₹50 + 18% GST per order the broker squares off


class TradingDay:
    """Brings the book up to the clock. No background thread: the simulator calls `advance` before every
    request, so a virtual clock is obeyed exactly. Starts with an empty day (None) and the opening balance."""

    def __init__(
        self, venue: Venue, portfolio: Portfolio, book: OrderBook, exchange: Exchange, gtts: GttBook
    ) -> None:
        self.venue = venue
        self.portfolio = portfolio
        self.book = book
        self.exchange = exchange
        self.gtts = gtts
        self.minute_seen = -1  # the last session minute walked through
        self._amo_carry: list[engine.Order] = []  # AMOs placed after the close, for the next day's book
        self.reset(None)

    def advance(self) -> None:
        """Bring every working order up to the clock's minute; roll the day when the date changed."""
        d, j = self.venue.now_minute()
        if self.book.day is None:
            self.book.day = d
        if d != self.book.day:
            self.finish(self.book.day)
            self.reset(d)
        self.run_until(d, j)

    def reset(self, d: date | None) -> None:
        """Start a new trading day: an empty order and trade book; yesterday's realised P&L (MIS closed out,
        CNC sales against holdings, expired F&O settled at their last price) moves into the opening balance;
        CNC buys become holdings; NRML positions carry as overnight quantity at their average price; AMOs
        placed after yesterday's close join the new book."""
        previous_day = self.book.day
        self.book.start_day(d)
        self._settle(previous_day)
        self.minute_seen = -1
        for o in self._amo_carry:
            self.book.orders[o.order_id] = o
        self._amo_carry = []

    def _settle(self, previous_day: date | None) -> None:
        portfolio = self.portfolio
        carried = portfolio.positions
        portfolio.positions = {}
        booked = Decimal(0)
        for key, p in carried.items():
            q = p.quantity
            booked += p.realised
            if q == 0:
                continue
            expired = p.inst.expiry is not None and previous_day is not None and p.inst.expiry <= previous_day
            # settled at the last price (MIS only if the square-off could not fill)
            if expired or p.product == "MIS":
                booked += (p.last_price - p.average_price) * q
                continue
            if p.product == "CNC":
                h = portfolio.holdings.setdefault(p.inst.tradingsymbol, Holding(p.inst))
                if q > 0:
                    h.cost += p.average_price * q
                elif h.quantity:
                    held_avg = h.cost / h.quantity
                    booked += (p.average_price - held_avg) * -q  # sold from holdings at p.average_price
                    h.cost -= held_avg * -q
                h.quantity += q
                if h.quantity <= 0:
                    del portfolio.holdings[p.inst.tradingsymbol]
                continue
            n = AccountPosition(p.inst, p.product, overnight_quantity=q, close_price=p.last_price)
            n.apply("BUY" if q > 0 else "SELL", abs(q), p.average_price)
            n.last_price = p.last_price
            portfolio.positions[key] = n
        portfolio.capital += booked.quantize(Decimal("0.01"))

    def finish(self, d: date) -> None:
        """Close day d: run it to 15:30, mark positions at the close, keep waiting AMOs for the next day and
        cancel every working order."""
        self.run_until(d, MINUTES)
        for p in self.portfolio.positions.values():
            q = self.venue.view.quote(d, MINUTES, p.inst.tradingsymbol)
            if q is not None:
                p.last_price = dec(q.last)
        self._amo_carry = [o for o in self.book.orders.values() if o.status == engine.AMO_REQ_RECEIVED]
        for o in self.book.orders.values():
            if o.working:
                o.cancelled_quantity = o.pending_quantity
                o.status = engine.CANCELLED
                o.status_message = "Order cancelled at the end of the trading day"
                self.book.record(o, ist(d, time(15, 30)))

    def run_until(self, d: date, j: int) -> None:
        """Walk minutes from the last one seen to j of day d: AMOs open, MIS square-offs, TTL expiries, resting
        orders against each minute's book, GTT checks."""
        if j == self.minute_seen and not self._amo_waiting() and not self.gtts.waiting():
            return
        view, clock = self.venue.view, self.venue.clock
        open_now = view.is_open(clock.now()) and view.session(clock.now())[0] == d
        for minute in range(max(self.minute_seen, 0), j + 1):
            if self._amo_waiting() and (minute < j or open_now):
                for o in list(self.book.orders.values()):
                    if o.status == engine.AMO_REQ_RECEIVED:
                        self.exchange.open(o, d, minute, self.venue.minute_ts(d, minute))
            if minute > self.minute_seen:
                self._auto_square_off(d, minute)
            if minute >= MINUTES:
                continue  # 15:30: the session is over, nothing more trades
            for o in list(self.book.orders.values()):
                if o.working and o.validity == "TTL" and minute >= o.placed_minute + o.validity_ttl:
                    o.cancelled_quantity = o.pending_quantity
                    o.status = engine.CANCELLED
                    o.status_message = "Order cancelled: its TTL validity ran out"
                    self.book.record(o, self.venue.minute_ts(d, minute))
                elif o.working and o.last_minute < minute:
                    self.exchange.match(o, d, minute, resting=True)
            if self.gtts.triggers and minute > self.minute_seen and (minute < j or open_now):
                self.gtts.fire_due(d, minute)
        if j != self.minute_seen:
            self.book.consumed = {
                t: {k: v for k, v in c.items() if k[0] >= j} for t, c in self.book.consumed.items()
            }
        self.minute_seen = j

    def _amo_waiting(self) -> bool:
        return any(o.status == engine.AMO_REQ_RECEIVED for o in self.book.orders.values())

    def _auto_square_off(self, d: date, minute: int) -> None:
        """Zerodha squares off MIS positions at 15:20 (equity) and 15:25 (F&O), cancelling open MIS orders."""
        if minute not in (BROKER_EQUITY_SQUARE_OFF_MINUTE, BROKER_FNO_SQUARE_OFF_MINUTE):
            return
        self._square_off(d, minute, "fno" if minute == BROKER_FNO_SQUARE_OFF_MINUTE else "equity")

    def square_off(self, segment: str) -> list[str]:
        """The broker's MIS square-off now, for segment equity, fno or all (an operator's drill); the ids of
        the ADMINSQF orders it placed."""
        d, j = self.venue.now_minute()
        out: list[str] = []
        for seg in ("equity", "fno") if segment == "all" else (segment,):
            out += self._square_off(d, j, seg)
        return out

    def _square_off(self, d: date, minute: int, segment: str) -> list[str]:
        """Cancel the segment's working MIS orders and close its MIS positions with ADMINSQF market orders,
        each charged ₹50 + 18% GST to the account."""
        fno = segment == "fno"
        ts = self.venue.minute_ts(d, minute)
        placed: list[str] = []
        for o in list(self.book.orders.values()):
            if o.working and o.product == "MIS" and (o.exchange == "NFO") == fno:
                o.cancelled_quantity = o.pending_quantity
                o.status = engine.CANCELLED
                o.status_message = "Cancelled by the auto square-off"
                self.book.record(o, ts)
        for p in list(self.portfolio.positions.values()):
            if p.product != "MIS" or p.quantity == 0 or p.inst.is_derivative != fno:
                continue
            side = "SELL" if p.quantity > 0 else "BUY"
            o = self.book.new_order(
                "regular",
                p.inst,
                side,
                abs(p.quantity),
                "MIS",
                "MARKET",
                Decimal(0),
                Decimal(0),
                Decimal(-1),
                None,
                "DAY",
                ts,
                placed_by="ADMINSQF",
                source="admin",
            )
            self.exchange.open(o, d, minute, ts)
            self.portfolio.charges += AUTO_SQUARE_OFF_CHARGE
            placed.append(o.order_id)
        return placed
