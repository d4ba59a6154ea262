"""Positions, holdings and margin rules of the simulated account.

Margins are a documented approximation of Zerodha's: equity MIS at 5× leverage (20% of notional), CNC at
100%, futures (MIS or NRML) at 12% of notional (SPAN + exposure, roughly), option buys the full premium,
option sells 12% of the underlying's notional. Cash available = opening balance + realised P&L + negative
unrealised M2M − margin utilised by positions and open orders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tron.sim.kite.catalog import Listed

PAISE = Decimal("0.01")


@dataclass(frozen=True)
class MarginRules:
    """The margin rates (see the module's note); `per_unit` is what one unit of exposure blocks."""

    mis_leverage: Decimal = Decimal(5)
    futures_pct: Decimal = Decimal("0.12")
    short_option_pct: Decimal = Decimal("0.12")

    def per_unit(
        self, inst: Listed, product: str, price: Decimal, underlying: Decimal, short: bool
    ) -> Decimal:
        """Margin one unit of exposure blocks."""
        if inst.is_future:
            return price * self.futures_pct
        if inst.is_option:
            return underlying * self.short_option_pct if short else price
        if product == "MIS":
            return price / self.mis_leverage
        return price


@dataclass
class AccountPosition:
    """One (instrument, product) position of the day: buys and sells, the open part at its average price,
    and the P&L realised by closing trades."""

    inst: Listed
    product: str
    buy_quantity: int = 0
    buy_value: Decimal = Decimal(0)
    sell_quantity: int = 0
    sell_value: Decimal = Decimal(0)
    overnight_quantity: int = 0
    last_price: Decimal = Decimal(0)
    close_price: Decimal = Decimal(0)
    # the open part of the position, for average price and realised P&L
    open_quantity: int = 0  # signed
    open_cost: Decimal = Decimal(0)  # open_quantity × average price
    realised: Decimal = Decimal(0)

    @property
    def quantity(self) -> int:
        return self.buy_quantity - self.sell_quantity

    def apply(self, side: str, qty: int, price: Decimal) -> None:
        signed = qty if side == "BUY" else -qty
        if side == "BUY":
            self.buy_quantity += qty
            self.buy_value += price * qty
        else:
            self.sell_quantity += qty
            self.sell_value += price * qty
        q = self.open_quantity
        if q == 0 or (q > 0) == (signed > 0):
            self.open_quantity += signed
            self.open_cost += price * signed
            return
        avg = self.open_cost / q
        closing = min(abs(q), qty)
        direction = 1 if q > 0 else -1
        self.realised += (price - avg) * closing * direction
        self.open_quantity += closing * (1 if signed > 0 else -1)
        self.open_cost = avg * self.open_quantity
        rest = qty - closing
        if rest:
            self.open_quantity += rest * (1 if signed > 0 else -1)
            self.open_cost += price * rest * (1 if signed > 0 else -1)

    def take_out(self, qty: int) -> Decimal:
        """Remove qty units of the open position (for a product conversion) at its average price; returns
        that price. The caller checks qty against the open quantity."""
        avg = self.average_price
        sign = 1 if self.open_quantity > 0 else -1
        if sign > 0:
            self.buy_quantity -= qty
            self.buy_value -= avg * qty
        else:
            self.sell_quantity -= qty
            self.sell_value -= avg * qty
        self.open_quantity -= sign * qty
        self.open_cost -= sign * avg * qty
        return avg

    @property
    def average_price(self) -> Decimal:
        if self.open_quantity == 0:
            return Decimal(0)
        return self.open_cost / self.open_quantity

    @property
    def pnl(self) -> Decimal:
        return (self.sell_value - self.buy_value) + self.quantity * self.last_price

    @property
    def unrealised(self) -> Decimal:
        return self.pnl - self.realised

    def to_kite(self) -> dict[str, Any]:
        buy_price = self.buy_value / self.buy_quantity if self.buy_quantity else Decimal(0)
        sell_price = self.sell_value / self.sell_quantity if self.sell_quantity else Decimal(0)
        value = self.sell_value - self.buy_value
        return {
            "tradingsymbol": self.inst.tradingsymbol,
            "exchange": self.inst.exchange,
            "instrument_token": self.inst.instrument_token,
            "product": self.product,
            "quantity": self.quantity,
            "overnight_quantity": self.overnight_quantity,
            "multiplier": 1,
            "average_price": _f(self.average_price),
            "close_price": _f(self.close_price),
            "last_price": _f(self.last_price),
            "value": _f(value),
            "pnl": _f(self.pnl),
            "m2m": _f(self.pnl),
            "unrealised": _f(self.unrealised),
            "realised": _f(self.realised),
            "buy_quantity": self.buy_quantity,
            "buy_price": _f(buy_price),
            "buy_value": _f(self.buy_value),
            "buy_m2m": _f(self.buy_value),
            "sell_quantity": self.sell_quantity,
            "sell_price": _f(sell_price),
            "sell_value": _f(self.sell_value),
            "sell_m2m": _f(self.sell_value),
            "day_buy_quantity": self.buy_quantity,
            "day_buy_price": _f(buy_price),
            "day_buy_value": _f(self.buy_value),
            "day_sell_quantity": self.sell_quantity,
            "day_sell_price": _f(sell_price),
            "day_sell_value": _f(self.sell_value),
        }


@dataclass
class Holding:
    """Shares held in delivery (CNC bought on an earlier day): how many and what they cost in all."""

    inst: Listed
    quantity: int = 0
    cost: Decimal = Decimal(0)


class Portfolio:
    """The account's money and what it holds: the opening balance, the day's positions by (exchange,
    tradingsymbol, product), and delivery holdings by tradingsymbol."""

    def __init__(self, capital: Decimal) -> None:
        self.capital = capital
        self.charges = Decimal(0)  # debited by the broker today (the auto square-off's ₹50 + GST an order)
        self.positions: dict[tuple[str, str, str], AccountPosition] = {}
        self.holdings: dict[str, Holding] = {}

    def position(self, inst: Listed, product: str) -> AccountPosition:
        """The instrument's position in a product, opened empty if there is none yet."""
        key = (inst.exchange, inst.tradingsymbol, product)
        p = self.positions.get(key)
        if p is None:
            p = self.positions[key] = AccountPosition(inst, product)
        return p


def _f(d: Decimal) -> float:
    return float(d.quantize(PAISE))
