"""The nouns of TRON: instruments, quotes, order intents, fills and positions."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any


class Asset(StrEnum):
    """The three asset classes TRON trades, each with its own tick, book and plan."""

    STOCKS = "stocks"
    FUTURES = "futures"
    OPTIONS = "options"


class Side(StrEnum):
    """An order's side, valued as Kite's transaction_type."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """The side that closes a position this side opened."""
        return Side.SELL if self is Side.BUY else Side.BUY


class Purpose(StrEnum):
    """Why an order is placed: to open a position, to exit one, the scheduled square-off, to rest the
    position's stop at the broker (protect), or to move that resting stop (trail)."""

    ENTRY = "entry"
    EXIT = "exit"
    SQUARE_OFF = "squareoff"
    PROTECT = "protect"
    TRAIL = "trail"

    @property
    def opens(self) -> bool:
        """True for an entry (the only purpose the risk governor and halts can refuse)."""
        return self is Purpose.ENTRY


class IntentState(StrEnum):
    """The life of an order intent: claimed by the tick, placing at the executor, then filled or rejected.
    A protect intent's stop rests at the broker (resting) until it fills there (filled) or is cancelled or
    turned into an exit (cancelled); a trail intent rests once the broker holds its trigger."""

    CLAIMED = "claimed"  # written by the tick, published to the bus
    PLACING = "placing"  # the executor is talking to the broker (a crash here is resolved by tag)
    RESTING = "resting"
    FILLED = "filled"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True once the executor is done with the intent (a later delivery is a duplicate)."""
        return self not in (IntentState.CLAIMED, IntentState.PLACING)


@dataclass(frozen=True)
class Instrument:
    """A tradable (or followed) instrument as Kite lists it: symbol, exchange, token, lot and tick size,
    and for F&O its expiry, strike and underlying. ``segment`` selects the charges and margin rules."""

    symbol: str  # Kite tradingsymbol
    exchange: str  # NSE | NFO
    asset: Asset
    token: int = 0
    lot_size: int = 1
    tick_size: Decimal = Decimal("0.05")
    sector: str = ""
    segment: str = "equity_intraday"  # the charges segment
    expiry: date | None = None  # F&O: the contract's expiry
    strike: float | None = None  # options
    option_type: str = ""  # FUT | CE | PE for F&O, "" for equity
    underlying: str = ""  # F&O: the underlying's symbol (the index "NIFTY 50")


@dataclass(frozen=True, slots=True)  # slots: a backtest holds millions (a year of minutes of 50 symbols)
class Quote:
    """One instrument in a batched quote snapshot (Kite `quote` fields TRON uses)."""

    symbol: str
    ts: datetime
    last: float
    bid: float
    ask: float
    volume: int  # cumulative for the day
    open: float
    high: float  # the day's high so far
    low: float
    prev_close: float

    def to_row(self) -> list[Any]:
        """The recorded form (a replay file's): [ts, last, bid, ask, volume, open, high, low, prev_close]."""
        return [
            self.ts.isoformat(),
            self.last,
            self.bid,
            self.ask,
            self.volume,
            self.open,
            self.high,
            self.low,
            self.prev_close,
        ]

    @staticmethod
    def from_row(symbol: str, row: list[Any]) -> Quote:
        """A quote from its recorded form; ValueError (or TypeError, IndexError) when it is not one."""
        ts = datetime.fromisoformat(row[0])
        if ts.tzinfo is None:
            raise ValueError(f"naive time stamp {row[0]!r}")
        last, bid, ask = (float(x) for x in row[1:4])
        opened, high, low, prev_close = (float(x) for x in row[5:9])
        return Quote(symbol, ts, last, bid, ask, int(row[4]), opened, high, low, prev_close)


_INF = math.inf


def quote_problem(q: Quote) -> str | None:
    """Why a quote must not enter bars, marks or fills, or None. Kite quotes an instrument that has not
    traded with last_price 0 and no depth; a feed can glitch to a negative, NaN or crossed price."""
    last, bid, ask, high, low = q.last, q.bid, q.ask, q.high, q.low
    if not (  # the usual quote, checked fast (the tick looks at every quote every minute)
        float is type(last) is type(bid) is type(ask) is type(high) is type(low)
        and 0 < last < _INF and 0 < bid < _INF and 0 < ask < _INF and 0 < high < _INF and 0 < low < _INF
    ):  # fmt: skip
        for name, v in (("last", last), ("bid", bid), ("ask", ask), ("high", high), ("low", low)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                return f"{name} {v!r} is not a positive price"
    if q.bid > q.ask:
        return f"crossed: bid {q.bid} above ask {q.ask}"
    if q.low > q.high:
        return f"the day's low {q.low} above its high {q.high}"
    return None


@dataclass(frozen=True)
class Snapshot:
    """One batched quote of many symbols: its time and each symbol's Quote (symbols without one absent)."""

    ts: datetime
    quotes: dict[str, Quote]

    def usable(self) -> tuple[Snapshot, dict[str, str]]:
        """The snapshot without its bad quotes (see quote_problem), and why each was left out. A symbol left
        out keeps its last good price, as a symbol without a quote does. (Worked out once a snapshot: a
        backtest asks twice.)"""
        return self._usable

    @cached_property
    def _usable(self) -> tuple[Snapshot, dict[str, str]]:
        bad = {s: why for s, q in self.quotes.items() if (why := quote_problem(q))}
        if not bad:
            return self, {}
        return Snapshot(self.ts, {s: q for s, q in self.quotes.items() if s not in bad}), bad


@dataclass(frozen=True, slots=True)  # slots: a backtest holds millions (a year of minutes of 50 symbols)
class Candle:
    """One completed minute of an instrument, as Kite's historical candles give it: its start (IST), open,
    high, low, close and volume."""

    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: int = 0


@dataclass(frozen=True)
class DailyBar:
    """One session's OHLC and volume of an instrument."""

    day: date
    open: float
    high: float
    low: float
    close: float
    volume: int


def intent_id(day: date, asset: Asset, strategy: str, symbol: str, purpose: Purpose, at: datetime) -> str:
    """Deterministic and human-readable: the same decision always gets the same id."""
    return f"{day:%Y%m%d}-{asset}-{strategy}-{id_part(symbol)}-{purpose}-{at:%H%M}"


def id_part(text: str) -> str:
    """Text (a symbol, a broker's order id) as a part of an intent id and its document path."""
    return "".join(c if c.isalnum() or c in "-_&" else "_" for c in text)


def order_tag(intent: str) -> str:
    """Kite tags are alphanumeric and at most 20 characters: a hash of the intent id."""
    return "T" + hashlib.sha256(intent.encode()).hexdigest()[:19]


def slice_tag(tag: str, k: int) -> str:
    """The tag of slice ``k`` (from 0) of an order sent in slices under the exchange's freeze quantity: the
    order's own tag for the first, a hash of the tag and ``k`` for the others. Each slice carries its own
    tag, so each is found again after a crash, and told from a duplicate, as any single order is."""
    return tag if k == 0 else order_tag(f"{tag}/{k}")


def is_tron_tag(tag: str) -> bool:
    """Whether a broker tag is one :func:`order_tag` makes (TRON placed the order)."""
    return len(tag) == 20 and tag[0] == "T" and all(c in "0123456789abcdef" for c in tag[1:])


@dataclass(frozen=True)
class OrderIntent:
    """A decided order, before it reaches the broker: what to trade, why, and (for an entry) its stop,
    target and ATR. Its ``intent_id`` is deterministic (:func:`intent_id`), so a decision repeated after a
    crash claims the same intent; its broker ``tag`` derives from it. The message on the bus carries it as
    :meth:`to_dict`."""

    intent_id: str
    day: date
    asset: Asset
    symbol: str
    exchange: str
    side: Side
    qty: int
    purpose: Purpose
    strategy: str
    reason: str
    decided_at: datetime
    stop: float | None = None
    target: float | None = None
    atr: float | None = None
    segment: str = "equity_intraday"
    tick_size: Decimal = Decimal("0.05")
    product: str = "MIS"
    order_type: str = "MARKET"
    price: float | None = None  # an entry: the price its stop and target were set from (see Book.apply_fill)
    trigger: float | None = None  # a protect or trail intent: the stop's trigger price
    limit: float | None = None  # a protect or trail intent of an SL order: its limit price
    lot: int = 1  # the contract's lot size (F&O): slices under the freeze quantity are whole lots

    @property
    def tag(self) -> str:
        """The Kite order tag that identifies this intent's order (:func:`order_tag`)."""
        return order_tag(self.intent_id)

    @property
    def digest(self) -> str:
        """A short hash of every field: a message naming the intent carries it, so the executor can tell
        that the message and the claim agree."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-ready value (dates ISO, the tick size a string), as :meth:`from_dict`
        reads it."""
        d = asdict(self)
        d["day"] = self.day.isoformat()
        d["decided_at"] = self.decided_at.isoformat()
        d["tick_size"] = str(self.tick_size)
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> OrderIntent:
        """Parse and validate a message; raises ValueError naming the bad field."""
        try:
            decided = datetime.fromisoformat(d["decided_at"])
            if decided.tzinfo is None:
                raise ValueError("decided_at has no timezone")
            qty, lot = int(d["qty"]), int(d.get("lot", 1))
            if qty <= 0:
                raise ValueError(f"qty must be positive, got {qty}")
            if lot <= 0:
                raise ValueError(f"lot must be positive, got {lot}")
            return OrderIntent(
                intent_id=str(d["intent_id"]),
                day=date.fromisoformat(d["day"]),
                asset=Asset(d["asset"]),
                symbol=str(d["symbol"]),
                exchange=str(d["exchange"]),
                side=Side(d["side"]),
                qty=qty,
                purpose=Purpose(d["purpose"]),
                strategy=str(d["strategy"]),
                reason=str(d.get("reason", "")),
                decided_at=decided,
                stop=_opt_float(d.get("stop")),
                target=_opt_float(d.get("target")),
                atr=_opt_float(d.get("atr")),
                segment=str(d.get("segment", "equity_intraday")),
                tick_size=Decimal(str(d.get("tick_size", "0.05"))),
                product=str(d.get("product", "MIS")),
                order_type=str(d.get("order_type", "MARKET")),
                price=_opt_float(d.get("price")),
                trigger=_opt_float(d.get("trigger")),
                limit=_opt_float(d.get("limit")),
                lot=lot,
            )
        except KeyError as e:
            raise ValueError(f"order intent is missing field {e.args[0]!r}") from None
        except (TypeError, ArithmeticError) as e:
            raise ValueError(f"order intent is malformed: {e}") from None


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


@dataclass
class RestingStop:
    """A position's stop resting at the broker: the protect intent that placed it, the broker's order id,
    its type (SL-M or SL), trigger, limit (SL) and quantity, the modifications spent on it, when it reached
    the broker, and whether it triggered without filling (an SL whose limit the market went through)."""

    intent_id: str
    order_id: str
    order_type: str
    trigger: float
    qty: int
    since: str  # ISO time it reached the broker: it is active from that minute's bar
    limit: float | None = None
    modifications: int = 0
    triggered: bool = False

    def to_doc(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return asdict(self)

    @staticmethod
    def from_doc(d: dict[str, Any] | None) -> RestingStop | None:
        """The stop a :meth:`to_doc` stored, or None."""
        return None if not d else RestingStop(**d)


@dataclass
class Position:
    """An open position in a Book: signed quantity, average price, the strategy of its latest entry, its
    stop and target, and the gross P&L and charges realised on it so far."""

    symbol: str
    qty: int  # signed: long > 0, short < 0
    avg_price: Decimal
    strategy: str
    opened_at: str
    stop: float | None = None
    target: float | None = None
    atr: float | None = None
    exchange: str = "NSE"
    segment: str = "equity_intraday"
    tick_size: str = "0.05"
    gross: Decimal = Decimal("0")  # realised so far on this position
    charges: Decimal = Decimal("0")
    protect: RestingStop | None = None  # its stop, once resting at the broker
    protecting: str | None = None  # the protect intent in flight (the stop not yet resting)
