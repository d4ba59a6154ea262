"""The matching engine: pure functions over an order and one minute's simulated order book.

No clock, no I/O: the simulator hands each working order the book of every minute it has not yet seen
(lazily, when a request arrives), and the engine says what filled at which prices, so matching is
deterministic and unit-testable. The model is a documented approximation of an exchange: the book
(:func:`build_book`), market protection (:func:`arm`), limit and trade-through fills (:func:`take`) and
stop triggers (:func:`match_minute`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tron.domain.order_rules import auto_protection_pct, protection_price
from tron.domain.stop_fill import Bar, StopOrder, StopSlippage, stop_outcome

LEVELS = 5

# Order statuses as Kite names them.
PUT_ORDER_REQ_RECEIVED = "PUT ORDER REQ RECEIVED"
VALIDATION_PENDING = "VALIDATION PENDING"
OPEN_PENDING = "OPEN PENDING"
OPEN = "OPEN"
TRIGGER_PENDING = "TRIGGER PENDING"
MODIFY_VALIDATION_PENDING = "MODIFY VALIDATION PENDING"
MODIFY_PENDING = "MODIFY PENDING"
MODIFIED = "MODIFIED"
CANCEL_PENDING = "CANCEL PENDING"
AMO_REQ_RECEIVED = "AMO REQ RECEIVED"
COMPLETE = "COMPLETE"
CANCELLED = "CANCELLED"
REJECTED = "REJECTED"
TERMINAL = frozenset({COMPLETE, CANCELLED, REJECTED})


# ---------------------------------------------------------------------------------------------- book
@dataclass(frozen=True)
class Level:
    price: Decimal
    quantity: int
    orders: int


@dataclass(frozen=True)
class Depth:
    """One minute of one instrument: depth both sides (best first), the last price, and the bar that just
    completed (for trade-through fills of resting limits; None at the open)."""

    minute: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    last: Decimal
    bar_low: Decimal | None = None
    bar_high: Decimal | None = None
    bar_open: Decimal | None = None

    @property
    def bar(self) -> Bar | None:
        """The bar that just completed (open, high, low and this minute's last as its close), if any."""
        if self.bar_open is None or self.bar_high is None or self.bar_low is None:
            return None
        return Bar(self.bar_open, self.bar_high, self.bar_low, self.last)

    @property
    def half_spread(self) -> Decimal:
        if not self.bids or not self.asks:
            return Decimal(0)
        return (self.asks[0].price - self.bids[0].price) / 2


@dataclass(frozen=True)
class Liquidity:
    """Depth per level, as notional rupees (each level deeper holds 50% more)."""

    equity: Decimal = Decimal("500000")
    futures: Decimal = Decimal("20000000")
    options: Decimal = Decimal("1000000")


def build_book(
    *,
    key: str,
    minute: int,
    bid: Decimal,
    ask: Decimal,
    last: Decimal,
    tick: Decimal,
    lot: int,
    notional: Decimal,
    bar_low: Decimal | None = None,
    bar_high: Decimal | None = None,
    bar_open: Decimal | None = None,
) -> Depth:
    """Five deterministic levels per side around bid/ask; quantities are whole lots, at least one.

    The book is rebuilt every minute around the generator's bid/ask: levels a tick apart, each holding
    about ``notional`` rupees (50% more per level deeper, varied by a hash of key, minute and level).
    Quantity taken from a minute's book stays taken for that minute, across orders (see :func:`take`), so
    big orders fill partially and the rest waits for later minutes.
    """
    lot = max(1, lot)
    step = tick if tick > 0 else Decimal("0.05")

    def side(best: Decimal, sign: int, name: str) -> tuple[Level, ...]:
        out = []
        for k in range(LEVELS):
            price = best + sign * step * k
            if price <= 0:
                break
            u = (zlib.crc32(f"{key}|{minute}|{name}|{k}".encode()) % 1000) / 1000  # 0 ≤ u < 1
            value = notional * Decimal(1 + 0.5 * k) * Decimal(0.5 + u)
            lots = max(1, int(value / (price * lot)))
            out.append(Level(price, lots * lot, 1 + (zlib.crc32(f"{key}{minute}{name}{k}o".encode()) % 25)))
        return tuple(out)

    return Depth(minute, side(bid, -1, "b"), side(ask, 1, "s"), last, bar_low, bar_high, bar_open)


# ---------------------------------------------------------------------------------------------- orders
@dataclass
class Execution:
    price: Decimal
    quantity: int


@dataclass
class Order:
    """A working order in the simulator; fields mirror Kite's order book entries."""

    order_id: str
    exchange_order_id: str
    variety: str
    exchange: str
    tradingsymbol: str
    instrument_token: int
    transaction_type: str
    order_type: str
    product: str
    validity: str
    quantity: int
    price: Decimal
    trigger_price: Decimal
    market_protection: Decimal
    tag: str | None
    placed_by: str
    source: str  # api (the app's api key) | gtt (a GTT fired) | admin (the broker's square-off) | manual
    order_timestamp: datetime
    day: date
    tick: Decimal
    is_option: bool
    disclosed_quantity: int = 0
    validity_ttl: int = 0  # minutes, for validity TTL
    placed_minute: int = 0  # the session minute the order reached the exchange
    status: str = PUT_ORDER_REQ_RECEIVED
    status_message: str | None = None
    filled_quantity: int = 0
    fill_value: Decimal = Decimal(0)
    cancelled_quantity: int = 0
    exchange_timestamp: datetime | None = None
    exchange_update_timestamp: datetime | None = None
    working_limit: Decimal | None = None  # the limit actually resting (protection price for MARKET)
    triggered_at: Decimal | None = None  # a stop's trigger point inside the bar that triggered it
    cancel_requested: bool = False  # CANCEL PENDING: it still works at the exchange until the cancel lands
    last_minute: int = -1  # the last minute whose book this order has seen
    modified: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    guid: str = ""

    @property
    def pending_quantity(self) -> int:
        if self.status in TERMINAL:
            return 0
        return self.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal:
        if not self.filled_quantity:
            return Decimal(0)
        return (self.fill_value / self.filled_quantity).quantize(Decimal("0.01"))

    @property
    def working(self) -> bool:
        return self.status in (OPEN, TRIGGER_PENDING)


def arm(order: Order, ltp: Decimal) -> None:
    """Set the limit an order works at once it is live (after placement or trigger).

    MARKET and SL-M orders carry market protection, as Kite converts them to a limit at LTP ± protection
    (-1: :func:`auto_protection_pct`): they fill at level prices up to the protection price, and what is
    left rests at that price. LIMIT and SL orders work at their own ``price``.
    """
    if order.order_type in ("MARKET", "SL-M"):
        pct = order.market_protection
        if pct < 0:
            pct = auto_protection_pct(ltp, order.is_option)
        order.working_limit = protection_price(order.transaction_type, ltp, pct, order.tick)
    else:
        order.working_limit = order.price


def take(
    side: str, qty: int, limit: Decimal, book: Depth, consumed: dict[tuple[int, str, int], int], resting: bool
) -> list[Execution]:
    """Fill up to qty against the opposite side of the book at prices no worse than limit. `consumed` is
    the minute's shared record of quantity already taken (key: minute, side, level).

    A ``resting`` order also fills at its own limit when the minute's bar traded through it (low below a
    buy limit, high above a sell limit), up to the best level's quantity.
    """
    levels = book.asks if side == "BUY" else book.bids
    name = "s" if side == "BUY" else "b"
    fills: list[Execution] = []
    left = qty
    for k, lvl in enumerate(levels):
        if left <= 0:
            break
        if (side == "BUY" and lvl.price > limit) or (side == "SELL" and lvl.price < limit):
            break
        ck = (book.minute, name, k)
        avail = lvl.quantity - consumed.get(ck, 0)
        if avail <= 0:
            continue
        q = min(avail, left)
        consumed[ck] = consumed.get(ck, 0) + q
        fills.append(Execution(lvl.price, q))
        left -= q
    if left > 0 and resting and levels:
        through = (side == "BUY" and book.bar_low is not None and book.bar_low < limit) or (
            side == "SELL" and book.bar_high is not None and book.bar_high > limit
        )
        if through:
            ck = (book.minute, name + "t", 0)
            avail = levels[0].quantity - consumed.get(ck, 0)
            q = min(max(avail, 0), left)
            if q > 0:
                consumed[ck] = consumed.get(ck, 0) + q
                fills.append(Execution(limit, q))
    return fills


def match_minute(
    order: Order,
    book: Depth,
    consumed: dict[tuple[int, str, int], int],
    resting: bool,
    slippage: StopSlippage | None = None,
) -> list[Execution]:
    """Advance one working order through one minute's book: trigger it if due, then fill what the book
    gives. Updates the order's filled quantity, value and status; returns the fills.

    SL / SL-M orders wait in TRIGGER PENDING until the minute's bar trades at or through the trigger, inside
    the minute (tron.domain.stop_fill, the model paper and the backtester share): an SL-M then fills near the
    trigger within its protection; an SL fills at its limit or better if the bar trades there after the
    trigger, else rests OPEN as a limit order. A stop is active from the bar after it reached the exchange.
    """
    if order.status == TRIGGER_PENDING:
        bar = book.bar if resting else None
        outcome = (
            stop_outcome(
                StopOrder(
                    order.transaction_type,
                    order.order_type,
                    order.trigger_price,
                    order.price if order.order_type == "SL" else None,
                    order.market_protection,
                    order.is_option,
                ),
                bar,
                order.tick,
                book.half_spread,
                slippage,
            )
            if bar is not None
            else None
        )
        order.last_minute = book.minute
        if outcome is None or not outcome.triggered:
            return []
        order.status = OPEN
        order.triggered_at = outcome.at
        if outcome.price is None:  # an SL whose limit the bar did not reach: it rests as a limit order
            order.working_limit = order.price
            return []
        qty = order.pending_quantity
        order.filled_quantity += qty
        order.fill_value += outcome.price * qty
        order.status = COMPLETE
        return [Execution(outcome.price, qty)]
    if order.status != OPEN or order.working_limit is None:
        return []
    order.last_minute = book.minute
    fills = take(order.transaction_type, order.pending_quantity, order.working_limit, book, consumed, resting)
    for f in fills:
        order.filled_quantity += f.quantity
        order.fill_value += f.price * f.quantity
    if order.filled_quantity >= order.quantity:
        order.status = COMPLETE
    return fills
