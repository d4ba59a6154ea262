"""Zerodha charges as a dated table (NSE rates), rounded as Zerodha's calculator rounds:
STT to the rupee, everything else to paise.

Sources: Zerodha's brokerage page and calculator, NSE transaction-charge circulars (Oct 2024), and the
Finance Act 2026 STT change on F&O (from 2026-04-01). A change is a new row with its effective date."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal

from tron.domain.models import Side
from tron.domain.money import ZERO, dec, paise, rupees

SEGMENTS = ("equity_intraday", "equity_delivery", "futures", "options")


@dataclass(frozen=True)
class Rates:
    """One segment's charge rates from one date: fractions of the order value unless named otherwise."""

    brokerage_pct: Decimal  # of the order's turnover, capped at brokerage_cap (0 = free)
    brokerage_cap: Decimal
    brokerage_flat: Decimal  # per executed order (options), used when > 0
    stt_buy: Decimal
    stt_sell: Decimal
    transaction: Decimal  # NSE exchange transaction charge incl. IPFT
    sebi_per_crore: Decimal
    stamp_buy: Decimal
    gst: Decimal


def _r(bp: str, cap: str, flat: str, stt_b: str, stt_s: str, txn: str, stamp: str) -> Rates:
    return Rates(
        dec(bp), dec(cap), dec(flat), dec(stt_b), dec(stt_s), dec(txn), dec("10"), dec(stamp), dec("0.18")
    )


# segment → [(effective from, rates)], oldest first.
TABLE: dict[str, list[tuple[date, Rates]]] = {
    "equity_intraday": [
        (date(2024, 10, 1), _r("0.0003", "20", "0", "0", "0.00025", "0.0000307", "0.00003")),
    ],
    "equity_delivery": [
        (date(2024, 10, 1), _r("0", "0", "0", "0.001", "0.001", "0.0000307", "0.00015")),
    ],
    "futures": [
        (date(2024, 10, 1), _r("0.0003", "20", "0", "0", "0.0002", "0.0000183", "0.00002")),
        (date(2026, 4, 1), _r("0.0003", "20", "0", "0", "0.0005", "0.0000183", "0.00002")),
    ],
    "options": [
        (date(2024, 10, 1), _r("0", "0", "20", "0", "0.001", "0.0003553", "0.00003")),
        (date(2026, 4, 1), _r("0", "0", "20", "0", "0.0015", "0.0003553", "0.00003")),
    ],
}


def rates_on(segment: str, on: date) -> Rates:
    """The segment's rates in force on a date (the latest row effective by then); ValueError for an
    unknown segment or a date before the table."""
    if segment not in TABLE:
        raise ValueError(f"unknown segment {segment!r}; allowed: {', '.join(SEGMENTS)}")
    rows = [r for start, r in TABLE[segment] if start <= on]
    if not rows:
        raise ValueError(f"no {segment} charges known before {TABLE[segment][0][0]} (asked for {on})")
    return rows[-1]


@dataclass(frozen=True)
class Charges:
    """The charges of an order or a round trip, component by component, rounded as Zerodha rounds."""

    turnover: Decimal
    brokerage: Decimal
    stt: Decimal
    transaction: Decimal
    sebi: Decimal
    stamp_duty: Decimal
    gst: Decimal

    @property
    def total(self) -> Decimal:
        """Every charge added up (turnover excluded)."""
        return self.brokerage + self.stt + self.transaction + self.sebi + self.stamp_duty + self.gst

    def as_dict(self) -> dict[str, str]:
        """Every component and the total as strings."""
        d = {k: str(v) for k, v in asdict(self).items()}
        d["total"] = str(self.total)
        return d


def _brokerage(r: Rates, turnover: Decimal) -> Decimal:
    if r.brokerage_flat > 0:
        return r.brokerage_flat if turnover > 0 else ZERO
    return min(turnover * r.brokerage_pct, r.brokerage_cap)


def _assemble(r: Rates, buy_value: Decimal, sell_value: Decimal, brokerage: Decimal) -> Charges:
    turnover = buy_value + sell_value
    brokerage = paise(brokerage)
    transaction = paise(turnover * r.transaction)
    sebi = paise(turnover * r.sebi_per_crore / Decimal(10_000_000))
    return Charges(
        turnover=paise(turnover),
        brokerage=brokerage,
        stt=rupees(buy_value * r.stt_buy + sell_value * r.stt_sell),
        transaction=transaction,
        sebi=sebi,
        stamp_duty=paise(buy_value * r.stamp_buy),
        gst=paise((brokerage + transaction + sebi) * r.gst),
    )


AUTO_SQUARE_OFF_FEE = Decimal("59.00")  # Zerodha's ₹50 + 18% GST per order it squares off (ADMINSQF)


def order_charges(segment: str, side: Side, price: Decimal, qty: int, on: date) -> Charges:
    """Charges of one executed order (what the ledger books per fill)."""
    r = rates_on(segment, on)
    value = price * qty
    buy, sell = (value, ZERO) if side is Side.BUY else (ZERO, value)
    return _assemble(r, buy, sell, _brokerage(r, value))


def trade_charges(segment: str, buy: Decimal, sell: Decimal, qty: int, on: date) -> Charges:
    """Charges of a round trip (a buy order and a sell order of qty), as Zerodha's calculator shows them."""
    r = rates_on(segment, on)
    bv, sv = buy * qty, sell * qty
    return _assemble(r, bv, sv, _brokerage(r, bv) + _brokerage(r, sv))
