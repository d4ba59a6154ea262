"""What the Kite simulator tests (tests/integration/kite_simulator) share: placing an order with defaults, its
last state, IST wall times."""

from __future__ import annotations

import time
from datetime import datetime

from kiteconnect import KiteConnect

from tron.domain.timeutil import IST


def wall(*args: int) -> datetime:
    """An IST wall-clock time as the client parses Kite's zone-less timestamps (naive)."""
    return datetime(*args, tzinfo=IST).replace(tzinfo=None)  # type: ignore[misc]


def place(
    kite: KiteConnect,
    symbol: str = "INFY",
    qty: int = 10,
    side: str = "BUY",
    settle: bool = True,
    **kw: object,
) -> str:
    """Place an order (by default a regular MIS MARKET buy of NSE:INFY with automatic market protection);
    keyword arguments override any of Kite's parameters. Returns the order id, once the order has passed
    Kite's OMS (unless settle=False: straight after the answer)."""
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
    oid = kite.place_order(**args)  # type: ignore[arg-type]
    if settle:
        settled(kite, oid)
    return oid


def listed(kite: KiteConnect) -> list[dict]:
    """GET /orders once an order placed a moment ago can be listed (the simulator lists it after ~20 ms)."""
    time.sleep(0.05)
    return list(kite.orders())


# Statuses an order passes through on Kite's side (asynchronously) before it rests, fills or ends.
PASSING = frozenset(
    {
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN PENDING",
        "MODIFY VALIDATION PENDING",
        "MODIFY PENDING",
        "MODIFIED",
        "CANCEL PENDING",
    }
)


def settled(kite: KiteConnect, order_id: str, timeout: float = 2.0) -> dict:
    """Wait (in wall time) until the order has passed Kite's OMS: resting, filled, rejected or cancelled,
    and listed in the order book. Returns its latest state."""
    deadline = time.monotonic() + timeout
    while True:
        state = kite.order_history(order_id)[-1]
        listed = any(o["order_id"] == order_id for o in kite.orders())
        if (state["status"] not in PASSING and listed) or time.monotonic() > deadline:
            return state
        time.sleep(0.005)


def last(kite: KiteConnect, order_id: str) -> dict:
    """The order's latest state from its history, once it has passed Kite's OMS (see settled)."""
    return settled(kite, order_id)
