"""Kite's margin calculator and the account's funds (:class:`KiteMargins`): read before a structure enters,
so the broker's own figure, hedges counted, decides whether the account can carry it."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from tron.adapters.kite.session import KiteSession
from tron.domain.money import dec, paise
from tron.domain.structures import PlannedLeg
from tron.ports import BrokerUnavailable


class KiteMargins:
    """``basket`` asks POST /margins/basket (``consider_positions``); ``available`` reads the equity
    segment's net from GET /user/margins. A malformed answer is BrokerUnavailable: the caller falls back to
    its own estimate, never to a guess."""

    def __init__(self, session: KiteSession) -> None:
        self.session = session

    def basket(self, legs: list[PlannedLeg]) -> Decimal:
        orders = [
            {
                "exchange": p.inst.exchange,
                "tradingsymbol": p.inst.symbol,
                "transaction_type": p.side.value,
                "variety": "regular",
                "product": "MIS",
                "order_type": "MARKET",
                "quantity": p.qty,
                "price": 0,
                "trigger_price": 0,
            }
            for p in legs
        ]
        data = self.session.call(
            "other",
            "basket_order_margins",
            lambda c: c.basket_order_margins(orders, consider_positions=True, mode="compact"),
        )
        return _amount(data, ("initial", "total"), "basket margin")

    def available(self) -> Decimal:
        data = self.session.call("other", "margins", lambda c: c.margins("equity"))
        return _amount(data, ("net",), "available margin")


def _amount(data: Any, keys: tuple[str, ...], what: str) -> Decimal:
    value = data
    for k in keys:
        value = value.get(k) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise BrokerUnavailable(f"Kite's {what} answer is malformed: {'.'.join(keys)} = {value!r}")
    return paise(dec(value))
