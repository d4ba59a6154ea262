"""tron.domain.book: round trips long and short reconcile; an entry's stop and target move with its fill."""

from __future__ import annotations

from decimal import Decimal

from tests.support.domain import stock_intent
from tron.domain.book import Book
from tron.domain.models import Purpose, Side


def test_book_round_trip_reconciles() -> None:
    b = Book()
    b.apply_fill(stock_intent(Side.BUY, 10, Purpose.ENTRY), 10, Decimal("100.05"), Decimal("1.50"), "t")
    assert b.positions["A"].qty == 10
    realized = b.apply_fill(
        stock_intent(Side.SELL, 10, Purpose.EXIT), 10, Decimal("102.00"), Decimal("2.25"), "t"
    )
    assert realized == Decimal("19.50") and not b.positions
    assert b.trades == 1 and b.wins == 1
    assert b.net == b.cash - b.charges == Decimal("15.75")
    assert Book.from_doc(b.to_doc()).to_doc() == b.to_doc()


def test_book_short_round_trip() -> None:
    b = Book()
    b.apply_fill(stock_intent(Side.SELL, 5, Purpose.ENTRY), 5, Decimal("200"), Decimal("1"), "t")
    assert b.positions["A"].qty == -5
    assert b.apply_fill(
        stock_intent(Side.BUY, 5, Purpose.EXIT), 5, Decimal("201"), Decimal("1"), "t"
    ) == Decimal("-5.00")
    assert b.wins == 0 and b.net == Decimal("-7")


def test_an_entrys_stop_and_target_move_with_its_fill() -> None:
    """Decided at 100 (stop 95, target 110), filled a snapshot later at 101.37: the stop is 5 below the fill
    and the target 9 above it, on the tick grid rounded towards the fill; the loss at the stop is the one
    the governor approved, however far the fill moved."""
    from dataclasses import replace

    long = replace(stock_intent(Side.BUY, 10, Purpose.ENTRY), price=100.0)
    b = Book()
    b.apply_fill(long, 10, Decimal("101.37"), Decimal("0"), "t")
    assert (b.positions["A"].stop, b.positions["A"].target) == (96.40, 111.35)
    short = replace(stock_intent(Side.SELL, 10, Purpose.ENTRY), price=100.0, stop=105.0, target=90.0)
    b = Book()
    b.apply_fill(short, 10, Decimal("99.12"), Decimal("0"), "t")
    assert (b.positions["A"].stop, b.positions["A"].target) == (104.10, 89.15)
    b = Book()  # an intent without its decided price keeps its levels
    b.apply_fill(stock_intent(Side.BUY, 10, Purpose.ENTRY), 10, Decimal("101.37"), Decimal("0"), "t")
    assert (b.positions["A"].stop, b.positions["A"].target) == (95.0, 110.0)
