"""The simulator's instrument master: what `GET /instruments` serves and what every other route looks up.

Built from the market generator's own instruments (so the simulator trades exactly the universe `tron
run-day` plans on): NSE equities, the NIFTY 50 index (segment INDICES, Kite's real token 256265) and, when the
market offers them, NFO NIFTY futures and options. Expiry, strike and type come from the Instrument when it
carries them, else from Kite's tradingsymbol grammar (NIFTY26NOVFUT, NIFTY26NOV25000CE, NIFTY26D0125000PE).
Instrument tokens follow Kite's scheme: the exchange token (the generator's token) shifted left a byte with
the segment code (NSE 1, NFO 2, indices 9) in the low byte."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from tron.domain import expiries
from tron.domain.calendar import TradingCalendar
from tron.domain.kite_api import DUMP_COLUMNS
from tron.domain.models import Asset, Instrument

INDEX_SYMBOL = "NIFTY 50"
INDEX_EXCHANGE_TOKEN = 1001
INDEX_TOKEN = 256265  # Kite's instrument_token for NSE:NIFTY 50 (1001 << 8 | 9)

# Exchange freeze quantities (max units per order) for index derivatives; NSE revises them monthly, so this is
# a dated fallback the simulator applies to every NIFTY contract.
FREEZE_QTY = {"NIFTY": 1800}


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_WEEK_MONTH = {**{str(i): i for i in range(1, 10)}, "O": 10, "N": 11, "D": 12}
_FUT = re.compile(r"^(?P<u>[A-Z]+)(?P<yy>\d{2})(?P<mon>[A-Z]{3})FUT$")
_MONTHLY_OPT = re.compile(r"^(?P<u>[A-Z]+)(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<k>\d+(?:\.\d+)?)(?P<t>CE|PE)$")
_WEEKLY_OPT = re.compile(
    r"^(?P<u>[A-Z]+)(?P<yy>\d{2})(?P<m>[1-9OND])(?P<dd>\d{2})(?P<k>\d+(?:\.\d+)?)(?P<t>CE|PE)$"
)


@dataclass(frozen=True)
class Listed:
    """One row of the instruments dump plus what the simulator needs to trade it."""

    instrument_token: int
    exchange_token: int
    tradingsymbol: str
    name: str
    expiry: date | None
    strike: Decimal
    tick_size: Decimal
    lot_size: int
    instrument_type: str  # EQ | FUT | CE | PE
    segment: str  # NSE | INDICES | NFO-FUT | NFO-OPT
    exchange: str  # NSE | NFO
    underlying: str = ""  # F&O: the underlying's market symbol ("NIFTY 50")
    freeze_qty: int | None = None

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.tradingsymbol}"

    @property
    def is_index(self) -> bool:
        return self.segment == "INDICES"

    @property
    def is_option(self) -> bool:
        return self.instrument_type in ("CE", "PE")

    @property
    def is_future(self) -> bool:
        return self.instrument_type == "FUT"

    @property
    def is_derivative(self) -> bool:
        return self.exchange == "NFO"


def _parse_derivative(symbol: str, calendar: TradingCalendar) -> tuple[str, date, Decimal, str]:
    """(underlying, expiry, strike, instrument_type) from a Kite F&O tradingsymbol; ValueError if not one."""
    m = _FUT.match(symbol)
    if m:
        y, mon = 2000 + int(m["yy"]), _MONTHS[m["mon"]]
        return m["u"], expiries.monthly_expiry(m["u"], y, mon, calendar), Decimal(0), "FUT"
    m = _MONTHLY_OPT.match(symbol)
    if m and m["mon"] in _MONTHS:
        y, mon = 2000 + int(m["yy"]), _MONTHS[m["mon"]]
        return m["u"], expiries.monthly_expiry(m["u"], y, mon, calendar), Decimal(m["k"]), m["t"]
    m = _WEEKLY_OPT.match(symbol)
    if m:
        d = date(2000 + int(m["yy"]), _WEEK_MONTH[m["m"]], int(m["dd"]))
        return m["u"], d, Decimal(m["k"]), m["t"]
    raise ValueError(f"not a Kite F&O tradingsymbol: {symbol!r}")


def _derivative(inst: Instrument, calendar: TradingCalendar) -> Listed:
    carried_expiry = getattr(inst, "expiry", None)
    carried_strike = getattr(inst, "strike", None)
    carried_type = getattr(inst, "instrument_type", None) or getattr(inst, "option_type", None)
    underlying = getattr(inst, "underlying", None) or getattr(inst, "name", None)
    try:
        u, exp, strike, itype = _parse_derivative(inst.symbol, calendar)
    except ValueError:
        if carried_expiry is None or carried_type is None:
            raise
        u, exp, strike, itype = str(underlying or "NIFTY"), carried_expiry, Decimal(0), str(carried_type)
    if carried_expiry is not None:
        exp = carried_expiry
    if carried_strike is not None:
        strike = Decimal(str(carried_strike))
    if carried_type in ("FUT", "CE", "PE"):
        itype = str(carried_type)
    exchange_token = inst.token or _exchange_token(inst.symbol)
    return Listed(
        instrument_token=kite_token(exchange_token, "NFO"),
        exchange_token=exchange_token,
        tradingsymbol=inst.symbol,
        name=u,
        expiry=exp,
        strike=strike,
        tick_size=inst.tick_size,
        lot_size=inst.lot_size,
        instrument_type=itype,
        segment="NFO-FUT" if itype == "FUT" else "NFO-OPT",
        exchange="NFO",
        underlying=INDEX_SYMBOL if u == "NIFTY" else u,
        freeze_qty=FREEZE_QTY.get(u),
    )


SEGMENT_CODE = {"NSE": 1, "NFO": 2, "INDICES": 9}  # the low byte of a Kite instrument token


def kite_token(exchange_token: int, segment: str) -> int:
    """Kite's instrument_token: the exchange token shifted left a byte, the segment code in the low byte
    (the ticker reads the segment from it to choose the price divisor and mark indices non-tradable)."""
    return (exchange_token << 8) | SEGMENT_CODE[segment]


def _exchange_token(symbol: str) -> int:
    import zlib

    return zlib.crc32(symbol.encode()) % 10_000_000


class Catalog:
    """Instruments by key ("NSE:INFY"), by token, and as Kite's CSV dump."""

    def __init__(self, rows: Iterable[Listed]) -> None:
        self.rows: list[Listed] = []
        self.by_key: dict[str, Listed] = {}
        self.by_token: dict[int, Listed] = {}
        for r in rows:
            if r.key in self.by_key:
                continue
            self.rows.append(r)
            self.by_key[r.key] = r
            self.by_token[r.instrument_token] = r

    @staticmethod
    def from_market(market: Any, calendar: TradingCalendar) -> Catalog:
        """Equities, the index, and whatever futures and options the market generator lists today."""
        rows: list[Listed] = []
        for inst in market.instruments(Asset.STOCKS):
            rows.append(
                Listed(
                    instrument_token=kite_token(inst.token, "NSE"),
                    exchange_token=inst.token,
                    tradingsymbol=inst.symbol,
                    name=inst.symbol,
                    expiry=None,
                    strike=Decimal(0),
                    tick_size=inst.tick_size,
                    lot_size=inst.lot_size,
                    instrument_type="EQ",
                    segment="NSE",
                    exchange="NSE",
                )
            )
        rows.append(
            Listed(
                instrument_token=INDEX_TOKEN,
                exchange_token=INDEX_EXCHANGE_TOKEN,
                tradingsymbol=INDEX_SYMBOL,
                name=INDEX_SYMBOL,
                expiry=None,
                strike=Decimal(0),
                tick_size=Decimal(0),
                lot_size=0,
                instrument_type="EQ",
                segment="INDICES",
                exchange="NSE",
            )
        )
        for asset in (Asset.FUTURES, Asset.OPTIONS):
            for inst in market.instruments(asset):
                rows.append(_derivative(inst, calendar))
        return Catalog(rows)

    def lookup(self, ref: str) -> Listed | None:
        """An instrument from "EXCHANGE:SYMBOL" or a numeric instrument token."""
        if ref.isdigit():
            return self.by_token.get(int(ref))
        return self.by_key.get(ref)

    def csv(self, exchange: str | None = None, last_price: dict[str, float] | None = None) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(DUMP_COLUMNS)
        last_price = last_price or {}
        for r in self.rows:
            if exchange is not None and r.exchange != exchange:
                continue
            w.writerow(
                (
                    r.instrument_token,
                    r.exchange_token,
                    r.tradingsymbol,
                    r.name,
                    last_price.get(r.key, 0.0),
                    r.expiry.isoformat() if r.expiry else "",
                    _num(r.strike),
                    _num(r.tick_size),
                    r.lot_size,
                    r.instrument_type,
                    r.segment,
                    r.exchange,
                )
            )
        return out.getvalue()


def _num(d: Decimal) -> str:
    return str(float(d))  # Kite's dump writes 25000.0, 0.05, 0.0
