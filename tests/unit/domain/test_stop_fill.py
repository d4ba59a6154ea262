"""The one stop-fill model: where a resting SL-M or SL fills inside a bar, worked by hand."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal as Dec

import pytest

from tron.domain.models import Candle
from tron.domain.stop_fill import (
    NOT_TRIGGERED,
    Bar,
    StopOrder,
    StopOutcome,
    StopSlippage,
    first_fill,
    half_spread,
    reaches,
    stop_outcome,
    triggered_at,
)
from tron.domain.timeutil import ist

TICK = Dec("0.05")
NINE_FIFTEEN = ist(date(2026, 11, 23), time(9, 15))


def bar(o: str, h: str, lo: str, c: str) -> Bar:
    return Bar(Dec(o), Dec(h), Dec(lo), Dec(c))


def minute(i: int) -> datetime:
    """The IST start of the session's i-th minute (0 is 09:15)."""
    return NINE_FIFTEEN + timedelta(minutes=i)


def candles(*ohlc: tuple[float, float, float, float]) -> list[Candle]:
    """One-minute candles from 09:15 on, oldest first."""
    return [Candle(minute(i), o, h, lo, c, 100) for i, (o, h, lo, c) in enumerate(ohlc)]


def test_the_path_takes_the_nearer_extreme_first() -> None:
    assert bar("100", "102", "99", "101").path() == (Dec(100), Dec(99), Dec(102), Dec(101))  # closed up
    assert bar("100", "102", "99", "99.5").path() == (Dec(100), Dec(102), Dec(99), Dec("99.5"))


def test_a_stop_triggers_at_the_first_price_through_it_not_at_the_close() -> None:
    # a long's stop at 99.50: the bar dips to 99 and closes back at 101 (a snapshot would see 101)
    assert triggered_at("SELL", Dec("99.50"), bar("100", "102", "99", "101")) == (Dec("99.50"), 1)
    assert triggered_at("SELL", Dec("98.50"), bar("100", "102", "99", "101")) is None
    # gapped through: the open is below the stop
    assert triggered_at("SELL", Dec("99.50"), bar("98", "100", "97.5", "99")) == (Dec(98), 1)
    # a short's stop: mirror
    assert triggered_at("BUY", Dec("101.50"), bar("100", "102", "99", "101")) == (Dec("101.50"), 2)


def test_an_slm_fills_near_the_trigger_against_the_stop_by_the_slippage() -> None:
    stop = StopOrder("SELL", "SL-M", Dec("99.50"))
    out = stop_outcome(stop, bar("100", "102", "99", "101"), TICK, half_spread=Dec("0.05"))
    # slippage: max(1 tick 0.05, half spread 0.05, 2 bps of 99.50 = 0.0199) = 0.05, floored onto the grid
    assert out.triggered and out.at == Dec("99.50") and out.price == Dec("99.45")
    wide = stop_outcome(
        stop, bar("100", "102", "99", "101"), TICK, Dec("0.05"), StopSlippage(ticks=1, bps=Dec(30))
    )
    assert wide.price == Dec("99.20")  # 30 bps of 99.50 = 0.2985 → 99.2015, floored to 99.20
    gap = stop_outcome(stop, bar("98", "100", "97.5", "99"), TICK, half_spread=Dec("0.05"))
    assert gap.at == Dec(98) and gap.price == Dec("97.95")  # a gap fills near the open
    short = stop_outcome(StopOrder("BUY", "SL-M", Dec("101.50")), bar("100", "102", "99", "101"), TICK)
    assert short.price == Dec("101.55")


def test_an_slm_never_fills_beyond_its_market_protection() -> None:
    stop = StopOrder("SELL", "SL-M", Dec("99.50"), protection_pct=Dec("0.1"))
    out = stop_outcome(stop, bar("100", "102", "99", "101"), TICK, Dec("0.05"), StopSlippage(bps=Dec(50)))
    assert out.price == Dec("99.45")  # 0.1% below 99.50 is 99.4005: the band's first tick is 99.45, not 99.00


def test_an_sl_fills_at_its_limit_or_better_only_if_the_bar_trades_there() -> None:
    stop = StopOrder("SELL", "SL", Dec("99.50"), limit=Dec("99.30"))
    out = stop_outcome(stop, bar("100", "102", "99", "101"), TICK, half_spread=Dec("0.05"))
    assert out.price == Dec("99.45")  # marketable when it triggered: near the trigger, not below the limit
    gapped = stop_outcome(stop, bar("98", "98.50", "97", "97.20"), TICK)
    assert gapped.triggered and not gapped.filled  # opened below the limit and never came back: it rests
    back = stop_outcome(stop, bar("98", "99.60", "97.50", "99.40"), TICK)
    assert back.price == Dec("99.30")  # opened below the limit, traded back up to it: filled at the limit
    with pytest.raises(ValueError, match="limit"):
        stop_outcome(StopOrder("SELL", "SL", Dec("99.50")), bar("100", "102", "99", "101"), TICK)


def test_an_untouched_stop_does_nothing() -> None:
    out = stop_outcome(StopOrder("SELL", "SL-M", Dec("95")), bar("100", "102", "99", "101"), TICK)
    assert not out.triggered and out.price is None


# Bar.of and half_spread: a candle's and a quote's floats as the stop model's Decimals


def test_a_bar_takes_a_candles_floats_rounded_to_paise() -> None:
    """Binary noise (0.1 + 0.2, 99.2999…) is rounded off to 2 dp, as Kite's candles show the prices."""
    b = Bar.of(Candle(minute(0), 100.1 + 0.2, 101.23999999, 99.2999999, 100.004, 5))
    assert b == Bar(Dec("100.30"), Dec("101.24"), Dec("99.30"), Dec("100.00"))
    assert all(isinstance(x, Dec) and x == x.quantize(Dec("0.01")) for x in (b.open, b.high, b.low, b.close))
    assert Bar.of(Candle(minute(0), 99.5, 99.55, 99.45, 99.5)) == bar("99.50", "99.55", "99.45", "99.50")


@pytest.mark.parametrize(
    ("bid", "ask", "half"),
    [
        (100.0, 100.1, "0.05"),  # 100.1 − 100.0 is 0.0999… in floats
        (99.95, 100.05, "0.05"),
        (250.1, 250.35, "0.125"),  # half a paise amount need not be whole paise
        (99.0, 100.0, "0.5"),
        (100.0, 100.0, "0"),
    ],
)
def test_half_spread_is_half_the_quotes_spread_without_float_noise(bid: float, ask: float, half: str) -> None:
    """Half of (ask − bid), the difference rounded to paise first."""
    assert half_spread(bid, ask) == Dec(half)


# first_fill: a resting stop walked through the minute candles since it reached the broker


def test_no_candles_leave_the_stop_untriggered_and_name_no_candle() -> None:
    """Nothing to walk (a list or an exhausted iterator): not triggered, no deciding candle."""
    stop = StopOrder("SELL", "SL-M", Dec("99.50"))
    assert first_fill(stop, [], TICK) == (NOT_TRIGGERED, None)
    assert first_fill(stop, iter(()), TICK) == (NOT_TRIGGERED, None)


def test_candles_that_never_reach_the_trigger_leave_it_untriggered() -> None:
    """A long's stop at 99.50 under two minutes that stay above 99.55."""
    stop = StopOrder("SELL", "SL-M", Dec("99.50"))
    out, candle = first_fill(stop, candles((100, 101, 99.55, 100.5), (100.5, 101, 99.8, 99.9)), TICK)
    assert (out, candle) == (NOT_TRIGGERED, None)
    assert not out.triggered and not out.filled


def test_the_first_candle_that_fills_an_slm_decides_it() -> None:
    """The 09:16 candle dips through 99.50 and fills it (near the trigger, a tick of slippage); the 09:17
    one, which dips further, is never looked at."""
    cs = candles((100, 101, 99.8, 100.5), (100.5, 101, 99, 100.8), (100.8, 101, 97, 97.5))
    out, candle = first_fill(StopOrder("SELL", "SL-M", Dec("99.50")), cs, TICK)
    assert out == StopOutcome(True, Dec("99.45"), Dec("99.50"))
    assert candle is cs[1]


def test_a_short_slm_fills_in_the_first_candle_that_rises_through_it() -> None:
    """A short's BUY stop at 101.50: the 09:16 candle trades up to 102 and fills it a tick above."""
    cs = candles((100, 101.45, 99.8, 101), (101, 102, 100.9, 101.8), (101.8, 105, 101.7, 104))
    out, candle = first_fill(StopOrder("BUY", "SL-M", Dec("101.50")), cs, TICK)
    assert out == StopOutcome(True, Dec("101.55"), Dec("101.50"))
    assert candle is cs[1]


def test_a_gap_through_an_slm_fills_near_the_open() -> None:
    """A long's stop at 99.50 and a 09:16 open at 98: it triggers at the open and fills a tick under it;
    a short's at 101.50 and an open at 103: a tick over it."""
    out, candle = first_fill(
        StopOrder("SELL", "SL-M", Dec("99.50")), candles((100, 100.5, 99.8, 100), (98, 99, 97.5, 98.5)), TICK
    )
    assert out == StopOutcome(True, Dec("97.95"), Dec("98")) and candle is not None
    assert candle.start == minute(1)
    out, _ = first_fill(StopOrder("BUY", "SL-M", Dec("101.50")), candles((103, 103.5, 102.6, 103.2)), TICK)
    assert out == StopOutcome(True, Dec("103.05"), Dec("103"))


def test_a_gap_slms_slippage_is_bounded_by_its_market_protection() -> None:
    """5% slippage off a gapped open is capped by the automatic band: 2% up to ₹100 stops a sell at 96.05 (98
    less 2% is 96.04, ceiled onto the grid), 1% above ₹100 a buy at 104.00 (103 plus 1% is 104.03, floored);
    an explicit 1% protection stops the sell at 97.05."""
    wild = StopSlippage(ticks=1, bps=Dec(500))
    gap_down = candles((98, 99, 97.5, 98.5))
    out, _ = first_fill(StopOrder("SELL", "SL-M", Dec("99.50")), gap_down, TICK, slippage=wild)
    assert out.price == Dec("96.05")
    out, _ = first_fill(
        StopOrder("BUY", "SL-M", Dec("101.50")), candles((103, 104, 102.6, 103.5)), TICK, slippage=wild
    )
    assert out.price == Dec("104.00")
    one_pct = StopOrder("SELL", "SL-M", Dec("99.50"), protection_pct=Dec(1))
    out, _ = first_fill(one_pct, gap_down, TICK, slippage=wild)
    assert out.price == Dec("97.05")


def test_the_half_spread_widens_an_slms_slippage() -> None:
    """A half spread of 0.25 beats a tick and 2 bps: the stop at 99.50 fills at 99.25."""
    cs = candles((100, 101, 99, 100.8))
    out, _ = first_fill(
        StopOrder("SELL", "SL-M", Dec("99.50")), cs, TICK, half_spread=half_spread(99.9, 100.4)
    )
    assert out.price == Dec("99.25")


SELL_SL = StopOrder("SELL", "SL", Dec("99.50"), limit=Dec("99.30"))
BUY_SL = StopOrder("BUY", "SL", Dec("101.50"), limit=Dec("101.70"))


def test_an_sl_gapped_through_its_limit_rests_and_names_the_triggering_candle() -> None:
    """A long's SL (trigger 99.50, limit 99.30) and a 09:16 open at 98 that never trades back to 99.30:
    triggered, unfilled, decided by the 09:16 candle, even with later candles that stay under the limit."""
    cs = candles((100, 100.5, 99.8, 100), (98, 98.5, 97, 97.2), (97.2, 99.25, 97, 99.2))
    out, candle = first_fill(SELL_SL, cs, TICK)
    assert out.triggered and not out.filled and out.price is None
    assert candle is cs[1]


def test_a_resting_sell_sl_fills_at_its_limit_in_the_first_later_candle_that_reaches_it() -> None:
    """Triggered at 09:15 (open 98), under the limit at 09:16, back up through 99.30 to 99.80 at 09:17:
    filled at the limit 99.30 (not at the better high), decided by the 09:17 candle."""
    cs = candles(
        (98, 98.5, 97, 97.2), (97.5, 98.9, 97.2, 98.8), (98.9, 99.8, 98.8, 99.6), (99.6, 100, 99.5, 100)
    )
    out, candle = first_fill(SELL_SL, cs, TICK)
    assert out.triggered and out.price == Dec("99.30")
    assert candle is cs[2]


def test_a_resting_buy_sl_fills_at_its_limit_in_the_first_later_candle_that_reaches_it() -> None:
    """A short's SL (trigger 101.50, limit 101.70): a 09:15 open at 102 rests it; 09:16 holds above the
    limit; 09:17 trades down to 101.60 and fills it at 101.70."""
    cs = candles((102, 102.5, 101.9, 102.2), (102.2, 102.4, 101.8, 101.9), (101.9, 102, 101.6, 101.8))
    rests, at = first_fill(BUY_SL, cs[:2], TICK)
    assert rests.triggered and not rests.filled and at is cs[0]
    out, candle = first_fill(BUY_SL, cs, TICK)
    assert out.triggered and out.price == Dec("101.70")
    assert candle is cs[2]


def test_a_limit_reached_to_the_paisa_through_float_noise_fills() -> None:
    """A later candle whose high is 99.2999999 in floats is 99.30 on Kite: the resting limit fills."""
    cs = candles((98, 98.5, 97, 97.2), (97.5, 99.2999999, 97.2, 98.8))
    out, candle = first_fill(SELL_SL, cs, TICK)
    assert out.price == Dec("99.30") and candle is cs[1]


def test_an_sl_triggered_earlier_fills_at_its_limit_in_the_first_candle_reaching_it() -> None:
    """Passed triggered=True (it triggered in an earlier look): a candle that never reaches the trigger
    again still fills the resting limit once it trades at 99.30 or above."""
    cs = candles((97, 99.1, 96.8, 99), (99, 100.5, 99.6, 100.2), (100.2, 101, 100, 100.5))
    out, candle = first_fill(SELL_SL, cs, TICK, triggered=True)
    assert out == StopOutcome(True, Dec("99.30")) and candle is cs[1]
    out, candle = first_fill(BUY_SL, candles((103, 103.5, 101.7, 102)), TICK, triggered=True)
    assert out == StopOutcome(True, Dec("101.70")) and candle is not None


def test_an_sl_triggered_earlier_that_no_candle_reaches_stays_triggered_without_a_candle() -> None:
    """Still resting: triggered, unfilled, and no candle decided it in this look (none, or none reaching)."""
    assert first_fill(SELL_SL, [], TICK, triggered=True) == (StopOutcome(True), None)
    out, candle = first_fill(SELL_SL, candles((97, 99.25, 96.8, 99)), TICK, triggered=True)
    assert (out, candle) == (StopOutcome(True), None)


def test_the_quick_look_on_floats_agrees_with_the_exact_walk() -> None:
    """reaches (floats, what the backtester asks first) is False exactly when no candle's path triggers the
    stop in Decimal (triggered_at on Bar.of): prices near and on the trigger, off the tick grid, unrounded."""
    import random

    rng = random.Random(18)
    for _ in range(3000):
        base = rng.choice([0.05, 1.0, 99.95, 100.0, 1234.5, 24150.05])
        step = rng.choice([0.01, 0.05, 0.004999, 0.005, 0.0050001, 1e-9])
        o, h, lo, c = (base + step * rng.randint(-3, 3) for _ in range(4))
        trigger = rng.choice(
            [base, base + step * rng.randint(-3, 3), round(base + rng.uniform(-0.2, 0.2), 2)]
        )
        side = rng.choice(["BUY", "SELL"])
        one = candles((o, max(o, h, lo, c), min(o, h, lo, c), c), (c, h, lo, o))
        exact = any(triggered_at(side, Dec(repr(trigger)), Bar.of(x)) is not None for x in one)
        assert reaches(side, trigger, one) is exact, (side, trigger, one)
