"""One model of how a resting stop fills, shared by paper, the backtester, replays and the Kite simulator's
exchange, so that they agree with each other (and, once calibrated on a live smoke day, with Kite).

A bar is walked as open → low → high → close when it closed up (open → high → low → close when it closed
down): the nearer extreme first. A stop triggers at the first price of that path at or through its
trigger (the open itself when the bar gapped through it). An SL-M then fills near that price, against the
stop, by the larger of k ticks, half the spread and x basis points, never beyond its market protection. An
SL (stop-limit) fills at its limit or better only if the path trades there after the trigger; otherwise it
rests OPEN as a limit order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tron.domain.models import Candle
from tron.domain.money import dec
from tron.domain.order_rules import auto_protection_pct, on_tick, protection_price


@dataclass(frozen=True)
class Bar:
    """A minute's prices as the stop sees them."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    @staticmethod
    def of(candle: Candle) -> Bar:
        """A candle's prices, in paise (as Kite's candles and the simulator's bars show them)."""
        return Bar(*(dec(round(x, 2)) for x in (candle.open, candle.high, candle.low, candle.close)))

    def path(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """The order the bar's prices are taken to have traded in: the nearer extreme first."""
        if self.close >= self.open:
            return self.open, self.low, self.high, self.close
        return self.open, self.high, self.low, self.close


@dataclass(frozen=True)
class StopSlippage:
    """How far beyond its trigger a triggered SL-M fills: the largest of `ticks` ticks, half the spread and
    `bps` basis points of the price (to be calibrated against a live smoke day)."""

    ticks: int = 1
    bps: Decimal = Decimal("2")

    def amount(self, price: Decimal, tick: Decimal, half_spread: Decimal) -> Decimal:
        return max(tick * self.ticks, half_spread, price * self.bps / 10000)


def half_spread(bid: float, ask: float) -> Decimal:
    """Half a quote's spread, in paise (what a triggered SL-M pays at least, besides ticks and bps)."""
    return dec(round(ask - bid, 2)) / 2


@dataclass(frozen=True)
class StopOrder:
    """A resting stop: side BUY covers a short, SELL protects a long; order_type SL-M or SL (with limit)."""

    side: str
    order_type: str
    trigger: Decimal
    limit: Decimal | None = None  # SL only
    protection_pct: Decimal = Decimal(-1)  # SL-M: Kite's market protection, -1 automatic
    is_option: bool = False


@dataclass(frozen=True)
class StopOutcome:
    """What a bar did to a resting stop: not triggered, triggered and filled at `price`, or triggered with
    its limit not reached (an SL now resting as a limit order)."""

    triggered: bool
    price: Decimal | None = None
    at: Decimal | None = None  # the price at which it triggered

    @property
    def filled(self) -> bool:
        return self.price is not None


NOT_TRIGGERED = StopOutcome(False)


def triggered_at(side: str, trigger: Decimal, bar: Bar) -> tuple[Decimal, int] | None:
    """The first price of the bar's path at or through the trigger (the open when it gapped) and the index
    of the path's next point after it, or None."""
    path = bar.path()
    through = (lambda p: p >= trigger) if side == "BUY" else (lambda p: p <= trigger)
    if through(path[0]):
        return path[0], 1
    for i in range(1, len(path)):
        if through(path[i]):
            return trigger, i
    return None


def reaches(side: str, trigger: float, candles: Iterable[Candle]) -> bool:
    """Whether any candle's path comes to a stop's trigger (:func:`triggered_at`): checked on floats, as a
    quick look before the exact walk. Exact: a price and a trigger compare as floats as their shortest
    decimals (what :func:`tron.domain.money.dec` makes of them) compare, so False means no candle triggers."""
    if side == "BUY":
        return any(
            max(round(c.open, 2), round(c.high, 2), round(c.low, 2), round(c.close, 2)) >= trigger
            for c in candles
        )
    return any(
        min(round(c.open, 2), round(c.high, 2), round(c.low, 2), round(c.close, 2)) <= trigger
        for c in candles
    )


def stop_outcome(
    stop: StopOrder,
    bar: Bar,
    tick: Decimal,
    half_spread: Decimal = Decimal(0),
    slippage: StopSlippage | None = None,
) -> StopOutcome:
    """What this bar does to the resting stop (see the module docstring for the model)."""
    hit = triggered_at(stop.side, stop.trigger, bar)
    if hit is None:
        return NOT_TRIGGERED
    at, nxt = hit
    sign = 1 if stop.side == "BUY" else -1
    if stop.order_type == "SL-M":
        slip = (slippage or StopSlippage()).amount(at, tick, half_spread)
        raw = on_tick(at + sign * slip, tick, ROUND_CEILING if sign > 0 else ROUND_FLOOR)
        pct = stop.protection_pct if stop.protection_pct >= 0 else auto_protection_pct(at, stop.is_option)
        bound = protection_price(stop.side, at, pct, tick)
        return StopOutcome(True, min(raw, bound) if sign > 0 else max(raw, bound), at)
    if stop.limit is None:
        raise ValueError("an SL order needs its limit price")
    limit = stop.limit
    marketable = (lambda p: p <= limit) if stop.side == "BUY" else (lambda p: p >= limit)
    if marketable(at):
        slip = (slippage or StopSlippage()).amount(at, tick, half_spread)
        raw = on_tick(at + sign * slip, tick, ROUND_CEILING if sign > 0 else ROUND_FLOOR)
        return StopOutcome(True, min(raw, limit) if sign > 0 else max(raw, limit), at)
    if any(marketable(p) for p in bar.path()[nxt:]):
        return StopOutcome(True, limit, at)
    return StopOutcome(True, None, at)


def first_fill(
    stop: StopOrder,
    candles: Iterable[Candle],
    tick: Decimal,
    half_spread: Decimal = Decimal(0),
    slippage: StopSlippage | None = None,
    triggered: bool = False,
) -> tuple[StopOutcome, Candle | None]:
    """A resting stop walked through the candles (oldest first, each already active for it): the outcome
    and the candle that decided it — the first that fills it, else the one that triggered an SL which rests
    unfilled (``triggered`` says it already had), else not triggered and None. An SL resting after its
    trigger fills at its limit in the first later candle that trades there."""
    limit = stop.limit
    decided: Candle | None = None
    for candle in candles:
        bar = Bar.of(candle)
        if triggered:
            assert limit is not None
            reached = bar.high >= limit if stop.side == "SELL" else bar.low <= limit
            if reached:
                return StopOutcome(True, limit), candle
            continue
        outcome = stop_outcome(stop, bar, tick, half_spread, slippage)
        if outcome.filled:
            return outcome, candle
        if outcome.triggered:
            triggered, decided = True, candle
    return (StopOutcome(True) if triggered else NOT_TRIGGERED), decided
