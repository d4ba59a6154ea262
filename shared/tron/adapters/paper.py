"""Paper trading: orders fill against the bid/ask of the first snapshot after the decision
(:class:`PaperBroker`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from tron.domain.models import Asset, OrderIntent, Side, quote_problem
from tron.domain.money import to_tick
from tron.ports import BrokerOrder, BrokerUnavailable, MarketData, OrderRejected, StateStore


class PaperBroker:
    """The Broker port without a broker: every order fills completely, at once, at the market's quotes.

    Orders are kept in the state store under paper/{day}/orders, each with its tag, so the executor's
    recovery-by-tag works exactly as against Kite. Like Kite, it does not refuse a repeated tag: preventing
    duplicates is the executor's job.
    """

    def __init__(self, store: StateStore, market: MarketData) -> None:
        self.store = store
        self.market = market
        self._lots: dict[Asset, dict[str, int]] = {}

    def _lot_size(self, intent: OrderIntent) -> int:
        if intent.asset is Asset.STOCKS:
            return 1
        if intent.asset not in self._lots or intent.symbol not in self._lots[intent.asset]:
            self._lots[intent.asset] = {i.symbol: i.lot_size for i in self.market.instruments(intent.asset)}
        return self._lots[intent.asset].get(intent.symbol, 1)

    def place(self, intent: OrderIntent) -> BrokerOrder:
        """Fill the whole quantity at the first snapshot after the decision: buys pay the ask and sells get
        the bid (on the tick grid), so a paper day pays the spread as a live day does. Always COMPLETE.

        OrderRejected for a non-MARKET order, an F&O quantity that is not a whole number of lots (as the
        exchange rejects it) or no quote for the symbol; BrokerUnavailable (try again) while the quote is not
        newer than the decision or is a bad one (zero, negative, crossed).
        """
        if intent.order_type != "MARKET":
            raise OrderRejected(f"paper broker fills MARKET orders only, got {intent.order_type}")
        lot = self._lot_size(intent)
        if intent.qty % lot:
            raise OrderRejected(
                f"quantity {intent.qty} of {intent.symbol} is not a multiple of the lot size {lot}"
            )
        snap = self.market.snapshot([intent.symbol])
        quote = snap.quotes.get(intent.symbol)
        if quote is None:
            raise OrderRejected(f"no quote for {intent.symbol}")
        if quote.ts <= intent.decided_at:
            raise BrokerUnavailable(f"no snapshot after {intent.decided_at.isoformat()} yet")
        if problem := quote_problem(quote):
            raise BrokerUnavailable(f"no good quote for {intent.symbol} to fill at ({problem})")
        raw = quote.ask if intent.side is Side.BUY else quote.bid
        price = to_tick(raw, intent.tick_size)
        existing = self.store.list(f"paper/{intent.day.isoformat()}/orders")
        n = sum(1 for _, d in existing if d["tag"] == intent.tag) + 1
        order = BrokerOrder(f"{intent.tag}-{n}", intent.tag, "COMPLETE", intent.qty, price, quote.ts)
        self.store.set(
            f"paper/{intent.day.isoformat()}/orders/{order.order_id}",
            {
                "order_id": order.order_id,
                "tag": order.tag,
                "status": order.status,
                "symbol": intent.symbol,
                "side": intent.side.value,
                "filled_qty": order.filled_qty,
                "avg_price": str(price),
                "ts": order.ts.isoformat(),
                "intent_id": intent.intent_id,
            },
        )
        return order

    def preflight(self) -> str | None:
        """The market data's preflight: paper fills need quotes, nothing else."""
        return self.market.preflight()  # paper fills need quotes, nothing else

    def find_by_tag(self, day: date, tag: str) -> BrokerOrder | None:
        """The first paper order of the day carrying the tag, or None."""
        found = self.orders_with_tag(day, tag)
        return found[0] if found else None

    def orders_with_tag(self, day: date, tag: str) -> list[BrokerOrder]:
        """Every paper order of the day carrying the tag, as stored."""
        return [
            BrokerOrder(
                d["order_id"],
                d["tag"],
                d["status"],
                int(d["filled_qty"]),
                Decimal(d["avg_price"]),
                datetime.fromisoformat(d["ts"]),
            )
            for _, d in self.store.list(f"paper/{day.isoformat()}/orders")
            if d["tag"] == tag
        ]

    def cancel(self, order_id: str) -> str:
        """Always OrderRejected: paper orders are complete the moment they are placed."""
        raise OrderRejected(f"paper order {order_id} is already complete (paper orders fill at once)")
