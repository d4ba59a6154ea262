"""What the Kite simulator tests (tests/integration/kite_simulator) share: placing an order with defaults, its
last state, IST wall times."""

from __future__ import annotations

from datetime import datetime

from kiteconnect import KiteConnect

from tron.domain.timeutil import IST


def wall(*args: int) -> datetime:
    """An IST wall-clock time as the client parses Kite's zone-less timestamps (naive)."""
    return datetime(*args, tzinfo=IST).replace(tzinfo=None)  # type: ignore[misc]


def place(kite: KiteConnect, symbol: str = "INFY", qty: int = 10, side: str = "BUY", **kw: object) -> str:
    """Place an order (by default a regular MIS MARKET buy of NSE:INFY with automatic market protection);
    keyword arguments override any of Kite's parameters. Returns the order id."""
    args: dict[str, object] = {
        "variety": "regular",
        "exchange": "NSE",
        "tradingsymbol": symbol,
        "transaction_type": side,
        "quantity": qty,
        "product": "MIS",
        "order_type": "MARKET",
        "market_protection": -1,
    }
    args.update(kw)
    return kite.place_order(**args)  # type: ignore[arg-type]


def last(kite: KiteConnect, order_id: str) -> dict:
    """The order's latest state from its history."""
    return kite.order_history(order_id)[-1]
