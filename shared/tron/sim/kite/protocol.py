"""What every part of the simulator shares: Kite's envelopes and error types, the parsed request, limits
and messages, and small parsing helpers (bad input becomes a 400 InputException naming the field)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tron.domain.order_rules import sl_gap_limit
from tron.domain.timeutil import IST
from tron.sim.kite.catalog import Listed

JSON = "application/json"
CSV = "text/csv"
TS = "%Y-%m-%d %H:%M:%S"

QUOTE_LIMIT = 500
OHLC_LTP_LIMIT = 1000
INTERVAL_MINUTES = {
    "minute": 1,
    "3minute": 3,
    "5minute": 5,
    "10minute": 10,
    "15minute": 15,
    "30minute": 30,
    "60minute": 60,
}
VARIETIES = ("regular", "amo", "co", "iceberg", "auction")
SUPPORTED_VARIETIES = ("regular", "amo")
PRODUCTS = ("MIS", "CNC", "NRML", "MTF")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
VALIDITIES = ("DAY", "IOC", "TTL")
TAG_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")
MAX_EQUITY_QUANTITY = 100_000  # Zerodha blocks bigger equity orders before the exchange
MAX_MODIFICATIONS = 25  # per order, as Kite allows
MAX_AUTOSLICES = 10  # an autoslice order is cut into at most this many slices
# Zerodha's own MIS square-off, as session minutes after 09:15 (TRON's square-off runs before these).
BROKER_EQUITY_SQUARE_OFF_MINUTE = 365  # 15:20
BROKER_FNO_SQUARE_OFF_MINUTE = 370  # 15:25

TOKEN_MESSAGE = "Incorrect `api_key` or `access_token`."
CLOSED_MESSAGE = "Markets are closed right now. Use GTT for placing long standing orders instead."
MARKET_PROTECTION_MESSAGE = (
    "Market orders without market protection are not allowed via API. "
    "Please set market protection or use a Limit order."
)
SLM_OPTIONS_MESSAGE = "SL-M orders are not allowed for option contracts. Use an SL (stop-limit) order."
LIMIT_TO_STOP_MESSAGE = "A LIMIT order cannot be modified into a stop-loss order (SL or SL-M)."
CIRCUIT_MESSAGE = "Price exceeds circuit limits for the instrument. Place an order within the daily range."


class KiteError(Exception):
    """An error response: HTTP status, Kite error_type and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def input_error(message: str) -> KiteError:
    return KiteError(400, "InputException", message)


@dataclass
class Response:
    """What the HTTP layer writes back (or, with drop, the connection it closes)."""

    status: int
    content_type: str
    body: bytes
    drop: bool = False  # the server closes the connection without answering


@dataclass
class Request:
    """A parsed HTTP request: query and form values as lists (as parse_qs gives them), lower-case headers."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    form: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None

    def param(self, name: str) -> str | None:
        for src in (self.form, self.query):
            if src.get(name):
                return src[name][0]
        return None

    def params(self, name: str) -> list[str]:
        return self.query.get(name, []) + self.form.get(name, [])


def envelope(data: Any) -> Response:
    return Response(200, JSON, json.dumps({"status": "success", "data": data}).encode())


def error_response(e: KiteError) -> Response:
    body = {"status": "error", "message": e.message, "data": None, "error_type": e.error_type}
    return Response(e.status, JSON, json.dumps(body).encode())


def fmt(ts: datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(IST).strftime(TS)


def trigger_crossed(side: str, trigger: Decimal, ltp: Decimal) -> str | None:
    """Zerodha's pre-OMS check of a stop's trigger against the last price: the message, or None."""
    if side == "BUY" and trigger < ltp:
        return "Trigger price for stoploss buy orders should be higher than the last traded price."
    if side == "SELL" and trigger > ltp:
        return "Trigger price for stoploss sell orders should be lower than the last traded price."
    return None


def sl_gap_problem(side: str, price: Decimal, trigger: Decimal, is_option: bool) -> str | None:
    """An SL order's limit must sit at or beyond its trigger, and within the exchange's permissible gap."""
    if price < trigger if side == "BUY" else price > trigger:
        return (
            "Trigger price for stoploss buy orders should be lower than or equal to the limit price."
            if side == "BUY"
            else "Trigger price for stoploss sell orders should be higher than or equal to the limit price."
        )
    gap = sl_gap_limit(trigger, is_option)
    if abs(price - trigger) > gap:
        return (
            f"The limit price {price} is too far from the trigger price {trigger}: the exchange allows at most "
            f"{gap.quantize(Decimal('0.01'))} between them."
        )
    return None


def check_tick(px: Decimal, inst: Listed) -> None:
    tick = inst.tick_size
    if tick > 0 and (px / tick) != (px / tick).to_integral_value():
        raise input_error(
            f"Tick size for this script is {tick}. Kindly enter the price in multiples of the tick size."
        )


def opt_int(v: str | None, name: str) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise input_error(f"Invalid `{name}`: {v!r} is not a whole number.") from None


def opt_dec(v: str | None, name: str) -> Decimal | None:
    if v is None or v == "":
        return None
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise input_error(f"Invalid `{name}`: {v!r} is not a number.") from None
    if not d.is_finite() or d < 0:
        raise input_error(f"Invalid `{name}`: {v!r} is not a valid price.")
    return d


def parse_when(v: str | None, name: str) -> datetime:
    """A `from`/`to` parameter as IST; a bare date `to` means the end of that day."""
    if not v:
        raise input_error(f"Missing `{name}` date.")
    try:
        return datetime.strptime(v, TS).replace(tzinfo=IST)
    except ValueError:
        pass
    try:
        day = datetime.strptime(v, "%Y-%m-%d").replace(tzinfo=IST)
        return day + timedelta(hours=23, minutes=59, seconds=59) if name == "to" else day
    except ValueError:
        pass
    raise input_error(f"invalid {name} date: {v!r} (expected yyyy-mm-dd or yyyy-mm-dd hh:mm:ss)")


def as_float(d: Decimal) -> float:
    return float(d.quantize(Decimal("0.01")))
