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
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tron.domain.timeutil import IST, ist
from tron.sim.kite import engine as E
from tron.sim.kite.accounts import AccountRoutes
from tron.sim.kite.auth import Sessions
from tron.sim.kite.calculators import CalculatorRoutes
from tron.sim.kite.catalog import INDEX_SYMBOL, Catalog, Listed
from tron.sim.kite.gtt import Gtt
from tron.sim.kite.gtt_routes import GttRoutes
from tron.sim.kite.limits import RateLimiter
from tron.sim.kite.market_routes import MarketRoutes
from tron.sim.kite.market_view import MarketView, dec
from tron.sim.kite.order_routes import OrderRoutes
from tron.sim.kite.portfolio import MarginRules, Position
from tron.sim.kite.postbacks import Postbacks
from tron.sim.kite.protocol import (
    EQUITY_SQUARE_OFF,
    FNO_SQUARE_OFF,
    JSON,
    TOKEN_MESSAGE,
    Fault,
    KiteError,
    Request,
    Response,
    envelope,
    error_response,
    fmt,
)
from tron.sim.market import MINUTES

log = logging.getLogger(__name__)


class KiteSim(AccountRoutes, MarketRoutes, OrderRoutes, CalculatorRoutes, GttRoutes):
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
            if auth:
                self._auth(req)
            if not self.limiter.allow(self.api_key, kind):  # Kite's limits are per API key, not per token
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
