"""The account's margin arithmetic at the clock's minute: last prices, margin blocked by positions and working
orders, P&L, and the cash available for a new order."""

from __future__ import annotations

from decimal import Decimal

from tron.domain.span import MarginLeg, implied_vol_or
from tron.sim.derivatives import RATE, days_to_expiry
from tron.sim.kite.catalog import INDEX_SYMBOL, Listed
from tron.sim.kite.market_view import dec
from tron.sim.kite.order_book import OrderBook
from tron.sim.kite.portfolio import MarginRules, Portfolio
from tron.sim.kite.venue import Venue


class Margins:
    """Reads the portfolio and the working orders; only `pnl` writes (it marks positions to the last price)."""

    def __init__(self, venue: Venue, rules: MarginRules, portfolio: Portfolio, book: OrderBook) -> None:
        self.venue = venue
        self.rules = rules
        self.portfolio = portfolio
        self.book = book

    def ltp(self, inst: Listed) -> Decimal:
        """The instrument's last price now (0 when it has no quote)."""
        d, j = self.venue.now_minute()
        q = self.venue.view.quote(d, j, inst.tradingsymbol)
        return dec(q.last) if q is not None else Decimal(0)

    def underlying_ltp(self, inst: Listed) -> Decimal:
        """A derivative's underlying's last price now (0 for equities or without a quote)."""
        if not inst.is_derivative:
            return Decimal(0)
        d, j = self.venue.now_minute()
        q = self.venue.view.quote(d, j, inst.underlying or INDEX_SYMBOL)
        return dec(q.last) if q is not None else Decimal(0)

    def margin_leg(self, inst: Listed, side: str, qty: int, price: Decimal) -> MarginLeg | None:
        """An order as a leg of `tron.domain.span.basket_margin`: days to the 15:30 expiry at the quote's
        minute, an option's implied vol from its last price against the underlying's (a NIFTY-like constant
        when that cannot be inverted). None for an equity or a derivative without an underlying quote."""
        spot = float(self.underlying_ltp(inst))
        if not inst.is_derivative or inst.expiry is None or spot <= 0:
            return None
        d, j = self.venue.now_minute()
        days = max(days_to_expiry(self.venue.minute_ts(d, j), inst.expiry), 0.0)
        signed = qty if side == "BUY" else -qty
        if not inst.is_option:
            return MarginLeg("FUT", 0.0, days, signed, float(price))
        strike, kind = float(inst.strike), inst.instrument_type
        vol = implied_vol_or(kind, spot, strike, days, RATE, float(self.ltp(inst)))
        return MarginLeg(kind, strike, days, signed, float(price), vol)

    def exposure_margin(self, inst: Listed, product: str, signed_qty: int, price: Decimal) -> Decimal:
        """Margin a signed quantity of the instrument blocks at a price."""
        if signed_qty == 0:
            return Decimal(0)
        unit = self.rules.per_unit(inst, product, price, self.underlying_ltp(inst), signed_qty < 0)
        return unit * abs(signed_qty)

    def utilised(self) -> Decimal:
        """Margin blocked by positions and by the position-increasing part of working orders."""
        total = Decimal(0)
        keys = set(self.portfolio.positions) | {
            (o.exchange, o.tradingsymbol, o.product) for o in self.book.orders.values() if o.working
        }
        cat = self.venue.catalog()
        for key in keys:
            inst = cat.by_key.get(f"{key[0]}:{key[1]}")
            if inst is None:
                continue
            total += self.instrument_margin(inst, key[2])
        return total

    def instrument_margin(
        self, inst: Listed, product: str, extra: tuple[str, int, Decimal] | None = None
    ) -> Decimal:
        """Margin of the instrument's position in a product if every working order filled, on its worse side;
        `extra` (side, quantity, price) adds a new order to it."""
        pos = self.portfolio.positions.get((inst.exchange, inst.tradingsymbol, product))
        q = pos.quantity if pos else 0
        ltp = self.ltp(inst)
        longs, shorts = q, q  # the position if every working buy / every working sell filled
        for o in self.book.orders.values():
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
            self.exposure_margin(inst, product, longs, price if longs > 0 else ltp),
            self.exposure_margin(inst, product, shorts, price if shorts < 0 else ltp),
        )

    def pnl(self) -> tuple[Decimal, Decimal]:
        """(realised, unrealised) across positions, marking each to its last price."""
        realised = unrealised = Decimal(0)
        for p in self.portfolio.positions.values():
            p.last_price = self.ltp(p.inst)
            realised += p.realised
            unrealised += p.unrealised
        return realised, unrealised

    def mtm_and_margin(self) -> tuple[Decimal, Decimal]:
        """The day's marked-to-market P&L (realised and unrealised) and the margin in use."""
        realised, unrealised = self.pnl()
        return realised + unrealised, self.utilised()

    def available(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(net available, utilised, realised, unrealised)."""
        utilised = self.utilised()
        realised, unrealised = self.pnl()
        net = self.portfolio.capital + realised + min(unrealised, Decimal(0)) - utilised
        return net, utilised, realised, unrealised
