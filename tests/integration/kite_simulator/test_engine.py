"""The matching engine's pure functions: level order, shared minute liquidity, protection prices."""

from __future__ import annotations

from decimal import Decimal


def test_engine_fills_levels_in_price_order_and_shares_a_minute_of_liquidity() -> None:
    from tron.sim.kite import engine

    book = engine.build_book(
        key="NSE:X",
        minute=5,
        bid=Decimal("99.95"),
        ask=Decimal("100.05"),
        last=Decimal("100"),
        tick=Decimal("0.05"),
        lot=1,
        notional=Decimal("10000"),
    )
    assert [lv.price for lv in book.asks] == [Decimal("100.05") + Decimal("0.05") * k for k in range(5)]
    consumed: dict = {}
    fills = engine.take("BUY", 10_000, Decimal("100.15"), book, consumed, resting=False)
    assert [f.price for f in fills] == [Decimal("100.05"), Decimal("100.10"), Decimal("100.15")]
    assert [f.quantity for f in fills] == [lv.quantity for lv in book.asks[:3]]
    assert (
        engine.take("BUY", 10, Decimal("100.15"), book, consumed, resting=False) == []
    )  # used up this minute
    # a resting buy limit also fills at its own price when the minute traded through it
    through = engine.Depth(
        6, book.bids, book.asks, Decimal("100"), bar_low=Decimal("99.50"), bar_high=Decimal("100.2")
    )
    fills = engine.take("BUY", 5, Decimal("99.80"), through, {}, resting=True)
    assert fills == [engine.Execution(Decimal("99.80"), 5)]
    assert engine.take("BUY", 5, Decimal("99.80"), through, {}, resting=False) == []
