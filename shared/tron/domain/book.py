"""The book of one asset for one day: positions, realised P&L, charges and counters (:class:`Book`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from tron.domain.models import OrderIntent, Position, RestingStop, Side
from tron.domain.money import ZERO, dec, paise, to_tick


@dataclass
class Book:
    """One asset's day: open positions by symbol, realised P&L, charges, cash flow and counters.

    Updated only by the executor (in a transaction), read by the tick. Cash flow is kept independently of
    realised P&L so the ledger can be reconciled: net P&L = Σ fill cash flows − charges once everything is
    flat. ``processed`` lists the intents that reached a terminal state.
    """

    positions: dict[str, Position] = field(default_factory=dict)
    realized: Decimal = ZERO  # gross, on closed quantity
    charges: Decimal = ZERO
    cash: Decimal = ZERO  # Σ sell value − Σ buy value
    orders_filled: int = 0
    orders_rejected: int = 0
    trades: int = 0  # round trips closed
    wins: int = 0
    entries: int = 0
    entries_by_symbol: dict[str, int] = field(default_factory=dict)
    processed: list[str] = field(default_factory=list)  # intents that reached a terminal state
    duplicates_ignored: int = 0
    # intents placed ambiguously, whose tag is looked up again for a second order at the broker:
    # intent id → {"tag", "order_id" (the one booked), "until" (ISO time), "handled" (extra order ids)}
    verify: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def net(self) -> Decimal:
        """Realised gross P&L minus charges."""
        return self.realized - self.charges

    def unrealized(self, marks: dict[str, float]) -> Decimal:
        """Open P&L of the positions at ``marks`` (symbol → price), in paise; unmarked positions count 0."""
        total = ZERO
        for s, p in self.positions.items():
            if s in marks:
                total += (dec(marks[s]) - p.avg_price) * p.qty
        return paise(total)

    def record_rejection(self, intent_id: str) -> None:
        """Count a rejected order and mark its intent processed."""
        self.orders_rejected += 1
        self.processed.append(intent_id)

    def apply_fill(self, intent: OrderIntent, qty: int, price: Decimal, charges: Decimal, at: str) -> Decimal:
        """Book a fill of ``qty`` at ``price`` with its ``charges``; returns the gross P&L it realised.

        A fill on the position's side (or on a flat symbol) opens or adds: the average price is the
        quantity-weighted mean, and the stop and target become the intent's, moved with the fill
        (:func:`anchored`). A fill against the position realises P&L on the quantity it closes; one that
        goes through zero opens the rest at the fill price. A position back at zero counts a trade (a win if
        its net P&L is positive) and is removed. Entries are counted per day and per symbol.
        """
        signed = qty * intent.side.sign
        self.cash += -signed * price
        self.charges += charges
        self.orders_filled += 1
        self.processed.append(intent.intent_id)
        pos = self.positions.get(intent.symbol)
        realized = ZERO
        if pos is None:
            pos = Position(
                intent.symbol,
                0,
                ZERO,
                intent.strategy,
                at,
                exchange=intent.exchange,
                segment=intent.segment,
                tick_size=str(intent.tick_size),
            )
            self.positions[intent.symbol] = pos
        if intent.purpose.opens:
            self.entries += 1
            self.entries_by_symbol[intent.symbol] = self.entries_by_symbol.get(intent.symbol, 0) + 1
        if pos.qty == 0 or (pos.qty > 0) == (signed > 0):
            new_qty = pos.qty + signed
            pos.avg_price = (
                paise((pos.avg_price * abs(pos.qty) + price * qty) / abs(new_qty)) if new_qty else ZERO
            )
            pos.qty = new_qty
            pos.stop, pos.target = anchored(intent, price)
            pos.atr = intent.atr
            pos.strategy = intent.strategy
        else:
            closing = min(qty, abs(pos.qty))
            realized = paise((price - pos.avg_price) * closing * (1 if pos.qty > 0 else -1))
            pos.qty += signed
            if abs(signed) > closing:  # reversed through zero: the rest opens at the fill price
                pos.avg_price = price
        self.realized += realized
        pos.gross += realized
        pos.charges += charges
        if pos.qty == 0:
            self.trades += 1
            if pos.gross - pos.charges > 0:
                self.wins += 1
            del self.positions[intent.symbol]
        return realized

    # ------------------------------------------------------------------ storage
    def to_doc(self) -> dict[str, Any]:
        """The stored form: money as strings, plus ``net`` for readers of the document."""
        return {
            "positions": {s: _position_doc(p) for s, p in self.positions.items()},
            "realized": str(self.realized),
            "charges": str(self.charges),
            "cash": str(self.cash),
            "net": str(self.net),
            "orders_filled": self.orders_filled,
            "orders_rejected": self.orders_rejected,
            "trades": self.trades,
            "wins": self.wins,
            "entries": self.entries,
            "entries_by_symbol": self.entries_by_symbol,
            "processed": self.processed,
            "duplicates_ignored": self.duplicates_ignored,
            "verify": self.verify,
        }

    @staticmethod
    def from_doc(d: dict[str, Any] | None) -> Book:
        """The book a :meth:`to_doc` stored; an empty book for None or an empty document."""
        if not d:
            return Book()
        positions = {}
        for s, p in d.get("positions", {}).items():
            money = {k: dec(p[k]) for k in _MONEY if k in p}
            positions[s] = Position(**{**p, **money, "protect": RestingStop.from_doc(p.get("protect"))})
        return Book(
            positions=positions,
            realized=dec(d["realized"]),
            charges=dec(d["charges"]),
            cash=dec(d["cash"]),
            orders_filled=int(d["orders_filled"]),
            orders_rejected=int(d["orders_rejected"]),
            trades=int(d["trades"]),
            wins=int(d["wins"]),
            entries=int(d["entries"]),
            entries_by_symbol=dict(d.get("entries_by_symbol", {})),
            processed=list(d.get("processed", [])),
            duplicates_ignored=int(d.get("duplicates_ignored", 0)),
            verify={k: dict(v) for k, v in d.get("verify", {}).items()},
        )


_MONEY = ("avg_price", "gross", "charges")


def _position_doc(p: Position) -> dict[str, Any]:
    doc = {**asdict(p), **{k: str(getattr(p, k)) for k in _MONEY}}
    doc["protect"] = None if p.protect is None else p.protect.to_doc()
    return doc


def anchored(intent: OrderIntent, fill: Decimal) -> tuple[float | None, float | None]:
    """The intent's stop and target, moved by as much as the fill is away from the price they were set from
    (an entry fills at the next snapshot, not at the price it was decided on), on the tick grid, rounded
    towards the fill: the loss at the stop stays the one the governor approved."""
    if intent.price is None:
        return intent.stop, intent.target
    shift = fill - dec(intent.price)
    buy = intent.side is Side.BUY
    stop = None if intent.stop is None else float(to_tick(dec(intent.stop) + shift, intent.tick_size, up=buy))
    target = (
        None
        if intent.target is None
        else float(to_tick(dec(intent.target) + shift, intent.tick_size, up=not buy))
    )
    return stop, target


def exit_side(pos: Position) -> Side:
    """The side of the order that closes ``pos``: SELL for a long, BUY for a short."""
    return Side.SELL if pos.qty > 0 else Side.BUY
