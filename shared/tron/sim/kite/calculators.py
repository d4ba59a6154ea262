"""The margin and charges calculators: POST /margins/orders, /margins/basket and /charges/orders (a
virtual contract note from the dated charges table).

A basket's derivatives are margined together per underlying by `tron.domain.span.basket_margin` (SPAN-like
scenarios plus exposure margin, so hedges count); its equities and any derivative without an underlying
quote keep their own order margins, added on. The basket's `initial` and `final` are the same: existing
positions are not considered (`consider_positions` is ignored)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from tron.domain.charges import order_charges
from tron.domain.models import Side
from tron.domain.span import MarginLeg, basket_margin
from tron.sim.derivatives import RATE
from tron.sim.kite.catalog import Listed
from tron.sim.kite.margins import Margins
from tron.sim.kite.protocol import Request, as_float, input_error
from tron.sim.kite.venue import Venue


class CalculatorRoutes:
    """The calculators read prices and margin rules only; they change nothing in the account."""

    def __init__(self, venue: Venue, margins: Margins) -> None:
        self.venue = venue
        self.margins = margins

    def _json_orders(self, req: Request) -> list[tuple[dict[str, Any], Listed]]:
        body = req.json_body
        if not isinstance(body, list) or not body:
            raise input_error("Expected a JSON list of orders.")
        cat = self.venue.catalog()
        out = []
        for i, item in enumerate(body):
            if not isinstance(item, dict):
                raise input_error(f"Order {i} is not a JSON object.")
            for name in ("exchange", "tradingsymbol", "transaction_type", "quantity", "product"):
                if item.get(name) in (None, ""):
                    raise input_error(f"Order {i}: missing `{name}`.")
            inst = cat.by_key.get(f"{item['exchange']}:{item['tradingsymbol']}")
            if inst is None:
                raise input_error(
                    f"Order {i}: unknown instrument {item['exchange']}:{item['tradingsymbol']}."
                )
            if item["transaction_type"] not in ("BUY", "SELL"):
                raise input_error(f"Order {i}: invalid `transaction_type`.")
            try:
                qty = int(item["quantity"])
            except (TypeError, ValueError):
                raise input_error(f"Order {i}: invalid `quantity`.") from None
            if qty <= 0:
                raise input_error(f"Order {i}: invalid `quantity`.")
            out.append(({**item, "quantity": qty}, inst))
        return out

    def _charges(self, item: dict[str, Any], inst: Listed, price: Decimal) -> dict[str, Any]:
        if inst.is_option:
            segment = "options"
        elif inst.is_future:
            segment = "futures"
        else:
            segment = "equity_delivery" if item["product"] == "CNC" else "equity_intraday"
        c = order_charges(
            segment, Side(item["transaction_type"]), price, item["quantity"], self.venue.now_minute()[0]
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
                    raise input_error(f"Invalid `{name}`.") from None
        return self.margins.ltp(inst)

    def _margin_row(self, item: dict[str, Any], inst: Listed) -> dict[str, Any]:
        price = self._price_of(item, inst)
        short = item["transaction_type"] == "SELL"
        rules = self.margins.rules
        margin = (
            rules.per_unit(inst, item["product"], price, self.margins.underlying_ltp(inst), short)
            * item["quantity"]
        )
        premium = price * item["quantity"] if inst.is_option and not short else Decimal(0)
        span = margin if inst.is_derivative and not premium else Decimal(0)
        var = margin if not inst.is_derivative else Decimal(0)
        return {
            "type": "equity",
            "tradingsymbol": inst.tradingsymbol,
            "exchange": inst.exchange,
            "span": as_float(span),
            "exposure": 0,
            "option_premium": as_float(premium),
            "additional": 0,
            "bo": 0,
            "cash": 0,
            "var": as_float(var),
            "pnl": {"realised": 0, "unrealised": 0},
            "leverage": float(rules.mis_leverage)
            if item["product"] == "MIS" and not inst.is_derivative
            else 1,
            "charges": self._charges(item, inst, price),
            "total": as_float(margin),
        }

    def order_margins(self, req: Request) -> list[dict[str, Any]]:
        """POST /margins/orders: each order's margin and charges."""
        return [self._margin_row(item, inst) for item, inst in self._json_orders(req)]

    def basket_margins(self, req: Request) -> dict[str, Any]:
        """POST /margins/basket: each order's own margin, and the basket's with the hedge benefit."""
        orders = self._json_orders(req)
        rows = [self._margin_row(item, inst) for item, inst in orders]
        parts = dict.fromkeys(("span", "exposure", "option_premium", "var"), Decimal(0))
        legs: dict[str, tuple[Decimal, list[MarginLeg]]] = {}
        for i, ((item, inst), row) in enumerate(zip(orders, rows, strict=True)):
            price = self._price_of(item, inst)
            try:
                leg = self.margins.margin_leg(inst, item["transaction_type"], item["quantity"], price)
            except ValueError as e:  # a negative or NaN price
                raise input_error(f"Order {i}: {e}.") from None
            if leg is None:
                for name in parts:
                    parts[name] += Decimal(str(row[name]))
                continue
            spot = self.margins.underlying_ltp(inst)
            legs.setdefault(inst.underlying or inst.name, (spot, []))[1].append(leg)
        for spot, group in legs.values():
            m = basket_margin(group, float(spot), RATE)
            parts["span"] += m.span
            parts["exposure"] += m.exposure
            parts["option_premium"] += m.premium
        charges = _sum_charges([r["charges"] for r in rows])
        margin = {
            "type": "",
            "tradingsymbol": "",
            "exchange": "",
            **{name: as_float(v) for name, v in parts.items()},
            "additional": 0,
            "bo": 0,
            "cash": 0,
            "pnl": {"realised": 0, "unrealised": 0},
            "leverage": 0,
            "charges": charges,
            "total": as_float(sum(parts.values(), Decimal(0))),
        }
        return {"initial": margin, "final": dict(margin), "orders": rows, "charges": charges}

    def contract_note(self, req: Request) -> list[dict[str, Any]]:
        """POST /charges/orders: a virtual contract note, each order's charges from the dated table."""
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


def _sum_charges(charges: list[dict[str, Any]]) -> dict[str, Any]:
    """The orders' charges added up field by field (GST's parts too)."""
    out: dict[str, Any] = {}
    for c in charges:
        for name, v in c.items():
            if isinstance(v, dict):
                out[name] = {k: round(out.get(name, {}).get(k, 0) + x, 2) for k, x in v.items()}
            elif isinstance(v, int | float):
                out[name] = round(out.get(name, 0) + v, 2)
            else:
                out[name] = v
    return out
