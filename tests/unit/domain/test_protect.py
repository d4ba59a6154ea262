"""tron.domain.protect: the stop that rests at the broker for each open position, worked by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from decimal import Decimal as Dec

import pytest

from tron.domain.models import Asset, OrderIntent, Position, Purpose, RestingStop, Side
from tron.domain.order_rules import auto_protection_pct, sl_gap_limit
from tron.domain.protect import (
    crossed,
    protect_id,
    protect_intent,
    sl_limit,
    stop_order_type,
    stop_prices,
    tighter,
)
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)
FILLED_AT = ist(DAY, time(10, 1))
TICK = Dec("0.05")

# Triggers across every band edge of sl_gap_limit (₹50) and auto_protection_pct (₹10, ₹100, ₹500, ₹1000).
TRIGGERS = [
    "0.05", "0.10", "0.15", "1", "5", "9.95", "10", "10.05", "49.95", "50", "50.05", "99.95", "100",
    "100.05", "499.95", "500", "500.05", "999.95", "1000", "1000.05", "2500", "25000.35",
]  # fmt: skip


def entry(side: Side = Side.BUY, qty: int = 10, segment: str = "equity_intraday") -> OrderIntent:
    """An entry on A decided at 10:00 by orb, filled before FILLED_AT."""
    asset = Asset.OPTIONS if segment == "options" else Asset.STOCKS
    return OrderIntent(
        "20261123-stocks-orb-A-entry-1000",
        DAY,
        asset,
        "A",
        "NSE" if asset is Asset.STOCKS else "NFO",
        side,
        qty,
        Purpose.ENTRY,
        "orb",
        "breakout",
        ist(DAY, time(10, 0)),
        stop=95.0,
        segment=segment,
        product="MIS",
    )


def position(qty: int, stop: float | None, segment: str = "equity_intraday") -> Position:
    """A position in A opened at 100 by orb, with the given signed quantity and stop."""
    return Position("A", qty, Dec("100"), "orb", FILLED_AT.isoformat(), stop=stop, segment=segment)


def resting(trigger: float, order_type: str = "SL-M") -> RestingStop:
    """A stop the broker holds at ``trigger``."""
    return RestingStop("A-S1", "order-1", order_type, trigger, 10, FILLED_AT.isoformat())


# stop_order_type


def test_options_always_rest_an_sl_whatever_is_preferred() -> None:
    """Exchanges no longer take SL-M for options: an option's stop is an SL even when SL-M is preferred."""
    assert stop_order_type("options") == "SL"
    assert stop_order_type("options", "SL-M") == "SL"
    assert stop_order_type("options", "SL") == "SL"


@pytest.mark.parametrize("segment", ["equity_intraday", "futures"])
def test_other_segments_rest_the_preferred_stop(segment: str) -> None:
    """Stocks and futures rest the preferred type, SL-M by default."""
    assert stop_order_type(segment) == "SL-M"
    assert stop_order_type(segment, "SL-M") == "SL-M"
    assert stop_order_type(segment, "SL") == "SL"


@pytest.mark.parametrize("segment", ["equity_intraday", "options"])
@pytest.mark.parametrize("bad", ["MARKET", "LIMIT", "sl-m", ""])
def test_a_preferred_type_other_than_sl_m_or_sl_is_refused(segment: str, bad: str) -> None:
    """A bad setting raises, for options too (where it would otherwise be ignored)."""
    with pytest.raises(ValueError, match="SL-M or SL"):
        stop_order_type(segment, bad)


# sl_limit


def test_a_sell_stops_limit_sits_below_its_trigger_and_a_buy_stops_above() -> None:
    """Equity at 99.50: the 2% band (1.99) is inside the 3% gap (2.985); a sell limit is ceiled onto the
    grid (97.51 → 97.55), a buy limit floored (101.49 → 101.45), both inside the band."""
    assert sl_limit(Side.SELL, Dec("99.50"), TICK, is_option=False) == Dec("97.55")
    assert sl_limit(Side.BUY, Dec("99.50"), TICK, is_option=False) == Dec("101.45")


def test_the_limit_takes_the_smaller_of_the_exchange_gap_and_the_protection_band() -> None:
    """An option at 200: the band (2% = 4) is inside the 20% gap (40). An equity at 40: the band (2% =
    0.80) is inside the ₹1.5 gap."""
    assert sl_limit(Side.SELL, Dec("200"), TICK, is_option=True) == Dec("196")
    assert sl_limit(Side.BUY, Dec("200"), TICK, is_option=True) == Dec("204")
    assert sl_limit(Side.SELL, Dec("40"), TICK, is_option=False) == Dec("39.20")
    assert sl_limit(Side.BUY, Dec("40"), TICK, is_option=False) == Dec("40.80")


def test_the_limit_is_at_least_one_tick_beyond_the_trigger() -> None:
    """An option at 0.50: the 5% band (0.025) is under a tick, so the limit moves a whole tick."""
    assert sl_limit(Side.SELL, Dec("0.50"), TICK, is_option=True) == Dec("0.45")
    assert sl_limit(Side.BUY, Dec("0.50"), TICK, is_option=True) == Dec("0.55")


def test_a_sell_limit_never_goes_below_one_tick() -> None:
    """A sell stop at the smallest prices: its limit stops at one tick (0.05), never at 0 or below."""
    assert sl_limit(Side.SELL, Dec("0.10"), TICK, is_option=True) == TICK
    assert sl_limit(Side.SELL, Dec("0.05"), TICK, is_option=True) == TICK
    assert sl_limit(Side.SELL, Dec("0.05"), TICK, is_option=False) == TICK


@pytest.mark.parametrize("tick", [Dec("0.05"), Dec("0.01")])
@pytest.mark.parametrize("is_option", [False, True])
@pytest.mark.parametrize("side", [Side.SELL, Side.BUY])
def test_the_limit_is_on_the_grid_beyond_the_trigger_and_inside_both_bounds(
    side: Side, is_option: bool, tick: Dec
) -> None:
    """Across every band edge: on the tick grid, at least a tick beyond the trigger (a sell limit floored
    at one tick), and no further from it than the exchange's gap, the protection band or (when those are
    under a tick) one tick."""
    for text in TRIGGERS:
        trigger = Dec(text)
        limit = sl_limit(side, trigger, tick, is_option)
        allowed = max(
            min(sl_gap_limit(trigger, is_option), trigger * auto_protection_pct(trigger, is_option) / 100),
            tick,
        )
        assert limit % tick == 0, (text, limit)
        assert limit >= tick, (text, limit)
        if side is Side.SELL:
            assert limit <= trigger - tick or limit == tick, (text, limit)
            assert trigger - limit <= allowed, (text, limit)
        else:
            assert limit >= trigger + tick, (text, limit)
            assert limit - trigger <= allowed, (text, limit)


# stop_prices


def test_the_trigger_is_rounded_away_from_the_market() -> None:
    """A sell stop (below the market) is floored onto the grid, a buy stop (above it) ceiled."""
    assert stop_prices(Side.SELL, "SL-M", 99.57, TICK, "equity_intraday") == (99.55, None)
    assert stop_prices(Side.BUY, "SL-M", 99.52, TICK, "equity_intraday") == (99.55, None)


def test_a_trigger_already_on_the_grid_stays_put() -> None:
    """No binary noise: 99.55 as a float stays 99.55 either way."""
    assert stop_prices(Side.SELL, "SL-M", 99.55, TICK, "equity_intraday") == (99.55, None)
    assert stop_prices(Side.BUY, "SL-M", 99.55, TICK, "equity_intraday") == (99.55, None)


def test_an_sl_gets_the_limit_of_its_rounded_trigger_and_an_sl_m_none() -> None:
    """The limit is sl_limit of the trigger after rounding, with option bands for the options segment."""
    trigger, limit = stop_prices(Side.SELL, "SL", 99.57, TICK, "equity_intraday")
    assert (trigger, limit) == (99.55, float(sl_limit(Side.SELL, Dec("99.55"), TICK, is_option=False)))
    trigger, limit = stop_prices(Side.BUY, "SL", 200.02, TICK, "options")
    assert (trigger, limit) == (200.05, float(sl_limit(Side.BUY, Dec("200.05"), TICK, is_option=True)))
    assert limit == 204.05  # 2% of 200.05 = 4.001 → 204.051, floored onto the grid
    assert stop_prices(Side.BUY, "SL-M", 200.02, TICK, "futures")[1] is None


# protect_id


def test_the_protect_id_is_the_entry_id_plus_s_and_a_version() -> None:
    """Deterministic, so the protect order's broker tag is too; version 1 unless replaced."""
    assert protect_id("20261123-stocks-orb-A-entry-1000") == "20261123-stocks-orb-A-entry-1000-S1"
    assert protect_id("X", 3) == "X-S3"


# protect_intent


def test_a_long_is_protected_by_a_sell_stop_of_its_whole_quantity() -> None:
    """Long 10 with its stop at 95.03: a SELL SL-M of 10 triggering at 95.00 (floored), tagged PROTECT."""
    e = entry(Side.BUY, qty=10)
    p = protect_intent(e, position(10, 95.03), FILLED_AT)
    assert p is not None
    assert p.intent_id == "20261123-stocks-orb-A-entry-1000-S1"
    assert (p.side, p.qty, p.purpose) == (Side.SELL, 10, Purpose.PROTECT)
    assert (p.order_type, p.trigger, p.limit) == ("SL-M", 95.0, None)
    assert p.decided_at == FILLED_AT
    assert (p.day, p.asset, p.symbol, p.exchange, p.strategy) == (DAY, Asset.STOCKS, "A", "NSE", "orb")
    assert (p.segment, p.tick_size, p.product) == (e.segment, e.tick_size, e.product)
    assert p.reason == "stop 95.00 resting at the broker"


def test_a_short_is_protected_by_a_buy_stop_of_the_absolute_quantity() -> None:
    """Short 7 with its stop at 104.97: a BUY stop of 7 triggering at 105.00 (ceiled)."""
    p = protect_intent(entry(Side.SELL, qty=7), position(-7, 104.97), FILLED_AT)
    assert p is not None
    assert (p.side, p.qty, p.trigger) == (Side.BUY, 7, 105.0)


def test_the_protect_quantity_is_the_positions_not_the_entrys() -> None:
    """An entry of 10 that filled 4: the stop protects the 4 the book holds."""
    p = protect_intent(entry(Side.BUY, qty=10), position(4, 95.0), FILLED_AT)
    assert p is not None and p.qty == 4


def test_an_option_rests_an_sl_with_its_limit_even_when_sl_m_is_preferred() -> None:
    """Long an option at stop 80: SL triggering at 80, limit 3% below (77.60), on the entry's segment, tick and product."""
    e = replace(entry(Side.BUY, qty=50, segment="options"), product="NRML", tick_size=Dec("0.10"))
    p = protect_intent(e, position(50, 80.0, segment="options"), FILLED_AT, preferred="SL-M")
    assert p is not None
    assert (p.order_type, p.trigger, p.limit) == ("SL", 80.0, 77.6)
    assert (p.segment, p.tick_size, p.product, p.exchange) == ("options", Dec("0.10"), "NRML", "NFO")


def test_a_stock_rests_an_sl_when_it_is_preferred() -> None:
    """The stop_order setting SL: an equity SL with the equity limit."""
    p = protect_intent(entry(), position(10, 95.0), FILLED_AT, preferred="SL")
    assert p is not None
    assert (p.order_type, p.trigger, p.limit) == ("SL", 95.0, 93.1)  # 2% of 95 = 1.90


def test_a_replacement_protect_gets_the_next_version() -> None:
    """Version 2 after a cancel and replace: a different id, hence a different broker tag."""
    p = protect_intent(entry(), position(10, 95.0), FILLED_AT, version=2)
    assert p is not None and p.intent_id.endswith("-S2")


def test_no_protect_without_a_stop_or_without_a_position() -> None:
    """A position without a stop, or one already flat, rests nothing."""
    assert protect_intent(entry(), position(10, None), FILLED_AT) is None
    assert protect_intent(entry(), position(0, 95.0), FILLED_AT) is None


def test_no_protect_for_a_stop_below_one_tick() -> None:
    """A long whose stop (entry price less a wide distance) is zero or negative rests nothing: no price can
    trigger it and the exchange refuses it; TRON then checks that stop itself."""
    assert protect_intent(entry(), position(10, 0.02), FILLED_AT) is None
    assert protect_intent(entry(), position(10, -3.0), FILLED_AT) is None
    assert protect_intent(entry(), position(10, 0.05), FILLED_AT) is not None


def test_a_bad_preferred_type_raises_from_protect_intent() -> None:
    """The setting is checked where the intent is built, not silently replaced."""
    with pytest.raises(ValueError, match="SL-M or SL"):
        protect_intent(entry(), position(10, 95.0), FILLED_AT, preferred="MARKET")


# tighter


def test_a_long_trails_its_stop_up_only_by_a_tick_or_more() -> None:
    """Resting at 99.50: a wanted 99.57 floors to 99.55 (a tick up: move); 99.54 floors to 99.50 (no
    move); a lower one never loosens the stop."""
    long = position(10, 99.5)
    assert tighter(long, resting(99.5), 99.57, TICK) == 99.55
    assert tighter(long, resting(99.5), 101.0, TICK) == 101.0
    assert tighter(long, resting(99.5), 99.54, TICK) is None
    assert tighter(long, resting(99.5), 99.5, TICK) is None
    assert tighter(long, resting(99.5), 99.0, TICK) is None


def test_a_short_trails_its_stop_down_only_by_a_tick_or_more() -> None:
    """Resting at 101.50: a wanted 101.44 ceils to 101.45 (a tick down: move); 101.46 ceils to 101.50 (no
    move); a higher one never loosens the stop."""
    short = position(-10, 101.5)
    assert tighter(short, resting(101.5), 101.44, TICK) == 101.45
    assert tighter(short, resting(101.5), 100.0, TICK) == 100.0
    assert tighter(short, resting(101.5), 101.46, TICK) is None
    assert tighter(short, resting(101.5), 101.5, TICK) is None
    assert tighter(short, resting(101.5), 102.0, TICK) is None


def test_a_one_tick_move_survives_float_noise_at_large_prices() -> None:
    """1234.60 − 1234.55 is a hair under 0.05 in floats: still a tick."""
    assert tighter(position(10, 1234.55), resting(1234.55), 1234.6, TICK) == 1234.6
    assert tighter(position(-10, 1234.6), resting(1234.6), 1234.55, TICK) == 1234.55


# crossed


def test_a_sell_stop_is_crossed_once_the_last_price_is_at_or_below_it() -> None:
    """A long's stop at 99.50: last 99.50 or lower cannot be modified to, so the position exits at once."""
    assert crossed(Side.SELL, 99.5, 99.45)
    assert crossed(Side.SELL, 99.5, 99.5)
    assert not crossed(Side.SELL, 99.5, 99.55)


def test_a_buy_stop_is_crossed_once_the_last_price_is_at_or_above_it() -> None:
    """A short's stop at 101.50: last 101.50 or higher."""
    assert crossed(Side.BUY, 101.5, 101.55)
    assert crossed(Side.BUY, 101.5, 101.5)
    assert not crossed(Side.BUY, 101.5, 101.45)
