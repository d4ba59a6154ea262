"""Market data routes: the instruments dump, quote / ohlc / ltp, historical candles, and the tick fields
the WebSocket ticker sends."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from tron.domain.kite_api import HISTORICAL_MAX_DAYS
from tron.domain.models import Quote
from tron.domain.timeutil import IST, ist
from tron.sim.kite.catalog import Listed
from tron.sim.kite.engine import Level
from tron.sim.kite.market_view import circuit_limits, dec
from tron.sim.kite.order_book import OrderBook
from tron.sim.kite.protocol import (
    CSV,
    INTERVAL_MINUTES,
    OHLC_LTP_LIMIT,
    QUOTE_LIMIT,
    TS,
    Request,
    Response,
    fmt,
    input_error,
    parse_when,
)
from tron.sim.kite.venue import Venue
from tron.sim.market import EPOCH, MINUTES


class MarketRoutes:
    """Instruments, quotes and candles; quote depth shows what the day's orders took from the minute's book.
    Called under the simulator's lock, after the day was advanced to the clock."""

    def __init__(self, venue: Venue, book: OrderBook) -> None:
        self.venue = venue
        self.book = book

    # ------------------------------------------------------------------ instruments and quotes
    def instruments(self, req: Request, exchange: str | None = None) -> Response:
        """GET /instruments[/exchange]: the CSV dump."""
        cat = self.venue.catalog()
        if exchange is not None and exchange not in ("NSE", "NFO", "BSE", "BFO", "CDS", "MCX", "BCD"):
            raise input_error(f"Invalid exchange `{exchange}`.")
        return Response(200, CSV, cat.csv(exchange).encode())

    def _resolve(self, req: Request, limit: int) -> list[tuple[str, Listed]]:
        refs = req.params("i")
        if len(refs) > limit:
            raise input_error(
                f"Too many instruments. A maximum of {limit} instruments are allowed per request."
            )
        cat = self.venue.catalog()
        out = []
        for ref in refs:
            inst = cat.lookup(ref)
            if inst is not None:
                out.append((ref, inst))
        return out

    def _quote_parts(self, inst: Listed) -> tuple[Quote, date, int] | None:
        """The instrument's quote now, with the (day, minute) it is from; None without one."""
        d, j = self.venue.now_minute()
        q = self.venue.view.quote(d, j, inst.tradingsymbol)
        if q is None:
            return None
        return q, d, j

    def quote(self, req: Request) -> dict[str, Any]:
        """GET /quote: full quotes of up to 500 instruments (unknown ones are left out)."""
        out: dict[str, Any] = {}
        for ref, inst in self._resolve(req, QUOTE_LIMIT):
            item = self._quote_item(inst)
            if item is not None:
                out[ref] = item
        return out

    def _quote_item(self, inst: Listed) -> dict[str, Any] | None:
        """One instrument's full quote as Kite's /quote shows it (indices: price and OHLC only)."""
        now = self.venue.clock.now()
        parts = self._quote_parts(inst)
        if parts is None:
            return None
        q, d, j = parts
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
        book = self.venue.view.book(inst, d, j)
        assert book is not None
        taken = self.book.consumed.get(inst.instrument_token, {}) if d == self.book.day else {}
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
                "average_price": float(self.venue.view.vwap(d, j, inst.tradingsymbol)),
                "oi": 0,
                "oi_day_high": 0,
                "oi_day_low": 0,
                "lower_circuit_limit": float(lower),
                "upper_circuit_limit": float(upper),
                "depth": {"buy": buy, "sell": sell},
            }
        )
        return item

    def ohlc(self, req: Request) -> dict[str, Any]:
        """GET /quote/ohlc: last price and OHLC of up to 1000 instruments."""
        out = {}
        for ref, inst in self._resolve(req, OHLC_LTP_LIMIT):
            parts = self._quote_parts(inst)
            if parts is None:
                continue
            q = parts[0]
            out[ref] = {
                "instrument_token": inst.instrument_token,
                "last_price": q.last,
                "ohlc": {"open": q.open, "high": q.high, "low": q.low, "close": q.prev_close},
            }
        return out

    def ltp(self, req: Request) -> dict[str, Any]:
        """GET /quote/ltp: last prices of up to 1000 instruments."""
        out = {}
        for ref, inst in self._resolve(req, OHLC_LTP_LIMIT):
            parts = self._quote_parts(inst)
            if parts is not None:
                out[ref] = {"instrument_token": inst.instrument_token, "last_price": parts[0].last}
        return out

    # ------------------------------------------------------------------ historical
    def historical(self, req: Request, token: str, interval: str) -> dict[str, Any]:
        """GET /instruments/historical/{token}/{interval}: candles up to the clock (completed minutes), within
        Kite's days-per-request limit of the interval; `continuous=1` only with day candles (as Kite; the
        simulator serves the contract's own candles, it keeps no expired contracts to splice)."""
        if interval not in HISTORICAL_MAX_DAYS:
            raise input_error("invalid interval")
        if not token.isdigit():
            raise input_error("invalid token")
        inst = self.venue.catalog().by_token.get(int(token))
        if inst is None:
            raise input_error("invalid token")
        start = parse_when(req.param("from"), "from")
        end = parse_when(req.param("to"), "to")
        if end < start:
            raise input_error("invalid date range: `to` is before `from`")
        if (end.date() - start.date()).days > HISTORICAL_MAX_DAYS[interval]:
            raise input_error(f"interval exceeds max limit: {HISTORICAL_MAX_DAYS[interval]} days")
        if req.param("continuous") in ("1", "true") and interval != "day":
            # Kite splices expired futures into a continuous series for day candles only
            raise input_error("continuous data is available only for the day interval")
        with_oi = req.param("oi") in ("1", "true")
        now = self.venue.clock.now().astimezone(IST)
        end = min(end, now)
        view = self.venue.view
        candles: list[list[Any]] = []
        d = max(start.date(), EPOCH)
        while d <= end.date():
            if self.venue.calendar.is_trading_day(d):
                if interval == "day" and d < now.date():
                    whole = view.daily(d, inst.tradingsymbol)
                    if whole is not None:
                        bars = [(0, *whole[:4], whole[4])]
                        candles.extend(_aggregate(d, bars, interval, start, end, with_oi))
                else:
                    j = MINUTES if d < now.date() else view.session(now)[1]
                    bars = view.bars(d, j, inst.tradingsymbol) if j > 0 else []
                    candles.extend(_aggregate(d, bars, interval, start, end, with_oi))
            d += timedelta(days=1)
        return {"candles": candles}

    # ------------------------------------------------------------------ the WebSocket ticker
    def ticks(self, tokens: list[int]) -> dict[int, dict[str, Any]]:
        """Tick fields for the ticker's packets, at the clock's current minute (unknown tokens left out)."""
        cat = self.venue.catalog()
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
    levels: tuple[Level, ...], name: str, j: int, taken: dict[tuple[int, str, int], int]
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
