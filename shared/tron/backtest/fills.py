"""Fill models: at which price, and when, a backtest order fills.

An order is decided on snapshot k (the close of a bar). The models:

* ``next-open``: the open of the next bar (the bar that starts at snapshot k), ± slippage;
* ``close``: the close it was decided on (snapshot k's last price), ± slippage — optimistic, no delay;
* ``next-quote``: the ask (buy) or bid (sell) of the next snapshot that has a newer quote for the symbol,
  ± slippage — exactly what the paper broker (tron.adapters.paper) does, so a replay of recorded
  snapshots fills as the paper day did.

Slippage (:func:`slipped`) is in basis points against the trader.
"""

from __future__ import annotations

from decimal import Decimal

from tron.domain.models import Quote, Side
from tron.domain.money import dec, to_tick

FILL_MODELS = ("next-open", "close", "next-quote")


def check_model(name: str) -> str:
    """``name`` if it is one of ``FILL_MODELS``, else ValueError."""
    if name not in FILL_MODELS:
        raise ValueError(f"unknown fill model {name!r}; allowed: {', '.join(FILL_MODELS)}")
    return name


def slipped(raw: float, side: Side, slippage_bps: float, tick: Decimal) -> Decimal:
    """``raw`` moved ``slippage_bps`` against the trader (buys higher, sells lower), on the tick grid.

    Without slippage the price goes to the nearest tick (as the paper broker rounds); with it, to the next
    tick against the trader (so a small slippage is never rounded away). A negative slippage raises
    ValueError.
    """
    if slippage_bps < 0:
        raise ValueError(f"slippage must be ≥ 0 bps, got {slippage_bps}")
    if slippage_bps == 0:
        return to_tick(raw, tick)
    price = dec(raw) * (1 + side.sign * dec(slippage_bps) / Decimal(10_000))
    return to_tick(price, tick, up=side is Side.BUY)


def quote_price(quote: Quote, side: Side) -> float:
    """What a market order pays against a quote: the ask to buy, the bid to sell (the paper broker's rule)."""
    return quote.ask if side is Side.BUY else quote.bid
