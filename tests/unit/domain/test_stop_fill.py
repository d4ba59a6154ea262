"""The one stop-fill model: where a resting SL-M or SL fills inside a bar, worked by hand."""

from __future__ import annotations

from decimal import Decimal as Dec

import pytest

from tron.domain.stop_fill import Bar, StopOrder, StopSlippage, stop_outcome, triggered_at

TICK = Dec("0.05")


def bar(o: str, h: str, lo: str, c: str) -> Bar:
    return Bar(Dec(o), Dec(h), Dec(lo), Dec(c))


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
