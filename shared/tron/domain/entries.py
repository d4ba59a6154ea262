"""Entries: what to trade on a signal (the signal's own instrument, or for options the call or put the
contract rules pick, its stop mapped from the underlying to the premium by the option's delta), and where
its stop and target go."""

from __future__ import annotations

from dataclasses import dataclass

from tron.domain.context import TickContext
from tron.domain.contracts import days_to_expiry, implied_vol, option_delta, pick_option
from tron.domain.models import Asset, Instrument, Side
from tron.domain.strategies import Signal

STOP_ATR = 2.0
TARGET_ATR = 3.0
# A 1-minute ATR is tiny: the stop is at least this % of price (for options: of the underlying, then
# mapped to the premium by the option's delta). The ATR stored on the position (for the trailing stop) is
# then the stop distance / STOP_ATR. Stocks move more than the index, so their floor is wider.
MIN_STOP_PCT = {Asset.STOCKS: 0.4, Asset.FUTURES: 0.1, Asset.OPTIONS: 0.1}
MIN_PREMIUM_STOP = 0.5  # rupees: an option stop is at least this far (ten ticks)
MAX_PREMIUM_STOP_SHARE = 0.5  # and at most half the premium
MIN_PREMIUM = 2.0  # rupees: cheaper options are not bought (no room for a stop)


@dataclass(frozen=True)
class Entry:
    """A signal turned into something to buy or sell: the instrument, its price, stop distance and view."""

    inst: Instrument
    side: Side
    price: float
    dist: float
    direction: int = 0
    note: str = ""


def entry_for(ctx: TickContext, sig: Signal) -> Entry | str | None:
    """What to trade on a signal (None: not this asset's signal; a string: why it cannot be traded).

    Stocks and futures trade the signal's own instrument. Options buy a call on a bullish signal of the
    underlying and a put on a bearish one, at the strike the contract rules pick; the stop distance on the
    underlying is mapped to the premium by the option's delta."""
    floor = MIN_STOP_PCT[ctx.asset] / 100 * sig.price
    dist = max(STOP_ATR * sig.atr, floor)
    if ctx.asset is not Asset.OPTIONS:
        inst = ctx.instruments.get(sig.symbol)
        if inst is None or inst.segment == "index":  # an index is followed, not traded
            return None
        return Entry(inst, sig.side, sig.price, dist)
    if sig.symbol != ctx.underlying:
        return None
    assert ctx.snapshot is not None
    spot_q = ctx.snapshot.quotes.get(ctx.spot_symbol or "")
    if spot_q is None:
        return f"no quote for the index {ctx.spot_symbol}"
    spot = spot_q.last
    kind = "CE" if sig.side is Side.BUY else "PE"
    chain = [i for i in ctx.instruments.values() if i.option_type == kind and i.strike]
    if not chain:
        return f"no {kind} listed"
    expiry = chain[0].expiry
    assert expiry is not None
    days = days_to_expiry(ctx.now, expiry)
    atm = min(chain, key=lambda i: abs((i.strike or 0) - spot))
    atm_q = ctx.snapshot.quotes.get(atm.symbol)
    vol = implied_vol(kind, spot, atm.strike or spot, days, atm_q.last) if atm_q else 0.15
    inst = pick_option(chain, kind, spot, ctx.contract, days, vol)
    if inst is None:
        return f"the {ctx.contract.strike} {kind} strike is not listed around spot {spot:.2f}"
    q = ctx.snapshot.quotes.get(inst.symbol)
    if q is None or q.last <= 0:
        return f"no quote for {inst.symbol}"
    if q.last < MIN_PREMIUM:
        return f"{inst.symbol} premium {q.last:.2f} below ₹{MIN_PREMIUM:g}: too little to place a stop under"
    d = abs(option_delta(kind, spot, inst.strike or spot, days, vol))
    prem_dist = min(max(d * dist, MIN_PREMIUM_STOP), MAX_PREMIUM_STOP_SHARE * q.last)
    note = f"{kind} {inst.strike:g} (delta {d:.2f}, IV {vol:.1%}) on {sig.symbol} {sig.side}: {sig.reason}"
    return Entry(inst, Side.BUY, q.last, prem_dist, 1 if kind == "CE" else -1, note)
