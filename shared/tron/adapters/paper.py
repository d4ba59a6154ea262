"""Paper trading: MARKET orders fill against the bid/ask of the first snapshot after the decision, and stops
rest until the minute candles reach them, filled by the stop-fill model the simulator and the backtester
share (:class:`PaperBroker`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tron.domain.models import Asset, OrderIntent, Quote, Side, quote_problem
from tron.domain.money import dec, to_tick
from tron.domain.stop_fill import StopOrder, StopSlippage, first_fill, half_spread
from tron.ports import (
    BrokerOrder,
    BrokerUnavailable,
    Clock,
    ExternalFill,
    MarketData,
    OrderRejected,
    StateStore,
    WorkingOrder,
)

RESTING = "TRIGGER PENDING"
ZERO = Decimal(0)
STOP_TYPES = ("SL-M", "SL")


class PaperBroker:
    """The Broker port without a broker.

    A MARKET order fills completely, at once, at the market's quotes. A stop (SL-M, or SL with its limit)
    rests: whenever the broker is asked about it (:meth:`order_states`, and before a modify or a convert)
    it is worked against the minute candles completed since it was last looked at, from the first candle
    that starts at or after the moment it was placed, by tron.domain.stop_fill with the spread of the
    current quote (none without a good quote) — what Kite's exchange does inside the minute, as far as
    one-minute candles show it.

    Orders are kept in the state store under paper/{day}/orders, each with its tag, so the executor's
    recovery-by-tag works exactly as against Kite. Like Kite, it does not refuse a repeated tag: preventing
    duplicates is the executor's job.
    """

    def __init__(
        self,
        store: StateStore,
        market: MarketData,
        clock: Clock,
        slippage: StopSlippage | None = None,
        slices: Callable[[OrderIntent], list[int]] | None = None,
    ) -> None:
        self.store = store
        self.slices = slices or (lambda intent: [intent.qty])
        self.market = market
        self.clock = clock
        self.slippage = slippage or StopSlippage()
        self._lots: dict[Asset, dict[str, int]] = {}

    # ------------------------------------------------------------------ the Broker port
    def place(self, intent: OrderIntent) -> BrokerOrder:
        """A MARKET order fills its whole quantity at the first snapshot after the decision: buys pay the ask
        and sells get the bid (on the tick grid), so a paper day pays the spread as a live day does; it is
        COMPLETE. A stop rests (TRIGGER PENDING), worked against the candles that start from the moment it
        was placed (the clock's now); it needs no quote.

        OrderRejected for another order type, a stop without its trigger (or an SL without its limit), an
        F&O quantity that is not a whole number of lots (as the exchange rejects it) or, for a MARKET order,
        no quote for the symbol; BrokerUnavailable (try again) while that quote is not newer than the
        decision or is a bad one (zero, negative, crossed).
        """
        if intent.order_type not in ("MARKET", *STOP_TYPES):
            raise OrderRejected(
                f"paper broker fills MARKET orders and rests SL-M and SL, got {intent.order_type}"
            )
        lot = self._lot_size(intent)
        if intent.qty % lot:
            raise OrderRejected(
                f"quantity {intent.qty} of {intent.symbol} is not a multiple of the lot size {lot}"
            )
        slices = self._slices(intent)
        n = len(self.orders_with_tag(intent.day, intent.tag)) + 1
        order_id = f"{intent.tag}-{n}"
        doc: dict[str, Any] = {
            "order_id": order_id,
            "tag": intent.tag,
            "symbol": intent.symbol,
            "side": intent.side.value,
            "qty": intent.qty,
            "order_type": intent.order_type,
            "intent_id": intent.intent_id,
            "tick_size": str(intent.tick_size),
            "option": intent.segment == "options",
            "slices": slices,
        }
        if intent.order_type == "MARKET":
            quote = self._fresh_quote(intent)
            price = self._market_price(quote, intent.side, intent.tick_size)
            doc.update(
                status="COMPLETE", filled_qty=intent.qty, avg_price=str(price), ts=quote.ts.isoformat()
            )
            self._net(intent.day, doc)
        else:
            if intent.trigger is None or (intent.order_type == "SL" and intent.limit is None):
                raise OrderRejected(
                    f"a {intent.order_type} order needs its trigger price (and an SL its limit)"
                )
            now = self.clock.now()
            doc.update(
                status=RESTING,
                filled_qty=0,
                avg_price="0",
                ts=now.isoformat(),
                trigger=str(dec(intent.trigger)),
                limit=None if intent.limit is None else str(dec(intent.limit)),
                looked_from=now.isoformat(),  # candles from here on are still to be worked
                triggered=False,
            )
        self._save(intent.day, doc)
        return _order(doc)

    def modify(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        """Move a resting stop to the intent's trigger (and limit), after working it against the candles
        completed so far. OrderRejected if it is no longer resting, or the last price is already through the
        new trigger (as Kite refuses it)."""
        doc = self._work(intent.day, order_id)
        if doc["status"] != RESTING:
            raise OrderRejected(f"paper order {order_id} cannot be modified as it is {doc['status'].lower()}")
        if intent.trigger is None or (doc["order_type"] == "SL" and intent.limit is None):
            raise OrderRejected("a trail needs its trigger price (and an SL's its limit)")
        quote = self._quote(intent.symbol)
        sell = doc["side"] == "SELL"
        if (quote.last <= intent.trigger) if sell else (quote.last >= intent.trigger):
            raise OrderRejected(
                f"Trigger price {intent.trigger} is already crossed by the last price {quote.last}"
            )
        doc.update(
            trigger=str(dec(intent.trigger)),
            limit=None if intent.limit is None else str(dec(intent.limit)),
            qty=intent.qty,
            slices=self._slices(intent),
        )
        self._save(intent.day, doc)
        return _order(doc)

    def convert(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        """Turn a resting stop into the exit: worked against the candles first (a stop that filled is
        answered as it filled), then filled as a MARKET order at the first snapshot after the exit's
        decision. A stop that no longer works and filled nothing is answered REJECTED."""
        doc = self._work(intent.day, order_id)
        if doc["status"] == "COMPLETE":
            return _order(doc)
        if doc["status"] not in (RESTING, "OPEN"):
            return _order({**doc, "status": "REJECTED", "message": f"the stop is {doc['status'].lower()}"})
        quote = self._fresh_quote(intent)
        price = self._market_price(quote, intent.side, intent.tick_size)
        doc.update(
            status="COMPLETE",
            order_type="MARKET",
            filled_qty=int(doc["qty"]),
            avg_price=str(price),
            ts=quote.ts.isoformat(),
            converted_by=intent.intent_id,
        )
        self._net(intent.day, doc)
        self._save(intent.day, doc)
        return _order(doc)

    def _slices(self, intent: OrderIntent) -> list[int]:
        """The slices Kite would take the order in (OrderRejected above the most it allows)."""
        try:
            return self.slices(intent)
        except ValueError as e:
            raise OrderRejected(str(e)) from None

    def order_states(self, day: date, order_ids: list[str]) -> dict[str, BrokerOrder]:
        """The paper orders as they stand, each resting stop first worked against the candles completed
        since it was last looked at."""
        docs = {oid: d for oid in order_ids if (d := self.store.get(self._path(day, oid))) is not None}
        symbols = sorted({d["symbol"] for d in docs.values() if _resting(d)})
        quotes = self.market.snapshot(symbols).quotes if symbols else {}
        return {oid: _order(self._work(day, oid, quotes.get(d["symbol"]))) for oid, d in docs.items()}

    def net_positions(self, day: date) -> dict[str, int]:
        """The day's net quantity per symbol of the paper fills (one document, kept as they fill)."""
        doc = self.store.get(self._positions(day)) or {}
        return {s: int(q) for s, q in doc.items() if int(q)}

    def external_fills(self, day: date) -> list[ExternalFill]:
        """None: nothing but TRON trades on paper."""
        return []

    def working_orders(self) -> list[WorkingOrder]:
        """None: paper orders do not outlive their day, and nothing but TRON places them."""
        return []

    def preflight(self) -> str | None:
        """The market data's preflight: paper fills need quotes, nothing else."""
        return self.market.preflight()

    def find_by_tag(self, day: date, tag: str) -> BrokerOrder | None:
        """The first paper order of the day carrying the tag, or None."""
        found = self.orders_with_tag(day, tag)
        return found[0] if found else None

    def orders_with_tag(self, day: date, tag: str) -> list[BrokerOrder]:
        """Every paper order of the day carrying the tag, as stored."""
        return [_order(d) for _, d in self.store.list(f"paper/{day.isoformat()}/orders") if d["tag"] == tag]

    def cancel(self, order_id: str) -> str:
        """Cancel a resting stop (worked against the candles first); OrderRejected for anything else: a
        MARKET paper order is complete the moment it is placed."""
        day = self.clock.now().date()
        doc = self._work(day, order_id)
        if doc["status"] not in (RESTING, "OPEN"):
            raise OrderRejected(
                f"paper order {order_id} cannot be cancelled as it is {doc['status'].lower()}"
            )
        doc["status"] = "CANCELLED"
        self._save(day, doc)
        return order_id

    # ------------------------------------------------------------------ internals
    def _work(self, day: date, order_id: str, quote: Quote | None = None) -> dict[str, Any]:
        """The order, a resting stop first worked against the candles completed since it was looked at
        (with the spread of ``quote``, else of a fresh one)."""
        doc = self.store.get(self._path(day, order_id))
        if doc is None:
            raise OrderRejected(f"no paper order {order_id}")
        if not _resting(doc):
            return doc
        since = datetime.fromisoformat(doc["looked_from"])
        candles = self.market.minute_bars(doc["symbol"], since)
        if not candles:
            return doc
        if quote is None or quote_problem(quote):
            quote = self.market.snapshot([doc["symbol"]]).quotes.get(doc["symbol"])
        spread = half_spread(quote.bid, quote.ask) if quote is not None and not quote_problem(quote) else ZERO
        stop = StopOrder(
            doc["side"],
            doc["order_type"],
            dec(doc["trigger"]),
            None if doc.get("limit") is None else dec(doc["limit"]),
            is_option=bool(doc.get("option")),
        )
        outcome, candle = first_fill(
            stop,
            candles,
            Decimal(doc["tick_size"]),
            spread,
            self.slippage,
            bool(doc.get("triggered")),
        )
        doc["looked_from"] = (candles[-1].start + timedelta(minutes=1)).isoformat()
        if outcome.triggered and not doc.get("triggered"):
            doc.update(triggered=True, status="OPEN")
        if outcome.filled and candle is not None:
            doc.update(
                status="COMPLETE",
                filled_qty=int(doc["qty"]),
                avg_price=str(outcome.price),
                ts=(candle.start + timedelta(minutes=1)).isoformat(),
            )
            self._net(day, doc)
        self._save(day, doc)
        return doc

    def _lot_size(self, intent: OrderIntent) -> int:
        if intent.asset is Asset.STOCKS:
            return 1
        if intent.asset not in self._lots or intent.symbol not in self._lots[intent.asset]:
            self._lots[intent.asset] = {i.symbol: i.lot_size for i in self.market.instruments(intent.asset)}
        return self._lots[intent.asset].get(intent.symbol, 1)

    def _quote(self, symbol: str) -> Quote:
        quote = self.market.snapshot([symbol]).quotes.get(symbol)
        if quote is None:
            raise OrderRejected(f"no quote for {symbol}")
        if problem := quote_problem(quote):
            raise BrokerUnavailable(f"no good quote for {symbol} ({problem})")
        return quote

    def _fresh_quote(self, intent: OrderIntent) -> Quote:
        quote = self._quote(intent.symbol)
        if quote.ts <= intent.decided_at:
            raise BrokerUnavailable(f"no snapshot after {intent.decided_at.isoformat()} yet")
        return quote

    @staticmethod
    def _market_price(quote: Quote, side: Side, tick: Decimal) -> Decimal:
        return to_tick(quote.ask if side is Side.BUY else quote.bid, tick)

    @staticmethod
    def _path(day: date, order_id: str) -> str:
        return f"paper/{day.isoformat()}/orders/{order_id}"

    @staticmethod
    def _positions(day: date) -> str:
        return f"paper/{day.isoformat()}/positions/net"

    def _net(self, day: date, order: dict[str, Any]) -> None:
        """Add an order's fill to the day's net positions (in a transaction: executors run concurrently)."""
        qty = int(order["filled_qty"]) * (1 if order["side"] == "BUY" else -1)
        path = self._positions(day)

        def body(txn: Any) -> None:
            doc = txn.get(path) or {}
            txn.set(path, {**doc, order["symbol"]: int(doc.get(order["symbol"], 0)) + qty})

        self.store.transaction(body)

    def _save(self, day: date, doc: dict[str, Any]) -> None:
        self.store.set(self._path(day, doc["order_id"]), doc)


def _resting(d: dict[str, Any]) -> bool:
    """A stop still working: not yet triggered, or an SL triggered and resting at its limit."""
    return d["status"] in (RESTING, "OPEN") and d.get("order_type") in STOP_TYPES


def _order(d: dict[str, Any]) -> BrokerOrder:
    """The stored paper order as the broker answers it; one sent in slices at Kite (above the freeze
    quantity) has each slice's fill in ``parts``, as Kite's slices would be charged."""
    filled, avg = int(d["filled_qty"]), Decimal(d["avg_price"])
    slices = [int(q) for q in d.get("slices") or []]
    parts = tuple((q, avg) for q in slices) if len(slices) > 1 and sum(slices) == filled else ()
    return BrokerOrder(
        d["order_id"],
        d["tag"],
        d["status"],
        filled,
        avg,
        datetime.fromisoformat(d["ts"]),
        d.get("message", ""),
        parts=parts,
    )
