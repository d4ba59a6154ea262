"""KiteSim: a Kite Connect v3 compatible exchange and broker, in memory, behind one lock.

`handle()` takes a parsed HTTP request and returns Kite's envelope; `server.serve()` puts it on a socket.
Time comes from the injected Clock (the runner's VirtualClock in-process, a ScaledClock for `tron kite-sim`).
Working orders advance lazily: every request first walks each open order through the books of the minutes
the clock has passed since it last looked, so no background thread is needed and a virtual clock is obeyed
exactly."""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tron.domain.timeutil import IST, ist
from tron.sim.kite import engine as E
from tron.sim.kite.auth import Sessions, checksum
from tron.sim.kite.catalog import INDEX_SYMBOL, Catalog, Listed
from tron.sim.kite.gtt import Gtt, GttInputError
from tron.sim.kite.gtt import parse as parse_gtt
from tron.sim.kite.limits import RateLimiter
from tron.sim.kite.market_view import MarketView, circuit_limits, dec, lpp_range
from tron.sim.kite.portfolio import MarginRules, Position
from tron.sim.kite.postbacks import Postbacks
from tron.sim.market import EPOCH, MINUTES

log = logging.getLogger(__name__)

JSON = "application/json"
CSV = "text/csv"
TS = "%Y-%m-%d %H:%M:%S"

QUOTE_LIMIT = 500
OHLC_LTP_LIMIT = 1000
# Kite's maximum days per historical request, by interval.
HISTORICAL_MAX_DAYS = {
    "minute": 60,
    "3minute": 100,
    "5minute": 100,
    "10minute": 100,
    "15minute": 200,
    "30minute": 200,
    "60minute": 400,
    "day": 2000,
}
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
EQUITY_SQUARE_OFF = 365  # 15:20, minutes after 09:15
FNO_SQUARE_OFF = 370  # 15:25

TOKEN_MESSAGE = "Incorrect `api_key` or `access_token`."
CLOSED_MESSAGE = "Markets are closed right now. Use GTT for placing long standing orders instead."
CIRCUIT_MESSAGE = "Price exceeds circuit limits for the instrument. Place an order within the daily range."


class KiteError(Exception):
    """An error response: HTTP status, Kite error_type and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def _input(message: str) -> KiteError:
    return KiteError(400, "InputException", message)


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    drop: bool = False  # the server closes the connection without answering


@dataclass
class Fault:
    """A scripted failure: the next matching request gets this instead of its answer."""

    method: str | None
    prefix: str
    status: int
    error_type: str | None
    message: str
    times: int
    drop: bool = False
    after: bool = False  # process the request first (e.g. the order is placed), then fail the response


@dataclass
class Request:
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


class KiteSim:
    """The simulated Kite account and exchange. Thread-safe: every request runs under one lock."""

    def __init__(
        self,
        market: Any,
        clock: Any = None,
        api_key: str = "sim",
        api_secret: str = "sim-secret",
        rate_limits: bool = True,
        capital: Decimal = Decimal("1000000"),
        timer: Callable[[], float] | None = None,
        liquidity: E.Liquidity | None = None,
        margins: MarginRules | None = None,
        user_id: str = "SIM001",
        postback_url: str | None = None,
        ticker_interval: float = 1.0,
    ) -> None:
        self.market = market
        self.clock = clock or market.clock
        self.api_key = api_key
        self.api_secret = api_secret
        self.capital = Decimal(capital)
        self.user_id = user_id
        self.view = MarketView(market, liquidity or E.Liquidity())
        self.calendar = self.view.calendar
        self.rules = margins or MarginRules()
        self.sessions = Sessions(api_key, api_secret)
        self.limiter = RateLimiter(timer, enabled=rate_limits)
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.requests = 0
        self.postbacks = Postbacks(postback_url, api_key, api_secret) if postback_url else None
        self.ticker_interval = ticker_interval
        self.ticker_queues: list[queue.Queue[dict[str, Any]]] = []
        self.closing = False  # set by RunningSim.stop(): ticker connections end
        self._catalogs: dict[date, Catalog] = {}
        self._order_seq = 0
        self._trade_seq = 0
        self.gtts: dict[int, Gtt] = {}  # good till triggered: they outlive the day
        self._gtt_seq = 100000
        self._reset_day(None)
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any], str, bool]] = []
        for method, pattern, fn, kind, auth in (
            ("POST", r"/session/token", self._session_token, "other", False),
            ("DELETE", r"/session/token", self._session_delete, "other", False),
            ("GET", r"/user/profile", self._profile, "other", True),
            ("GET", r"/user/margins", self._margins, "other", True),
            ("GET", r"/user/margins/(?P<segment>[^/]+)", self._margins, "other", True),
            ("GET", r"/instruments", self._instruments, "other", True),
            ("GET", r"/instruments/(?P<exchange>[A-Za-z]+)", self._instruments, "other", True),
            ("GET", r"/quote", self._quote, "quote", True),
            ("GET", r"/quote/ohlc", self._ohlc, "quote", True),
            ("GET", r"/quote/ltp", self._ltp_route, "quote", True),
            (
                "GET",
                r"/instruments/historical/(?P<token>[^/]+)/(?P<interval>[^/]+)",
                self._historical,
                "historical",
                True,
            ),
            ("GET", r"/orders", self._orders, "other", True),
            ("GET", r"/orders/(?P<order_id>\d+)", self._order_history, "other", True),
            ("GET", r"/orders/(?P<order_id>\d+)/trades", self._order_trades, "other", True),
            ("GET", r"/trades", self._trades, "other", True),
            ("POST", r"/orders/(?P<variety>[a-z]+)", self._place, "orders", True),
            ("PUT", r"/orders/(?P<variety>[a-z]+)/(?P<order_id>\d+)", self._modify, "orders", True),
            ("DELETE", r"/orders/(?P<variety>[a-z]+)/(?P<order_id>\d+)", self._cancel, "orders", True),
            ("GET", r"/portfolio/positions", self._positions, "other", True),
            ("GET", r"/portfolio/holdings", self._holdings, "other", True),
            ("PUT", r"/portfolio/positions", self._convert, "other", True),
            ("POST", r"/margins/orders", self._order_margins, "other", True),
            ("POST", r"/margins/basket", self._basket_margins, "other", True),
            ("POST", r"/charges/orders", self._contract_note, "other", True),
            ("GET", r"/gtt/triggers", self._gtt_list, "other", True),
            ("POST", r"/gtt/triggers", self._gtt_place, "other", True),
            ("GET", r"/gtt/triggers/(?P<trigger_id>\d+)", self._gtt_get, "other", True),
            ("PUT", r"/gtt/triggers/(?P<trigger_id>\d+)", self._gtt_modify, "other", True),
            ("DELETE", r"/gtt/triggers/(?P<trigger_id>\d+)", self._gtt_delete, "other", True),
        ):
            self.routes.append((method, re.compile(pattern + "$"), fn, kind, auth))

    # ================================================================== test hooks (Python API)
    def fail_next(
        self,
        path_prefix: str,
        error_type: str | None = "NetworkException",
        status: int = 503,
        message: str = "Simulated failure",
        times: int = 1,
        method: str | None = None,
        after: bool = False,
    ) -> None:
        """The next `times` requests whose path starts with the prefix get this error envelope. With
        after=True the request is processed first (an order really is placed) and only the answer fails.
        error_type=None sends an error body without error_type (what crashes the client)."""
        with self.lock:
            self.faults.append(Fault(method, path_prefix, status, error_type, message, times, after=after))

    def drop_connection_next(
        self, path_prefix: str, times: int = 1, method: str | None = None, after: bool = False
    ) -> None:
        """Close the connection without a response (the client sees a connection error); after=True
        processes the request first."""
        with self.lock:
            self.faults.append(Fault(method, path_prefix, 0, None, "", times, drop=True, after=after))

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (as at 06:00)."""
        with self.lock:
            self.sessions.expire_all()

    def login(self) -> str:
        """Issue an access token directly (for tests and in-process wiring that skip the HTTP login)."""
        with self.lock:
            return self.sessions.create(self.clock.now()).access_token

    # ================================================================== dispatch
    def handle(self, req: Request) -> Response:
        with self.lock:
            self.requests += 1
            path = req.path.rstrip("/") or "/"
            fault = self._take_fault(req.method, path)
            if fault is not None and not fault.after:
                return self._fault_response(fault)
            try:
                resp = self._dispatch(req, path)
            except KiteError as e:
                resp = error_response(e)
            except Exception as e:  # a simulator bug must still answer in Kite's envelope, and say what broke
                log.exception("kite-sim: %s %s failed", req.method, path)
                resp = error_response(
                    KiteError(500, "GeneralException", f"Simulator error: {type(e).__name__}: {e}")
                )
            if fault is not None:
                return self._fault_response(fault)
            return resp

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for f in self.faults:
            if path.startswith(f.prefix) and (f.method is None or f.method == method):
                f.times -= 1
                if f.times <= 0:
                    self.faults.remove(f)
                return f
        return None

    @staticmethod
    def _fault_response(f: Fault) -> Response:
        if f.drop:
            return Response(0, JSON, b"", drop=True)
        body: dict[str, Any] = {"status": "error", "message": f.message, "data": None}
        if f.error_type is not None:
            body["error_type"] = f.error_type
        return Response(f.status, JSON, json.dumps(body).encode())

    def _dispatch(self, req: Request, path: str) -> Response:
        allowed_methods = []
        for method, pattern, fn, kind, auth in self.routes:
            m = pattern.match(path)
            if not m:
                continue
            allowed_methods.append(method)
            if method != req.method:
                continue
            who = self._auth(req) if auth else self.api_key
            if not self.limiter.allow(who, kind):
                raise KiteError(429, "NetworkException", "Too many requests")
            self._advance()
            result = fn(req, **m.groupdict())
            return result if isinstance(result, Response) else envelope(result)
        if allowed_methods:
            raise KiteError(405, "GeneralException", f"Method {req.method} is not allowed on {path}.")
        raise KiteError(404, "GeneralException", "Route not found")

    def _auth(self, req: Request) -> str:
        header = req.headers.get("authorization", "")
        if not header.startswith("token ") or ":" not in header:
            raise KiteError(403, "TokenException", TOKEN_MESSAGE)
        key, token = header[len("token ") :].split(":", 1)
        if key != self.api_key or not self.sessions.valid(token, self.clock.now()):
            raise KiteError(403, "TokenException", TOKEN_MESSAGE)
        return token

    # ================================================================== the day and lazy matching
    def _reset_day(self, d: date | None) -> None:
        """Start a new trading day: an empty order and trade book; yesterday's realised P&L (MIS closed out,
        CNC sales against holdings, expired F&O settled at their last price) moves into the opening balance;
        CNC buys become holdings; NRML positions carry as overnight quantity at their average price."""
        previous_day = getattr(self, "day", None)
        self.day = d
        self.orders: dict[str, E.Order] = {}
        self.trades: list[dict[str, Any]] = []
        self.consumed: dict[int, dict[tuple[int, str, int], int]] = {}
        carried = getattr(self, "positions", {})
        self.positions: dict[tuple[str, str, str], Position] = {}
        self.holdings: dict[str, dict[str, Any]] = getattr(self, "holdings", {})
        booked = Decimal(0)
        for key, p in carried.items():
            q = p.quantity
            booked += p.realised
            if q == 0:
                continue
            expired = p.inst.expiry is not None and previous_day is not None and p.inst.expiry <= previous_day
            if (
                expired or p.product == "MIS"
            ):  # settled at the last price (MIS only if the square-off could not fill)
                booked += (p.last_price - p.average_price) * q
                continue
            if p.product == "CNC":
                h = self.holdings.setdefault(
                    p.inst.tradingsymbol, {"inst": p.inst, "quantity": 0, "cost": Decimal(0)}
                )
                if q > 0:
                    h["cost"] += p.average_price * q
                elif h["quantity"]:
                    held_avg = h["cost"] / h["quantity"]
                    booked += (p.average_price - held_avg) * -q  # sold from holdings at p.average_price
                    h["cost"] -= held_avg * -q
                h["quantity"] += q
                if h["quantity"] <= 0:
                    del self.holdings[p.inst.tradingsymbol]
                continue
            n = Position(p.inst, p.product, overnight_quantity=q, close_price=p.last_price)
            n.apply("BUY" if q > 0 else "SELL", abs(q), p.average_price)
            n.last_price = p.last_price
            self.positions[key] = n
        self.capital += booked.quantize(Decimal("0.01"))
        self._minute_seen = -1
        for o in getattr(self, "_amo_carry", []):
            self.orders[o.order_id] = o
        self._amo_carry: list[E.Order] = []

    def catalog(self) -> Catalog:
        d = self.clock.now().astimezone(IST).date()
        cat = self._catalogs.get(d)
        if cat is None:
            cat = Catalog.from_market(self.market, self.calendar)
            self._catalogs = {d: cat}
        return cat

    def now_minute(self) -> tuple[date, int]:
        return self.view.session(self.clock.now())

    def _advance(self) -> None:
        """Bring every working order up to the clock's minute; roll the day when the date changed."""
        d, j = self.now_minute()
        if self.day is None:
            self.day = d
        if d != self.day:
            self._finish_day(self.day)
            self._reset_day(d)
        self._run_until(d, j)

    def _run_until(self, d: date, j: int) -> None:
        if j == self._minute_seen and not self._amo_waiting() and not self._gtt_waiting():
            return
        open_now = self.view.is_open(self.clock.now()) and self.view.session(self.clock.now())[0] == d
        for minute in range(max(self._minute_seen, 0), j + 1):
            if self._amo_waiting() and (minute < j or open_now):
                for o in list(self.orders.values()):
                    if o.status == E.AMO_REQ_RECEIVED:
                        self._open(o, d, minute, self._minute_ts(d, minute))
            if minute > self._minute_seen:
                self._auto_square_off(d, minute)
            if minute >= MINUTES:
                continue  # 15:30: the session is over, nothing more trades
            for o in list(self.orders.values()):
                if o.working and o.validity == "TTL" and minute >= o.placed_minute + o.validity_ttl:
                    o.cancelled_quantity = o.pending_quantity
                    o.status = E.CANCELLED
                    o.status_message = "Order cancelled: its TTL validity ran out"
                    self._record(o, self._minute_ts(d, minute))
                elif o.working and o.last_minute < minute:
                    self._match(o, d, minute, resting=True)
            if self.gtts and minute > self._minute_seen and (minute < j or open_now):
                self._check_gtts(d, minute)
        if j != self._minute_seen:
            self.consumed = {t: {k: v for k, v in c.items() if k[0] >= j} for t, c in self.consumed.items()}
        self._minute_seen = j

    def _amo_waiting(self) -> bool:
        return any(o.status == E.AMO_REQ_RECEIVED for o in self.orders.values())

    def _finish_day(self, d: date) -> None:
        self._run_until(d, MINUTES)
        for p in self.positions.values():
            q = self.view.quote(d, MINUTES, p.inst.tradingsymbol)
            if q is not None:
                p.last_price = dec(q.last)
        self._amo_carry = [o for o in self.orders.values() if o.status == E.AMO_REQ_RECEIVED]
        for o in self.orders.values():
            if o.working:
                o.cancelled_quantity = o.pending_quantity
                o.status = E.CANCELLED
                o.status_message = "Order cancelled at the end of the trading day"
                self._record(o, ist(d, time(15, 30)))

    def _minute_ts(self, d: date, minute: int) -> datetime:
        """The exchange time of a minute's events: the wall clock when it is now, else the minute mark."""
        now = self.clock.now().astimezone(IST)
        mark = ist(d, time(9, 15)) + timedelta(minutes=minute)
        return now if now.date() == d and now >= mark and now - mark < timedelta(minutes=1) else mark

    def _match(self, o: E.Order, d: date, minute: int, resting: bool) -> None:
        inst = self.catalog().by_key.get(f"{o.exchange}:{o.tradingsymbol}")
        book = self.view.book(inst, d, minute) if inst is not None else None
        if book is None:
            return
        consumed = self.consumed.setdefault(o.instrument_token, {})
        was = o.status
        fills = E.match_minute(o, book, consumed, resting)
        ts = self._minute_ts(d, minute)
        for f in fills:
            self._book_fill(o, f, ts)
        if o.validity == "IOC" and o.status == E.OPEN:
            o.cancelled_quantity = o.pending_quantity
            o.status = E.CANCELLED
            o.status_message = None
        if fills or o.status != was:
            o.exchange_update_timestamp = ts
            self._record(o, ts)

    def _auto_square_off(self, d: date, minute: int) -> None:
        """Zerodha squares off MIS positions at 15:20 (equity) and 15:25 (F&O), cancelling open MIS orders."""
        if minute not in (EQUITY_SQUARE_OFF, FNO_SQUARE_OFF):
            return
        fno = minute == FNO_SQUARE_OFF
        ts = self._minute_ts(d, minute)
        for o in list(self.orders.values()):
            if o.working and o.product == "MIS" and (o.exchange == "NFO") == fno:
                o.cancelled_quantity = o.pending_quantity
                o.status = E.CANCELLED
                o.status_message = "Cancelled by the auto square-off"
                self._record(o, ts)
        for p in list(self.positions.values()):
            if p.product != "MIS" or p.quantity == 0 or p.inst.is_derivative != fno:
                continue
            side = "SELL" if p.quantity > 0 else "BUY"
            o = self._new_order(
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
            )
            self._open(o, d, minute, ts)

    # ================================================================== orders: bookkeeping
    def _next_order_id(self, d: date) -> str:
        self._order_seq += 1
        return f"{d:%y%m%d}{self._order_seq:09d}"

    def _new_order(
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
    ) -> E.Order:
        d = ts.astimezone(IST).date()
        oid = self._next_order_id(d)
        o = E.Order(
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
            order_timestamp=ts,
            day=d,
            tick=inst.tick_size,
            is_option=inst.is_option,
            disclosed_quantity=disclosed,
            guid=f"sim{oid}",
        )
        self.orders[oid] = o
        self._record(o, ts)
        return o

    def _record(self, o: E.Order, ts: datetime) -> None:
        entry = self._order_dict(o)
        entry["order_timestamp"] = fmt(ts)
        previous = o.history[-1] if o.history else None
        o.history.append(entry)
        if self.postbacks is None and not self.ticker_queues:
            return
        event = None
        if o.status in E.TERMINAL:
            event = o.status
        elif previous is not None and (
            entry["filled_quantity"] != previous["filled_quantity"] or previous["status"] == E.MODIFY_PENDING
        ):
            event = "UPDATE"
        if event is None:
            return
        if self.postbacks is not None:
            self.postbacks.send(self._order_dict(o), self.user_id, event)
        for q in self.ticker_queues:  # the ticker's order updates carry the same events
            q.put({**self._order_dict(o), "status": event, "user_id": self.user_id})

    def _order_dict(self, o: E.Order) -> dict[str, Any]:
        return {
            "placed_by": o.placed_by,
            "order_id": o.order_id,
            "exchange_order_id": o.exchange_order_id or None,
            "parent_order_id": None,
            "status": o.status,
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
            "order_type": o.order_type,
            "transaction_type": o.transaction_type,
            "validity": o.validity,
            "validity_ttl": o.validity_ttl,
            "product": o.product,
            "quantity": o.quantity,
            "disclosed_quantity": o.disclosed_quantity,
            # a protected MARKET order resting after a partial fill shows its protection price, as on Kite
            "price": float(
                o.working_limit
                if o.order_type in ("MARKET", "SL-M") and o.status == E.OPEN and o.working_limit is not None
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

    def _book_fill(self, o: E.Order, f: E.Fill, ts: datetime) -> None:
        self._trade_seq += 1
        inst = self.catalog().by_key[f"{o.exchange}:{o.tradingsymbol}"]
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
        pos = self._position(inst, o.product)
        pos.apply(o.transaction_type, f.quantity, f.price)

    def _position(self, inst: Listed, product: str) -> Position:
        key = (inst.exchange, inst.tradingsymbol, product)
        p = self.positions.get(key)
        if p is None:
            p = self.positions[key] = Position(inst, product)
        return p

    # ================================================================== margins
    def _ltp(self, inst: Listed) -> Decimal:
        d, j = self.now_minute()
        q = self.view.quote(d, j, inst.tradingsymbol)
        return dec(q.last) if q is not None else Decimal(0)

    def _underlying_ltp(self, inst: Listed) -> Decimal:
        if not inst.is_derivative:
            return Decimal(0)
        d, j = self.now_minute()
        q = self.view.quote(d, j, inst.underlying or INDEX_SYMBOL)
        return dec(q.last) if q is not None else Decimal(0)

    def _exposure_margin(self, inst: Listed, product: str, signed_qty: int, price: Decimal) -> Decimal:
        if signed_qty == 0:
            return Decimal(0)
        unit = self.rules.per_unit(inst, product, price, self._underlying_ltp(inst), signed_qty < 0)
        return unit * abs(signed_qty)

    def _utilised(self) -> Decimal:
        """Margin blocked by positions and by the position-increasing part of working orders."""
        total = Decimal(0)
        keys = set(self.positions) | {
            (o.exchange, o.tradingsymbol, o.product) for o in self.orders.values() if o.working
        }
        cat = self.catalog()
        for key in keys:
            inst = cat.by_key.get(f"{key[0]}:{key[1]}")
            if inst is None:
                continue
            total += self._instrument_margin(inst, key[2])
        return total

    def _instrument_margin(
        self, inst: Listed, product: str, extra: tuple[str, int, Decimal] | None = None
    ) -> Decimal:
        pos = self.positions.get((inst.exchange, inst.tradingsymbol, product))
        q = pos.quantity if pos else 0
        ltp = self._ltp(inst)
        longs, shorts = q, q  # the position if every working buy / every working sell filled
        for o in self.orders.values():
            if (
                o.working
                and o.tradingsymbol == inst.tradingsymbol
                and o.exchange == inst.exchange
                and o.product == product
            ):
                if o.transaction_type == "BUY":
                    longs += o.pending_quantity
                else:
                    shorts -= o.pending_quantity
        if extra is not None:
            side, qty, _ = extra
            if side == "BUY":
                longs += qty
            else:
                shorts -= qty
        price = extra[2] if extra is not None and extra[2] > 0 else ltp
        return max(
            self._exposure_margin(inst, product, longs, price if longs > 0 else ltp),
            self._exposure_margin(inst, product, shorts, price if shorts < 0 else ltp),
        )

    def _pnl(self) -> tuple[Decimal, Decimal]:
        """(realised, unrealised) across positions at current prices."""
        realised = unrealised = Decimal(0)
        for p in self.positions.values():
            p.last_price = self._ltp(p.inst)
            realised += p.realised
            unrealised += p.unrealised
        return realised, unrealised

    def _available(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(net available, utilised, realised, unrealised)."""
        utilised = self._utilised()
        realised, unrealised = self._pnl()
        net = self.capital + realised + min(unrealised, Decimal(0)) - utilised
        return net, utilised, realised, unrealised

    # ================================================================== routes: session and user
    def _session_token(self, req: Request) -> dict[str, Any]:
        api_key = req.param("api_key") or ""
        request_token = req.param("request_token") or ""
        check = req.param("checksum") or ""
        if not api_key or not request_token or not check:
            raise _input("Missing `api_key`, `request_token` or `checksum`.")
        if api_key != self.api_key:
            raise KiteError(403, "TokenException", "Invalid `api_key`.")
        if check != checksum(api_key, request_token, self.api_secret):
            raise KiteError(403, "TokenException", "Invalid `checksum`.")
        if request_token in self.sessions.used_request_tokens:
            raise KiteError(403, "TokenException", "Token is invalid or has expired.")
        self.sessions.used_request_tokens.add(request_token)
        s = self.sessions.create(self.clock.now())
        return {
            **self._user(),
            "api_key": self.api_key,
            "access_token": s.access_token,
            "public_token": s.public_token,
            "refresh_token": "",
            "enctoken": "",
            "login_time": fmt(s.login_time),
        }

    def _session_delete(self, req: Request) -> bool:
        token = req.param("access_token") or ""
        if req.param("api_key") != self.api_key or not token:
            raise _input("Missing `api_key` or `access_token`.")
        self.sessions.invalidate(token)
        return True

    def _user(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "user_type": "individual",
            "email": "sim@example.invalid",
            "user_name": "TRON Simulator",
            "user_shortname": "TRON",
            "broker": "ZERODHA",
            "exchanges": ["NSE", "NFO"],
            "products": list(PRODUCTS),
            "order_types": list(ORDER_TYPES),
            "avatar_url": None,
            "meta": {"demat_consent": "physical"},
        }

    def _profile(self, req: Request) -> dict[str, Any]:
        return self._user()

    def _margins(self, req: Request, segment: str | None = None) -> dict[str, Any]:
        if segment is not None and segment not in ("equity", "commodity"):
            raise _input("Invalid segment. Valid segments are `equity` and `commodity`.")
        net, utilised, realised, unrealised = self._available()
        option_premium = Decimal(0)
        for p in self.positions.values():
            if p.inst.is_option and p.quantity > 0:
                option_premium += p.average_price * p.quantity
        equity = {
            "enabled": True,
            "net": _f(net),
            "available": {
                "adhoc_margin": 0,
                "cash": _f(self.capital + realised),
                "opening_balance": _f(self.capital),
                "live_balance": _f(net),
                "collateral": 0,
                "intraday_payin": 0,
            },
            "utilised": {
                "debits": _f(utilised - min(unrealised, Decimal(0))),
                "exposure": 0,
                "m2m_realised": _f(-realised),
                "m2m_unrealised": _f(-unrealised),
                "option_premium": _f(option_premium),
                "payout": 0,
                "span": _f(utilised),
                "holding_sales": 0,
                "turnover": 0,
                "liquid_collateral": 0,
                "stock_collateral": 0,
                "delivery": 0,
            },
        }
        commodity = {
            "enabled": False,
            "net": 0,
            "available": {k: 0 for k in equity["available"]},
            "utilised": {k: 0 for k in equity["utilised"]},
        }
        if segment == "equity":
            return equity
        if segment == "commodity":
            return commodity
        return {"equity": equity, "commodity": commodity}

    # ================================================================== routes: instruments and quotes
    def _instruments(self, req: Request, exchange: str | None = None) -> Response:
        cat = self.catalog()
        if exchange is not None and exchange not in ("NSE", "NFO", "BSE", "BFO", "CDS", "MCX", "BCD"):
            raise _input(f"Invalid exchange `{exchange}`.")
        return Response(200, CSV, cat.csv(exchange).encode())

    def _resolve(self, req: Request, limit: int) -> list[tuple[str, Listed]]:
        refs = req.params("i")
        if len(refs) > limit:
            raise _input(f"Too many instruments. A maximum of {limit} instruments are allowed per request.")
        cat = self.catalog()
        out = []
        for ref in refs:
            inst = cat.lookup(ref)
            if inst is not None:
                out.append((ref, inst))
        return out

    def _quote_parts(self, inst: Listed) -> dict[str, Any] | None:
        d, j = self.now_minute()
        q = self.view.quote(d, j, inst.tradingsymbol)
        if q is None:
            return None
        return {"q": q, "d": d, "j": j}

    def _quote(self, req: Request) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for ref, inst in self._resolve(req, QUOTE_LIMIT):
            item = self._quote_item(inst)
            if item is not None:
                out[ref] = item
        return out

    def _quote_item(self, inst: Listed) -> dict[str, Any] | None:
        """One instrument's full quote as Kite's /quote shows it (indices: price and OHLC only)."""
        now = self.clock.now()
        parts = self._quote_parts(inst)
        if parts is None:
            return None
        q, d, j = parts["q"], parts["d"], parts["j"]
        last_trade = fmt(ist(d, time(9, 15)) + timedelta(minutes=j))
        item: dict[str, Any] = {
            "instrument_token": inst.instrument_token,
            "timestamp": fmt(now),
            "last_price": q.last,
            "net_change": round(q.last - q.prev_close, 2),
            "ohlc": {"open": q.open, "high": q.high, "low": q.low, "close": q.prev_close},
        }
        if inst.is_index:
            return item
        book = self.view.book(inst, d, j)
        assert book is not None
        taken = self.consumed.get(inst.instrument_token, {}) if d == self.day else {}
        buy, sell = _depth(book.bids, "b", j, taken), _depth(book.asks, "s", j, taken)
        lower, upper = circuit_limits(inst, dec(q.prev_close))
        item.update(
            {
                "last_trade_time": last_trade,
                "last_quantity": inst.lot_size
                if inst.is_derivative
                else 1 + (j * 7 + inst.instrument_token) % 50,
                "buy_quantity": sum(x["quantity"] for x in buy) * 4,
                "sell_quantity": sum(x["quantity"] for x in sell) * 4,
                "volume": q.volume,
                "average_price": float(self.view.vwap(d, j, inst.tradingsymbol)),
                "oi": 0,
                "oi_day_high": 0,
                "oi_day_low": 0,
                "lower_circuit_limit": float(lower),
                "upper_circuit_limit": float(upper),
                "depth": {"buy": buy, "sell": sell},
            }
        )
        return item

    def _ohlc(self, req: Request) -> dict[str, Any]:
        out = {}
        for ref, inst in self._resolve(req, OHLC_LTP_LIMIT):
            parts = self._quote_parts(inst)
            if parts is None:
                continue
            q = parts["q"]
            out[ref] = {
                "instrument_token": inst.instrument_token,
                "last_price": q.last,
                "ohlc": {"open": q.open, "high": q.high, "low": q.low, "close": q.prev_close},
            }
        return out

    def _ltp_route(self, req: Request) -> dict[str, Any]:
        out = {}
        for ref, inst in self._resolve(req, OHLC_LTP_LIMIT):
            parts = self._quote_parts(inst)
            if parts is not None:
                out[ref] = {"instrument_token": inst.instrument_token, "last_price": parts["q"].last}
        return out

    # ================================================================== routes: historical
    def _historical(self, req: Request, token: str, interval: str) -> dict[str, Any]:
        if interval not in HISTORICAL_MAX_DAYS:
            raise _input("invalid interval")
        if not token.isdigit():
            raise _input("invalid token")
        inst = self.catalog().by_token.get(int(token))
        if inst is None:
            raise _input("invalid token")
        start = _parse_when(req.param("from"), "from")
        end = _parse_when(req.param("to"), "to")
        if end < start:
            raise _input("invalid date range: `to` is before `from`")
        if (end.date() - start.date()).days > HISTORICAL_MAX_DAYS[interval]:
            raise _input(f"interval exceeds max limit: {HISTORICAL_MAX_DAYS[interval]} days")
        with_oi = req.param("oi") in ("1", "true")
        now = self.clock.now().astimezone(IST)
        end = min(end, now)
        candles: list[list[Any]] = []
        d = max(start.date(), EPOCH)
        while d <= end.date():
            if self.calendar.is_trading_day(d):
                if interval == "day" and d < now.date():
                    whole = self.view.daily(d, inst.tradingsymbol)
                    if whole is not None:
                        bars = [(0, *whole[:4], whole[4])]
                        candles.extend(_aggregate(d, bars, interval, start, end, with_oi))
                else:
                    j = MINUTES if d < now.date() else self.view.session(now)[1]
                    bars = self.view.bars(d, j, inst.tradingsymbol) if j > 0 else []
                    candles.extend(_aggregate(d, bars, interval, start, end, with_oi))
            d += timedelta(days=1)
        return {"candles": candles}

    # ================================================================== routes: orders
    def _orders(self, req: Request) -> list[dict[str, Any]]:
        return [self._order_dict(o) for o in self.orders.values()]

    def _get_order(self, order_id: str) -> E.Order:
        o = self.orders.get(order_id)
        if o is None:
            raise _input("Couldn't find that `order_id`.")
        return o

    def _order_history(self, req: Request, order_id: str) -> list[dict[str, Any]]:
        return list(self._get_order(order_id).history)

    def _order_trades(self, req: Request, order_id: str) -> list[dict[str, Any]]:
        self._get_order(order_id)
        return [t for t in self.trades if t["order_id"] == order_id]

    def _trades(self, req: Request) -> list[dict[str, Any]]:
        return list(self.trades)

    def _place(self, req: Request, variety: str) -> dict[str, Any]:
        if variety not in VARIETIES:
            raise _input(f"Invalid variety `{variety}`.")
        if variety not in SUPPORTED_VARIETIES:
            raise _input(f"The `{variety}` variety is not supported by the simulator.")
        p = _OrderParams.parse(req, self.catalog())
        inst = p.inst
        now = self.clock.now().astimezone(IST)
        is_open = self.view.is_open(now)
        if variety == "regular" and not is_open:
            raise _input(CLOSED_MESSAGE)
        if variety == "amo" and is_open:
            raise _input("AMO orders cannot be placed during market hours. Place a regular order instead.")
        if inst.is_derivative:
            if p.quantity % inst.lot_size:
                raise _input(f"Quantity should be a multiple of the lot size ({inst.lot_size}).")
            if p.autoslice and inst.freeze_qty and p.quantity > inst.freeze_qty:
                return self._autoslice(req, variety, p, now)
            if inst.freeze_qty and p.quantity > inst.freeze_qty:
                raise _input(
                    f"Quantity exceeds the freeze limit of {inst.freeze_qty} for {inst.tradingsymbol}. "
                    "Reduce the quantity or use autoslice."
                )
        if not inst.is_derivative and p.quantity > MAX_EQUITY_QUANTITY:
            raise _input(
                f"Order quantity above {MAX_EQUITY_QUANTITY:,} shares is blocked. Reduce the quantity."
            )
        if p.product == "CNC" and inst.is_derivative:
            raise _input("CNC is not allowed for F&O instruments; use NRML or MIS.")
        if p.product == "NRML" and not inst.is_derivative:
            raise _input("NRML is allowed only for F&O instruments; use CNC or MIS.")
        if p.product == "MTF":
            raise _input("MTF is not supported by the simulator.")
        if p.order_type in ("SL", "SL-M"):
            self._check_trigger(p)
        o = self._place_checked(variety, p, now)
        return {"order_id": o.order_id}

    def _check_trigger(self, p: _OrderParams) -> None:
        """Zerodha's pre-OMS check: a stop must not be already crossed, and an SL's limit must sit beyond it."""
        ltp = self._ltp(p.inst)
        if p.side == "BUY" and p.trigger < ltp:
            raise _input("Trigger price for stoploss buy orders should be higher than the last traded price.")
        if p.side == "SELL" and p.trigger > ltp:
            raise _input("Trigger price for stoploss sell orders should be lower than the last traded price.")
        if p.order_type == "SL" and (p.price < p.trigger if p.side == "BUY" else p.price > p.trigger):
            raise _input(
                "Trigger price for stoploss buy orders should be lower than or equal to the limit price."
                if p.side == "BUY"
                else "Trigger price for stoploss sell orders should be higher than or equal to the limit price."
            )

    def _autoslice(self, req: Request, variety: str, p: _OrderParams, now: datetime) -> dict[str, Any]:
        lot = max(1, p.inst.lot_size)
        freeze = (p.inst.freeze_qty or p.quantity) // lot * lot  # whole lots under the freeze limit
        left, children = p.quantity, []
        parent = None
        while left > 0:
            part = min(freeze, left)
            left -= part
            sliced = _OrderParams(**{**p.__dict__, "quantity": part, "autoslice": False})
            o = self._place_checked(variety, sliced, now)
            parent = parent or o.order_id
            children.append({"order_id": o.order_id})
        return {"order_id": parent, "children": children}

    def _place_checked(
        self, variety: str, p: _OrderParams, now: datetime, at: tuple[date, int] | None = None
    ) -> E.Order:
        inst = p.inst
        o = self._new_order(
            variety,
            inst,
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
        )
        o.validity_ttl = p.ttl
        o.status = E.VALIDATION_PENDING
        self._record(o, now)
        reason = self._rms(o, inst, now)
        if reason is not None:
            o.status = E.REJECTED
            o.status_message = reason
            self._record(o, now)
            return o
        if variety == "amo":
            o.status = E.AMO_REQ_RECEIVED
            self._record(o, now)
            return o
        d, j = at or self.now_minute()
        self._open(o, d, j, now)
        return o

    def _rms(self, o: E.Order, inst: Listed, now: datetime) -> str | None:
        """The risk checks that leave a REJECTED order in the book (Kite's RMS), in Kite's order."""
        if o.order_type in ("MARKET", "SL-M") and o.market_protection == 0:
            return E.MARKET_PROTECTION_MESSAGE
        d, j = self.now_minute()
        q = self.view.quote(d, j, inst.tradingsymbol)
        if q is None:
            return "Instrument is not tradable today."
        lower, upper = circuit_limits(inst, dec(q.prev_close))
        for px in (
            o.price if o.order_type in ("LIMIT", "SL") else None,
            o.trigger_price if o.order_type in ("SL", "SL-M") else None,
        ):
            if px is not None and (px < lower or px > upper):
                return CIRCUIT_MESSAGE
        band = lpp_range(inst, dec(q.last)) if o.order_type == "LIMIT" else None
        if band is not None and (o.price > band[1] if o.transaction_type == "BUY" else o.price < band[0]):
            return CIRCUIT_MESSAGE
        if o.product == "MIS" and o.variety == "regular":
            cutoff = FNO_SQUARE_OFF if inst.is_derivative else EQUITY_SQUARE_OFF
            if j >= cutoff:
                return "MIS orders are blocked after the auto square-off time. Use NRML/CNC or square off."
        if o.product == "CNC" and o.transaction_type == "SELL":
            held = int(self.holdings.get(inst.tradingsymbol, {}).get("quantity", 0))
            pos = self.positions.get((inst.exchange, inst.tradingsymbol, "CNC"))
            selling = sum(
                x.pending_quantity
                for x in self.orders.values()
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
        available, *_ = self._available()
        before = self._instrument_margin(inst, o.product)
        after = self._instrument_margin(inst, o.product, (o.transaction_type, o.quantity, price))
        required = after - before
        # the order's own margin is not yet counted in `available`
        if required > 0 and required > available:
            return (
                f"Insufficient funds. Required margin is {_f(required):.2f} but available margin is "
                f"{_f(available):.2f}. Check the orderbook for open orders."
            )
        return None

    def _open(self, o: E.Order, d: date, j: int, ts: datetime) -> None:
        """Send a validated order to the exchange and meet the current minute's book."""
        o.status = E.OPEN_PENDING
        o.placed_minute = j
        self._record(o, ts)
        o.exchange_order_id = f"{1100000000000000 + int(o.order_id[-9:])}"
        o.exchange_timestamp = ts
        o.exchange_update_timestamp = ts
        if o.order_type in ("SL", "SL-M"):
            o.status = E.TRIGGER_PENDING
            self._record(o, ts)
            self._match(o, d, j, resting=False)
            return
        o.status = E.OPEN
        inst = self.catalog().by_key[f"{o.exchange}:{o.tradingsymbol}"]
        q = self.view.quote(d, j, inst.tradingsymbol)
        E.arm(o, dec(q.last) if q is not None else o.price)
        self._record(o, ts)
        self._match(o, d, j, resting=False)

    def _modify(self, req: Request, variety: str, order_id: str) -> dict[str, Any]:
        o = self._get_order(order_id)
        if o.variety != variety:
            raise _input(f"Order {order_id} is not a `{variety}` order.")
        if not o.working and o.status != E.AMO_REQ_RECEIVED:
            raise KiteError(400, "OrderException", f"Order cannot be modified as it is {o.status.lower()}.")
        if sum(1 for h in o.history if h["status"] == E.MODIFY_PENDING) >= MAX_MODIFICATIONS:
            raise KiteError(
                400, "OrderException", f"Maximum allowed order modifications ({MAX_MODIFICATIONS}) exceeded."
            )
        now = self.clock.now().astimezone(IST)
        qty = _opt_int(req.param("quantity"), "quantity")
        price = _opt_dec(req.param("price"), "price")
        trigger = _opt_dec(req.param("trigger_price"), "trigger_price")
        order_type = req.param("order_type") or o.order_type
        validity = req.param("validity") or o.validity
        protection = _opt_dec(req.param("market_protection"), "market_protection")
        if order_type not in ORDER_TYPES:
            raise _input(f"Invalid `order_type` {order_type!r}.")
        if validity not in VALIDITIES:
            raise _input(f"Invalid `validity` {validity!r}.")
        inst = self.catalog().by_key[f"{o.exchange}:{o.tradingsymbol}"]
        if qty is not None:
            if qty <= o.filled_quantity:
                raise _input("Quantity should be greater than the filled quantity.")
            if inst.is_derivative and qty % inst.lot_size:
                raise _input(f"Quantity should be a multiple of the lot size ({inst.lot_size}).")
        for px in (price, trigger):
            if px is not None:
                _check_tick(px, inst)
        o.status = E.MODIFY_VALIDATION_PENDING
        self._record(o, now)
        o.quantity = qty if qty is not None else o.quantity
        o.price = price if price is not None else o.price
        o.trigger_price = trigger if trigger is not None else o.trigger_price
        o.order_type = order_type
        o.validity = validity
        if protection is not None:
            o.market_protection = protection
        o.modified = True
        o.status = E.MODIFY_PENDING
        self._record(o, now)
        if o.variety == "amo" and not self.view.is_open(now):
            o.status = E.AMO_REQ_RECEIVED
            self._record(o, now)
            return {"order_id": o.order_id}
        d, j = self.now_minute()
        if o.order_type in ("SL", "SL-M") and o.filled_quantity == 0:
            o.status = E.TRIGGER_PENDING
        else:
            o.status = E.OPEN
            E.arm(o, self._ltp(inst))
        self._record(o, now)
        self._match(o, d, j, resting=False)
        return {"order_id": o.order_id}

    def _cancel(self, req: Request, variety: str, order_id: str) -> dict[str, Any]:
        o = self._get_order(order_id)
        if o.variety != variety:
            raise _input(f"Order {order_id} is not a `{variety}` order.")
        if not o.working and o.status != E.AMO_REQ_RECEIVED:
            raise KiteError(400, "OrderException", f"Order cannot be cancelled as it is {o.status.lower()}.")
        now = self.clock.now().astimezone(IST)
        o.status = E.CANCEL_PENDING
        self._record(o, now)
        o.cancelled_quantity = o.quantity - o.filled_quantity
        o.status = E.CANCELLED
        o.exchange_update_timestamp = now
        self._record(o, now)
        return {"order_id": o.order_id}

    # ================================================================== routes: margin and charges calculators
    def _json_orders(self, req: Request) -> list[tuple[dict[str, Any], Listed]]:
        body = req.json_body
        if not isinstance(body, list) or not body:
            raise _input("Expected a JSON list of orders.")
        cat = self.catalog()
        out = []
        for i, item in enumerate(body):
            if not isinstance(item, dict):
                raise _input(f"Order {i} is not a JSON object.")
            for name in ("exchange", "tradingsymbol", "transaction_type", "quantity", "product"):
                if item.get(name) in (None, ""):
                    raise _input(f"Order {i}: missing `{name}`.")
            inst = cat.by_key.get(f"{item['exchange']}:{item['tradingsymbol']}")
            if inst is None:
                raise _input(f"Order {i}: unknown instrument {item['exchange']}:{item['tradingsymbol']}.")
            if item["transaction_type"] not in ("BUY", "SELL"):
                raise _input(f"Order {i}: invalid `transaction_type`.")
            try:
                qty = int(item["quantity"])
            except (TypeError, ValueError):
                raise _input(f"Order {i}: invalid `quantity`.") from None
            if qty <= 0:
                raise _input(f"Order {i}: invalid `quantity`.")
            out.append(({**item, "quantity": qty}, inst))
        return out

    def _charges(self, item: dict[str, Any], inst: Listed, price: Decimal) -> dict[str, Any]:
        from tron.domain.charges import order_charges
        from tron.domain.models import Side

        if inst.is_option:
            segment = "options"
        elif inst.is_future:
            segment = "futures"
        else:
            segment = "equity_delivery" if item["product"] == "CNC" else "equity_intraday"
        c = order_charges(
            segment, Side(item["transaction_type"]), price, item["quantity"], self.now_minute()[0]
        )
        return {
            "transaction_tax": float(c.stt),
            "transaction_tax_type": "stt",
            "exchange_turnover_charge": float(c.transaction),
            "sebi_turnover_charge": float(c.sebi),
            "brokerage": float(c.brokerage),
            "stamp_duty": float(c.stamp_duty),
            "gst": {"igst": float(c.gst), "cgst": 0, "sgst": 0, "total": float(c.gst)},
            "total": float(c.total),
        }

    def _price_of(self, item: dict[str, Any], inst: Listed) -> Decimal:
        for name in ("average_price", "price"):
            v = item.get(name)
            if v not in (None, "", 0, "0"):
                try:
                    return Decimal(str(v))
                except InvalidOperation:
                    raise _input(f"Invalid `{name}`.") from None
        return self._ltp(inst)

    def _margin_row(self, item: dict[str, Any], inst: Listed) -> dict[str, Any]:
        price = self._price_of(item, inst)
        short = item["transaction_type"] == "SELL"
        margin = (
            self.rules.per_unit(inst, item["product"], price, self._underlying_ltp(inst), short)
            * item["quantity"]
        )
        premium = price * item["quantity"] if inst.is_option and not short else Decimal(0)
        span = margin if inst.is_derivative and not premium else Decimal(0)
        var = margin if not inst.is_derivative else Decimal(0)
        return {
            "type": "equity",
            "tradingsymbol": inst.tradingsymbol,
            "exchange": inst.exchange,
            "span": _f(span),
            "exposure": 0,
            "option_premium": _f(premium),
            "additional": 0,
            "bo": 0,
            "cash": 0,
            "var": _f(var),
            "pnl": {"realised": 0, "unrealised": 0},
            "leverage": float(self.rules.mis_leverage)
            if item["product"] == "MIS" and not inst.is_derivative
            else 1,
            "charges": self._charges(item, inst, price),
            "total": _f(margin),
        }

    def _order_margins(self, req: Request) -> list[dict[str, Any]]:
        return [self._margin_row(item, inst) for item, inst in self._json_orders(req)]

    def _basket_margins(self, req: Request) -> dict[str, Any]:
        rows = [self._margin_row(item, inst) for item, inst in self._json_orders(req)]
        total = sum(r["total"] for r in rows)
        return {"initial": {"total": round(total, 2)}, "final": {"total": round(total, 2)}, "orders": rows}

    def _contract_note(self, req: Request) -> list[dict[str, Any]]:
        out = []
        for item, inst in self._json_orders(req):
            price = self._price_of(item, inst)
            out.append(
                {
                    "transaction_type": item["transaction_type"],
                    "tradingsymbol": inst.tradingsymbol,
                    "exchange": inst.exchange,
                    "variety": item.get("variety", "regular"),
                    "product": item["product"],
                    "order_type": item.get("order_type", "MARKET"),
                    "quantity": item["quantity"],
                    "price": float(price),
                    "charges": self._charges(item, inst, price),
                }
            )
        return out

    # ================================================================== the WebSocket ticker
    def ticker_authorised(self, api_key: str, access_token: str) -> bool:
        with self.lock:
            return api_key == self.api_key and self.sessions.valid(access_token, self.clock.now())

    def ticks(self, tokens: list[int]) -> dict[int, dict[str, Any]]:
        """Tick fields for the ticker's packets, at the clock's current minute."""
        with self.lock:
            self._advance()
            cat = self.catalog()
            out: dict[int, dict[str, Any]] = {}
            for tok in tokens:
                inst = cat.by_token.get(tok)
                item = self._quote_item(inst) if inst is not None else None
                if inst is None or item is None:
                    continue
                ohlc = item["ohlc"]
                ltt = item.get("last_trade_time")
                out[tok] = {
                    "instrument_token": tok,
                    "index": inst.is_index,
                    "last_price": item["last_price"],
                    "open": ohlc["open"],
                    "high": ohlc["high"],
                    "low": ohlc["low"],
                    "close": ohlc["close"],
                    "last_quantity": item.get("last_quantity", 0),
                    "average_price": item.get("average_price", 0.0),
                    "volume": item.get("volume", 0),
                    "buy_quantity": item.get("buy_quantity", 0),
                    "sell_quantity": item.get("sell_quantity", 0),
                    "depth": item.get("depth", {"buy": [], "sell": []}),
                    "timestamp": datetime.strptime(item["timestamp"], TS).replace(tzinfo=IST),
                    "last_trade_time": datetime.strptime(ltt, TS).replace(tzinfo=IST) if ltt else None,
                }
            return out

    # ================================================================== routes: GTT
    def _gtt_waiting(self) -> bool:
        return any(g.status == "active" for g in self.gtts.values())

    def _gtt_dict(self, g: Gtt) -> dict[str, Any]:
        inst = self.catalog().by_key.get(f"{g.exchange}:{g.tradingsymbol}")
        return {
            "id": g.id,
            "user_id": self.user_id,
            "parent_trigger": None,
            "type": g.type,
            "created_at": fmt(g.created_at),
            "updated_at": fmt(g.updated_at),
            "expires_at": fmt(g.expires_at),
            "status": g.status,
            "condition": {
                "exchange": g.exchange,
                "tradingsymbol": g.tradingsymbol,
                "instrument_token": inst.instrument_token if inst else None,
                "last_price": float(g.last_price),
                "trigger_values": [float(v) for v in g.trigger_values],
            },
            "orders": [{**o, "result": r} for o, r in zip(g.orders, g.results, strict=True)],
            "meta": None,
        }

    def _gtt_parse(self, req: Request, gtt_id: int) -> Gtt:
        fields = {k: req.param(k) for k in ("type", "condition", "orders")}
        try:
            g = parse_gtt(fields, gtt_id, self.clock.now())
        except GttInputError as e:
            raise _input(str(e)) from None
        inst = self.catalog().by_key.get(f"{g.exchange}:{g.tradingsymbol}")
        if inst is None or inst.is_index:
            raise _input(f"Invalid instrument {g.exchange}:{g.tradingsymbol} in `condition`.")
        return g

    def _gtt_place(self, req: Request) -> dict[str, Any]:
        self._gtt_seq += 1
        g = self._gtt_parse(req, self._gtt_seq)
        self.gtts[g.id] = g
        return {"trigger_id": g.id}

    def _gtt_list(self, req: Request) -> list[dict[str, Any]]:
        return [self._gtt_dict(g) for g in self.gtts.values()]

    def _gtt_of(self, trigger_id: str) -> Gtt:
        g = self.gtts.get(int(trigger_id))
        if g is None:
            raise _input("Couldn't find that `trigger_id`.")
        return g

    def _gtt_get(self, req: Request, trigger_id: str) -> dict[str, Any]:
        return self._gtt_dict(self._gtt_of(trigger_id))

    def _gtt_modify(self, req: Request, trigger_id: str) -> dict[str, Any]:
        old = self._gtt_of(trigger_id)
        if old.status != "active":
            raise _input(f"Trigger cannot be modified as it is {old.status}.")
        g = self._gtt_parse(req, old.id)
        g.created_at = old.created_at
        self.gtts[g.id] = g
        return {"trigger_id": g.id}

    def _gtt_delete(self, req: Request, trigger_id: str) -> dict[str, Any]:
        g = self._gtt_of(trigger_id)
        if g.status != "active":
            raise _input(f"Trigger cannot be deleted as it is {g.status}.")
        g.status = "deleted"
        g.updated_at = self.clock.now()
        return {"trigger_id": g.id}

    def _check_gtts(self, d: date, minute: int) -> None:
        ts = self._minute_ts(d, minute)
        for g in self.gtts.values():
            if g.status != "active":
                continue
            if ts >= g.expires_at:
                g.status = "expired"
                continue
            q = self.view.quote(d, minute, g.tradingsymbol)
            if q is None:
                continue
            ltp = dec(q.last)
            leg = g.due(ltp)
            if leg is None:
                continue
            g.status = "triggered"
            g.updated_at = ts
            spec = g.orders[leg]
            form = {
                "exchange": [g.exchange],
                "tradingsymbol": [g.tradingsymbol],
                "transaction_type": [str(spec.get("transaction_type"))],
                "quantity": [str(spec.get("quantity"))],
                "product": [str(spec.get("product"))],
                "order_type": ["LIMIT"],
                "price": [str(spec.get("price"))],
            }
            result: dict[str, Any] = {"timestamp": fmt(ts), "triggered_at": float(ltp)}
            try:
                p = _OrderParams.parse(Request("POST", "/orders/regular", form=form), self.catalog())
                o = self._place_checked("regular", p, ts, at=(d, minute))
                result["order_result"] = {"order_id": o.order_id, "rejection_reason": o.status_message or ""}
            except KiteError as e:
                result["order_result"] = {"order_id": "", "rejection_reason": e.message}
            g.results[leg] = result

    # ================================================================== routes: portfolio
    def _positions(self, req: Request) -> dict[str, Any]:
        self._pnl()
        rows = [p.to_kite() for p in self.positions.values()]
        day = []
        for p in self.positions.values():
            if p.buy_quantity + p.sell_quantity > abs(p.overnight_quantity):  # traded today
                r = p.to_kite()
                r["overnight_quantity"] = 0
                day.append(r)
        return {"net": rows, "day": day}

    def _convert(self, req: Request) -> bool:
        """Convert (part of) an open position between products: MIS ↔ CNC for equity, MIS ↔ NRML for F&O."""
        names = (
            "exchange",
            "tradingsymbol",
            "transaction_type",
            "position_type",
            "quantity",
            "old_product",
            "new_product",
        )
        v = {n: req.param(n) for n in names}
        missing = [n for n in names if not v[n]]
        if missing:
            raise _input(f"Missing `{missing[0]}`.")
        inst = self.catalog().by_key.get(f"{v['exchange']}:{v['tradingsymbol']}")
        if inst is None:
            raise _input(f"Invalid `tradingsymbol`: {v['exchange']}:{v['tradingsymbol']}.")
        qty = _opt_int(v["quantity"], "quantity") or 0
        old, new = str(v["old_product"]), str(v["new_product"])
        allowed = (
            {("MIS", "NRML"), ("NRML", "MIS")} if inst.is_derivative else {("MIS", "CNC"), ("CNC", "MIS")}
        )
        if (old, new) not in allowed:
            raise _input(f"Cannot convert {old} to {new} for {inst.key}.")
        pos = self.positions.get((inst.exchange, inst.tradingsymbol, old))
        side = v["transaction_type"]
        have = pos.open_quantity if pos else 0
        if qty <= 0 or side not in ("BUY", "SELL") or (have > 0) != (side == "BUY") or qty > abs(have):
            raise _input(f"No open {side} {old} position of {qty} in {inst.key} to convert.")
        if inst.is_derivative and qty % inst.lot_size:
            raise _input(f"Quantity should be a multiple of the lot size ({inst.lot_size}).")
        assert pos is not None
        avg = pos.take_out(qty)
        target = self._position(inst, new)
        target.apply(str(side), qty, avg)
        if self._available()[0] < 0:
            target.take_out(qty)
            pos.apply(str(side), qty, avg)
            raise _input("Insufficient funds to convert the position.")
        return True

    def _holdings(self, req: Request) -> list[dict[str, Any]]:
        out = []
        for sym, h in self.holdings.items():
            inst: Listed = h["inst"]
            last = self._ltp(inst)
            avg = h["cost"] / h["quantity"] if h["quantity"] else Decimal(0)
            out.append(
                {
                    "tradingsymbol": sym,
                    "exchange": inst.exchange,
                    "instrument_token": inst.instrument_token,
                    "isin": "",
                    "product": "CNC",
                    "price": 0,
                    "quantity": h["quantity"],
                    "used_quantity": 0,
                    "t1_quantity": 0,
                    "realised_quantity": h["quantity"],
                    "authorised_quantity": 0,
                    "authorised_date": None,
                    "opening_quantity": h["quantity"],
                    "collateral_quantity": 0,
                    "collateral_type": "",
                    "discrepancy": False,
                    "average_price": _f(avg),
                    "last_price": float(last),
                    "close_price": float(last),
                    "pnl": _f((last - avg) * h["quantity"]),
                    "day_change": 0.0,
                    "day_change_percentage": 0.0,
                }
            )
        return out


# ====================================================================== parameter parsing
@dataclass
class _OrderParams:
    inst: Listed
    side: str
    quantity: int
    product: str
    order_type: str
    price: Decimal
    trigger: Decimal
    protection: Decimal
    tag: str | None
    validity: str
    disclosed: int
    autoslice: bool
    ttl: int = 0

    @staticmethod
    def parse(req: Request, cat: Catalog) -> _OrderParams:
        def need(name: str) -> str:
            v = req.param(name)
            if v is None or v == "":
                raise _input(f"Missing `{name}`.")
            return v

        exchange, symbol = need("exchange"), need("tradingsymbol")
        inst = cat.by_key.get(f"{exchange}:{symbol}")
        if inst is None:
            raise _input(f"Invalid `tradingsymbol`: {exchange}:{symbol} is not a tradable instrument.")
        if inst.is_index:
            raise _input("Indices cannot be traded.")
        side = need("transaction_type")
        if side not in ("BUY", "SELL"):
            raise _input(f"Invalid `transaction_type` {side!r}.")
        product = need("product")
        if product not in PRODUCTS:
            raise _input(f"Invalid `product` {product!r}.")
        order_type = need("order_type")
        if order_type not in ORDER_TYPES:
            raise _input(f"Invalid `order_type` {order_type!r}.")
        qty = _opt_int(need("quantity"), "quantity")
        assert qty is not None
        if qty <= 0:
            raise _input("Invalid `quantity`: it must be a positive whole number.")
        validity = req.param("validity") or "DAY"
        if validity not in VALIDITIES:
            raise _input(f"Invalid `validity` {validity!r}.")
        ttl = _opt_int(req.param("validity_ttl"), "validity_ttl") or 0
        if validity == "TTL" and ttl < 1:
            raise _input("Invalid `validity_ttl`: a TTL order needs its lifetime in minutes (at least 1).")
        price = _opt_dec(req.param("price"), "price") or Decimal(0)
        trigger = _opt_dec(req.param("trigger_price"), "trigger_price") or Decimal(0)
        if order_type in ("LIMIT", "SL") and price <= 0:
            raise _input("Invalid `price`: a LIMIT or SL order needs a positive price.")
        if order_type in ("SL", "SL-M") and trigger <= 0:
            raise _input("Invalid `trigger_price`: a stop-loss order needs a positive trigger price.")
        if order_type in ("MARKET", "SL-M"):
            price = Decimal(0)
        if order_type in ("MARKET", "LIMIT"):
            trigger = Decimal(0)
        for px in (price, trigger):
            if px:
                _check_tick(px, inst)
        raw_mp = req.param("market_protection")
        try:
            protection = Decimal(raw_mp) if raw_mp not in (None, "") else Decimal(0)
            if not protection.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise _input(
                f"Invalid request (failed to decode market_protection, got: {raw_mp} (expected decimal))"
            ) from None
        if protection != -1 and not (0 <= protection <= 100):
            raise _input("Invalid `market_protection`: use -1 (automatic) or a percentage from 0 to 100.")
        tag = req.param("tag")
        if tag is not None and not TAG_RE.match(tag):
            raise _input("Invalid `tag`: it must be alphanumeric and at most 20 characters.")
        disclosed = _opt_int(req.param("disclosed_quantity"), "disclosed_quantity") or 0
        return _OrderParams(
            inst,
            side,
            qty,
            product,
            order_type,
            price,
            trigger,
            protection,
            tag,
            validity,
            disclosed,
            (req.param("autoslice") or "").lower() == "true",
            ttl if validity == "TTL" else 0,
        )


def _check_tick(px: Decimal, inst: Listed) -> None:
    tick = inst.tick_size
    if tick > 0 and (px / tick) != (px / tick).to_integral_value():
        raise _input(
            f"Tick size for this script is {tick}. Kindly enter the price in multiples of the tick size."
        )


def _opt_int(v: str | None, name: str) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise _input(f"Invalid `{name}`: {v!r} is not a whole number.") from None


def _opt_dec(v: str | None, name: str) -> Decimal | None:
    if v is None or v == "":
        return None
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise _input(f"Invalid `{name}`: {v!r} is not a number.") from None
    if not d.is_finite() or d < 0:
        raise _input(f"Invalid `{name}`: {v!r} is not a valid price.")
    return d


def _parse_when(v: str | None, name: str) -> datetime:
    """A `from`/`to` parameter as IST; a bare date `to` means the end of that day."""
    if not v:
        raise _input(f"Missing `{name}` date.")
    try:
        return datetime.strptime(v, TS).replace(tzinfo=IST)
    except ValueError:
        pass
    try:
        day = datetime.strptime(v, "%Y-%m-%d").replace(tzinfo=IST)
        return day + timedelta(hours=23, minutes=59, seconds=59) if name == "to" else day
    except ValueError:
        pass
    raise _input(f"invalid {name} date: {v!r} (expected yyyy-mm-dd or yyyy-mm-dd hh:mm:ss)")


def _aggregate(
    d: date,
    bars: list[tuple[int, float, float, float, float, int]],
    interval: str,
    start: datetime,
    end: datetime,
    with_oi: bool,
) -> list[list[Any]]:
    if not bars:
        return []
    if interval == "day":
        stamp = datetime.combine(d, time(0, 0), tzinfo=IST)
        if not (start.date() <= d <= end.date()):
            return []
        row: list[Any] = [
            stamp.strftime("%Y-%m-%dT%H:%M:%S%z"),
            bars[0][1],
            max(b[2] for b in bars),
            min(b[3] for b in bars),
            bars[-1][4],
            sum(b[5] for b in bars),
        ]
        return [[*row, 0]] if with_oi else [row]
    n = INTERVAL_MINUTES[interval]
    out = []
    open_ts = ist(d, time(9, 15))
    for g in range(0, len(bars), n):
        chunk = bars[g : g + n]
        stamp = open_ts + timedelta(minutes=chunk[0][0])
        if stamp < start or stamp > end:
            continue
        row = [
            stamp.strftime("%Y-%m-%dT%H:%M:%S%z"),
            chunk[0][1],
            max(b[2] for b in chunk),
            min(b[3] for b in chunk),
            chunk[-1][4],
            sum(b[5] for b in chunk),
        ]
        out.append([*row, 0] if with_oi else row)
    return out


def _depth(
    levels: tuple[E.Level, ...], name: str, j: int, taken: dict[tuple[int, str, int], int]
) -> list[dict[str, Any]]:
    """Depth levels as Kite shows them, less what orders took from this minute's book."""
    return [
        {
            "price": float(lv.price),
            "quantity": max(0, lv.quantity - taken.get((j, name, k), 0)),
            "orders": lv.orders,
        }
        for k, lv in enumerate(levels)
    ]


def _f(d: Decimal) -> float:
    return float(d.quantize(Decimal("0.01")))
