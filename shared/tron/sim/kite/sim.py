"""KiteSim: a Kite Connect v3 compatible exchange and broker, in memory, behind one lock.

`handle()` takes a parsed HTTP request and returns Kite's envelope; `server.serve()` puts it on a socket.
Time comes from the injected Clock (the day loop's VirtualClock in-process, a ScaledClock for
`tron kite-sim`)."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time as _time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from tron.domain.stop_fill import StopSlippage
from tron.ports import Clock
from tron.sim.kite import engine
from tron.sim.kite.accounts import AccountRoutes
from tron.sim.kite.auth import Sessions
from tron.sim.kite.calculators import CalculatorRoutes
from tron.sim.kite.catalog import Catalog
from tron.sim.kite.control import Control
from tron.sim.kite.exchange import Exchange
from tron.sim.kite.faults import Fault, Faults, fault_response
from tron.sim.kite.gtt import Gtt
from tron.sim.kite.gtt_book import GttBook
from tron.sim.kite.gtt_routes import GttRoutes
from tron.sim.kite.lifecycle import Lifecycle, LifecycleSettings
from tron.sim.kite.margins import Margins
from tron.sim.kite.market_routes import MarketRoutes
from tron.sim.kite.order_book import OrderBook
from tron.sim.kite.order_entry import OrderEntry
from tron.sim.kite.order_routes import OrderRoutes
from tron.sim.kite.portfolio import AccountPosition, Holding, MarginRules, Portfolio
from tron.sim.kite.postbacks import Postbacks
from tron.sim.kite.protocol import JSON, TOKEN_MESSAGE, KiteError, Request, Response, envelope, error_response
from tron.sim.kite.rate_windows import RateSettings, RateWindows
from tron.sim.kite.trading_day import TradingDay
from tron.sim.kite.venue import Venue
from tron.sim.market import GeneratedMarketData

log = logging.getLogger(__name__)


class Route(NamedTuple):
    """One HTTP route: its handler gets the request and the pattern's named groups as keyword arguments."""

    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., object]  # returns a Response, or data for Kite's success envelope
    kind: str  # its rate-limit class (see rate_windows.RATES)
    auth: bool  # needs `Authorization: token api_key:access_token`


class KiteSim:
    """The simulated Kite account and exchange. Thread-safe: every request runs under one lock.

    The state lives in plain objects wired here (`venue`, `portfolio`, `book`, `trading_day`, `gtt_book`);
    the route classes receive the ones they use. Test hooks: `fail_next`, `drop_connection_next`,
    `expire_tokens`, `login`."""

    def __init__(
        self,
        market: GeneratedMarketData,
        clock: Clock | None = None,
        api_key: str = "sim",
        api_secret: str = "sim-secret",
        rate_limits: bool = True,
        capital: Decimal = Decimal("1000000"),
        timer: Callable[[], float] | None = None,
        liquidity: engine.Liquidity | None = None,
        margins: MarginRules | None = None,
        user_id: str = "SIM001",
        postback_url: str | None = None,
        ticker_interval: float = 1.0,
        stop_slippage: StopSlippage | None = None,
        market_as_limit: bool = True,
        lifecycle: LifecycleSettings | None = None,
        rates: RateSettings | None = None,
    ) -> None:
        self.market = market
        self.clock: Clock = clock or market.clock
        self.api_key = api_key
        self.api_secret = api_secret
        self.user_id = user_id
        self.rules = margins or MarginRules()
        self.sessions = Sessions(api_key, api_secret)
        self.rate_windows = RateWindows(timer, enabled=rate_limits, settings=rates)
        self.lock = threading.RLock()
        self.requests = 0
        self.postbacks = Postbacks(postback_url, api_key, api_secret) if postback_url else None
        self.ticker_interval = ticker_interval
        self.ticker_queues: list[queue.Queue[dict[str, Any]]] = []  # one per ticker connection
        self.closing = False  # set by RunningSim.stop(): ticker connections end
        self._faults = Faults()
        self._running = threading.Event()  # cleared while paused: every Kite request waits
        self._running.set()
        self._drop_until = 0.0  # wall time until which every Kite connection is dropped
        self.control = Control(self)

        self.venue = Venue(market, self.clock, liquidity or engine.Liquidity())
        self.view = self.venue.view
        self.calendar = self.venue.calendar
        self.portfolio = Portfolio(Decimal(capital))
        self.book = OrderBook(
            self.venue, self.portfolio, user_id, self.postbacks, self.ticker_queues, market_as_limit
        )
        exchange = Exchange(self.venue, self.book, stop_slippage)
        margin = Margins(self.venue, self.rules, self.portfolio, self.book)
        entry = OrderEntry(self.venue, self.portfolio, self.book, margin, exchange)
        self.order_entry, self.margins = entry, margin
        self.gtt_book = GttBook(self.venue, entry)
        self.trading_day = TradingDay(self.venue, self.portfolio, self.book, exchange, self.gtt_book)
        self.lifecycle = Lifecycle(
            lifecycle or LifecycleSettings(), entry, exchange, self.book, lambda: self.trading_day.minute_seen
        )
        self._market_routes = MarketRoutes(self.venue, self.book)
        self.routes = self._route_table(
            AccountRoutes(self.venue, self.sessions, user_id, self.portfolio, margin),
            self._market_routes,
            OrderRoutes(self.venue, self.book, self.lifecycle, exchange, margin),
            CalculatorRoutes(self.venue, margin),
            GttRoutes(self.venue, self.gtt_book, user_id),
        )

    @staticmethod
    def _route_table(
        account: AccountRoutes,
        market: MarketRoutes,
        orders: OrderRoutes,
        calculators: CalculatorRoutes,
        gtt: GttRoutes,
    ) -> list[Route]:
        table: tuple[tuple[str, str, Callable[..., object], str, bool], ...] = (
            ("POST", r"/session/token", account.session_token, "other", False),
            ("DELETE", r"/session/token", account.session_delete, "other", False),
            ("GET", r"/user/profile", account.profile, "other", True),
            ("GET", r"/user/margins", account.user_margins, "other", True),
            ("GET", r"/user/margins/(?P<segment>[^/]+)", account.user_margins, "other", True),
            ("GET", r"/instruments", market.instruments, "other", True),
            ("GET", r"/instruments/(?P<exchange>[A-Za-z]+)", market.instruments, "other", True),
            ("GET", r"/quote", market.quote, "quote", True),
            ("GET", r"/quote/ohlc", market.ohlc, "quote", True),
            ("GET", r"/quote/ltp", market.ltp, "quote", True),
            (
                "GET",
                r"/instruments/historical/(?P<token>[^/]+)/(?P<interval>[^/]+)",
                market.historical,
                "historical",
                True,
            ),
            ("GET", r"/orders", orders.orders, "other", True),
            ("GET", r"/orders/(?P<order_id>\d+)", orders.order_history, "other", True),
            ("GET", r"/orders/(?P<order_id>\d+)/trades", orders.order_trades, "other", True),
            ("GET", r"/trades", orders.trades, "other", True),
            ("POST", r"/orders/(?P<variety>[a-z]+)", orders.place, "orders", True),
            ("PUT", r"/orders/(?P<variety>[a-z]+)/(?P<order_id>\d+)", orders.modify, "orders", True),
            ("DELETE", r"/orders/(?P<variety>[a-z]+)/(?P<order_id>\d+)", orders.cancel, "orders", True),
            ("GET", r"/portfolio/positions", account.positions, "other", True),
            ("GET", r"/portfolio/holdings", account.holdings, "other", True),
            ("PUT", r"/portfolio/positions", account.convert, "other", True),
            ("POST", r"/margins/orders", calculators.order_margins, "other", True),
            ("POST", r"/margins/basket", calculators.basket_margins, "other", True),
            ("POST", r"/charges/orders", calculators.contract_note, "other", True),
            ("GET", r"/gtt/triggers", gtt.list_triggers, "other", True),
            ("POST", r"/gtt/triggers", gtt.place, "other", True),
            ("GET", r"/gtt/triggers/(?P<trigger_id>\d+)", gtt.get, "other", True),
            ("PUT", r"/gtt/triggers/(?P<trigger_id>\d+)", gtt.modify, "other", True),
            ("DELETE", r"/gtt/triggers/(?P<trigger_id>\d+)", gtt.delete, "other", True),
        )
        return [
            Route(method, re.compile(pattern + "$"), fn, kind, auth)
            for method, pattern, fn, kind, auth in table
        ]

    # ------------------------------------------------------------------ test hooks (Python API)
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
            self._faults.fail_next(path_prefix, error_type, status, message, times, method, after)

    def drop_connection_next(
        self, path_prefix: str, times: int = 1, method: str | None = None, after: bool = False
    ) -> None:
        """Close the connection without a response (the client sees a connection error); after=True
        processes the request first."""
        with self.lock:
            self._faults.drop_connection_next(path_prefix, times, method, after)

    @property
    def faults(self) -> list[Fault]:
        """The scripted faults not yet used up (each with the `times` it has left)."""
        return self._faults.pending

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (as at 06:00)."""
        with self.lock:
            self.sessions.expire_all()

    def login(self) -> str:
        """Issue an access token directly (for tests and in-process wiring that skip the HTTP login)."""
        with self.lock:
            return self.sessions.create(self.clock.now()).access_token

    # ------------------------------------------------------------------ what the account holds
    def catalog(self) -> Catalog:
        """Today's instruments (the dump `GET /instruments` serves)."""
        return self.venue.catalog()

    def now_minute(self) -> tuple[date, int]:
        """(the trading day whose prices show now, minutes of its session completed)."""
        return self.venue.now_minute()

    @property
    def day(self) -> date | None:
        """The trading day of the order book (None before the first request)."""
        return self.book.day

    @property
    def orders(self) -> dict[str, engine.Order]:
        """The day's orders by order id."""
        return self.book.orders

    @property
    def trades(self) -> list[dict[str, Any]]:
        """The day's trades as `GET /trades` shows them."""
        return self.book.trades

    @property
    def positions(self) -> dict[tuple[str, str, str], AccountPosition]:
        """The day's positions by (exchange, tradingsymbol, product)."""
        return self.portfolio.positions

    @property
    def holdings(self) -> dict[str, Holding]:
        """Delivery holdings by tradingsymbol."""
        return self.portfolio.holdings

    @property
    def capital(self) -> Decimal:
        """The day's opening balance."""
        return self.portfolio.capital

    @property
    def gtts(self) -> dict[int, Gtt]:
        """GTT triggers by id."""
        return self.gtt_book.triggers

    # ------------------------------------------------------------------ the WebSocket ticker
    def ticker_authorised(self, api_key: str, access_token: str) -> bool:
        """Whether a ticker connection with these credentials may connect (and stay connected)."""
        with self.lock:
            return api_key == self.api_key and self.sessions.valid(access_token, self.clock.now())

    def ticks(self, tokens: list[int]) -> dict[int, dict[str, Any]]:
        """Tick fields for the ticker's packets, at the clock's current minute."""
        with self.lock:
            self.advance()
            return self._market_routes.ticks(tokens)

    def pause(self) -> None:
        """Every Kite request hangs from now until `resume` (the control API; not the control API itself)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def drop_for(self, seconds: float) -> float:
        """Drop every Kite connection for the next `seconds` of wall time."""
        self._drop_until = _time.monotonic() + max(seconds, 0.0)
        return seconds

    # ------------------------------------------------------------------ dispatch
    def handle(self, req: Request) -> Response:
        """Answer one request in Kite's envelope (errors included), applying any scripted fault; while paused
        it waits (up to 10 minutes), while dropping it closes the connection."""
        self._running.wait(timeout=600)
        if _time.monotonic() < self._drop_until:
            return Response(0, JSON, b"", drop=True)
        with self.lock:
            self.requests += 1
            path = req.path.rstrip("/") or "/"
            fault = self._faults.take(req.method, path)
            if fault is not None and not fault.after:
                return fault_response(fault)
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
                return fault_response(fault)
            return resp

    def _dispatch(self, req: Request, path: str) -> Response:
        allowed_methods = []
        for route in self.routes:
            m = route.pattern.match(path)
            if not m:
                continue
            allowed_methods.append(route.method)
            if route.method != req.method:
                continue
            if route.auth:
                self._auth(req)
            # Kite's limits are per account (one API key here), not per token; modifications count as orders
            if why := self.rate_windows.refusal(self.api_key, route.kind, self.clock.now().date()):
                raise KiteError(429, "NetworkException", why)
            self.advance()
            result = route.handler(req, **m.groupdict())
            return result if isinstance(result, Response) else envelope(result)
        if allowed_methods:
            raise KiteError(405, "GeneralException", f"Method {req.method} is not allowed on {path}.")
        raise KiteError(404, "GeneralException", "Route not found")

    def advance(self) -> None:
        """Bring the account up to now: the orders' lifecycle stages due by wall time, then the trading day
        to the clock's minute (call under the lock)."""
        self.lifecycle.advance()
        self.trading_day.advance()

    def _auth(self, req: Request) -> str:
        header = req.headers.get("authorization", "")
        if not header.startswith("token ") or ":" not in header:
            raise KiteError(403, "TokenException", TOKEN_MESSAGE)
        key, token = header[len("token ") :].split(":", 1)
        if key != self.api_key or not self.sessions.valid(token, self.clock.now()):
            raise KiteError(403, "TokenException", TOKEN_MESSAGE)
        return token
