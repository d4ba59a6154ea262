"""The day's order book: orders with their status history, trades, and the liquidity orders took from each
minute's depth; every status change is recorded here and announced to postbacks and ticker connections."""

from __future__ import annotations

import queue
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tron.domain.timeutil import IST
from tron.sim.kite import engine
from tron.sim.kite.catalog import Listed
from tron.sim.kite.portfolio import Portfolio
from tron.sim.kite.postbacks import Postbacks
from tron.sim.kite.protocol import fmt
from tron.sim.kite.venue import Venue

# What a minute's book gave away, per instrument token: (minute, side, level) → quantity taken.
Consumed = dict[int, dict[tuple[int, str, int], int]]


class OrderBook:
    """Orders and trades of one trading day (`day`; None before the first request), numbered across days.

    Order updates go to the postback receiver (if any) and to every queue in `ticker_queues` (the ticker
    connections' order updates; the list is shared with the simulator, which adds and removes queues)."""

    def __init__(
        self,
        venue: Venue,
        portfolio: Portfolio,
        user_id: str,
        postbacks: Postbacks | None,
        ticker_queues: list[queue.Queue[dict[str, Any]]],
        market_as_limit: bool = True,
    ) -> None:
        self.venue = venue
        self.market_as_limit = market_as_limit  # report protected MARKET orders as the LIMIT Kite makes them
        self.portfolio = portfolio
        self.user_id = user_id
        self.postbacks = postbacks
        self.ticker_queues = ticker_queues
        self.day: date | None = None
        self.orders: dict[str, engine.Order] = {}
        self.trades: list[dict[str, Any]] = []
        self.consumed: Consumed = {}
        self._order_seq = 0
        self._trade_seq = 0

    def start_day(self, d: date | None) -> None:
        """An empty book for day d (order and trade numbers keep counting)."""
        self.day = d
        self.orders = {}
        self.trades = []
        self.consumed = {}

    def new_order(
        self,
        variety: str,
        inst: Listed,
        side: str,
        qty: int,
        product: str,
        order_type: str,
        price: Decimal,
        trigger: Decimal,
        protection: Decimal,
        tag: str | None,
        validity: str,
        ts: datetime,
        placed_by: str | None = None,
        disclosed: int = 0,
        source: str = "api",
    ) -> engine.Order:
        """Enter an order (PUT ORDER REQ RECEIVED) in the book with the next order id of ts's date."""
        d = ts.astimezone(IST).date()
        self._order_seq += 1
        oid = f"{d:%y%m%d}{self._order_seq:09d}"
        o = engine.Order(
            order_id=oid,
            exchange_order_id="",
            variety=variety,
            exchange=inst.exchange,
            tradingsymbol=inst.tradingsymbol,
            instrument_token=inst.instrument_token,
            transaction_type=side,
            order_type=order_type,
            product=product,
            validity=validity,
            quantity=qty,
            price=price,
            trigger_price=trigger,
            market_protection=protection,
            tag=tag,
            placed_by=placed_by or self.user_id,
            source=source,
            order_timestamp=ts,
            day=d,
            tick=inst.tick_size,
            is_option=inst.is_option,
            disclosed_quantity=disclosed,
            guid=f"sim{oid}",
        )
        self.orders[oid] = o
        self.record(o, ts)
        return o

    def record(self, o: engine.Order, ts: datetime) -> None:
        """Append the order as it now is to its history; a terminal status, a new fill or the end of a
        modification is a ticker order update (every order) and a postback (the app's own orders only)."""
        entry = self.order_dict(o)
        entry["order_timestamp"] = fmt(ts)
        previous = o.history[-1] if o.history else None
        o.history.append(entry)
        if self.postbacks is None and not self.ticker_queues:
            return
        event = None
        if o.status in engine.TERMINAL:
            event = o.status
        elif previous is not None and (
            entry["filled_quantity"] != previous["filled_quantity"]
            or previous["status"] == engine.MODIFY_PENDING
        ):
            event = "UPDATE"
        if event is None:
            return
        if self.postbacks is not None and o.source == "api":  # Kite posts back only the app's own orders
            self.postbacks.send(self.order_dict(o), self.user_id, event)
        for q in self.ticker_queues:  # the ticker's order updates carry the same events
            q.put({**self.order_dict(o), "status": event, "user_id": self.user_id})

    def order_dict(self, o: engine.Order) -> dict[str, Any]:
        """The order as Kite's order book shows it."""
        converted = self.market_as_limit and o.order_type == "MARKET" and o.working_limit is not None
        return {
            "placed_by": o.placed_by,
            "order_id": o.order_id,
            "exchange_order_id": o.exchange_order_id or None,
            "parent_order_id": None,
            "status": engine.CANCEL_PENDING
            if o.cancel_requested and o.status not in engine.TERMINAL
            else o.status,
            "status_message": o.status_message,
            "status_message_raw": o.status_message,
            "order_timestamp": fmt(o.order_timestamp),
            "exchange_update_timestamp": fmt(o.exchange_update_timestamp),
            "exchange_timestamp": fmt(o.exchange_timestamp),
            "variety": o.variety,
            "modified": o.modified,
            "exchange": o.exchange,
            "tradingsymbol": o.tradingsymbol,
            "instrument_token": o.instrument_token,
            "order_type": "LIMIT" if converted else o.order_type,
            "transaction_type": o.transaction_type,
            "validity": o.validity,
            "validity_ttl": o.validity_ttl,
            "product": o.product,
            "quantity": o.quantity,
            "disclosed_quantity": o.disclosed_quantity,
            # Kite converts a protected MARKET order to a LIMIT at its protection price and shows it so; a
            # triggered SL-M resting after a partial fill shows its protection price too
            "price": float(
                o.working_limit
                if o.working_limit is not None
                and (converted or (o.order_type == "SL-M" and o.status == engine.OPEN))
                else o.price
            ),
            "trigger_price": float(o.trigger_price),
            "average_price": float(o.average_price),
            "filled_quantity": o.filled_quantity,
            "pending_quantity": o.pending_quantity,
            "cancelled_quantity": o.cancelled_quantity,
            "market_protection": float(o.market_protection),
            "meta": {},
            "tag": o.tag,
            "tags": [o.tag] if o.tag else None,
            "guid": o.guid,
        }

    def book_fill(self, o: engine.Order, f: engine.Execution, ts: datetime) -> None:
        """Record a fill as a trade and apply it to the account's position."""
        self._trade_seq += 1
        inst = self.venue.instrument(o.exchange, o.tradingsymbol)
        self.trades.append(
            {
                "trade_id": f"{self._trade_seq:08d}",
                "order_id": o.order_id,
                "exchange": o.exchange,
                "tradingsymbol": o.tradingsymbol,
                "instrument_token": o.instrument_token,
                "product": o.product,
                "average_price": float(f.price),
                "quantity": f.quantity,
                "exchange_order_id": o.exchange_order_id,
                "transaction_type": o.transaction_type,
                "fill_timestamp": fmt(ts),
                "order_timestamp": fmt(o.order_timestamp),
                "exchange_timestamp": fmt(ts),
            }
        )
        self.portfolio.position(inst, o.product).apply(o.transaction_type, f.quantity, f.price)
