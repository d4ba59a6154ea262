"""The book against the broker's own positions, each tick: where they differ (drift), entries on the symbol
stop and every exit is clamped to what the broker holds, so an exit never crosses zero (never opens a short,
never sells an option TRON does not hold).

A symbol with an order in flight (an entry, an exit, a stop being placed) is not compared: its fill may
be at the broker and not yet in the book. Drift is remembered between ticks (the asset's state document),
so each new or changed difference is reported once, and so is its end."""

from __future__ import annotations

from tron.domain.context import TickContext

Drift = dict[str, tuple[int, int]]  # symbol → (the book's signed quantity, the broker's)


def compare(ctx: TickContext) -> Drift:
    """Where the broker's quantities (ctx.broker_qty) differ from the book's, among the asset's symbols
    (its instruments and its open positions); a symbol with an order in flight keeps the drift it had. The
    drift seen so far when the broker was not read."""
    if ctx.broker_qty is None:
        return dict(ctx.drift)
    busy = {p.symbol for p in ctx.pending.values()}
    busy |= {s for s, p in ctx.book.positions.items() if p.protecting}
    out: Drift = {s: v for s, v in ctx.drift.items() if s in busy}
    for s in sorted(set(ctx.instruments) | set(ctx.book.positions)):
        if s in busy:
            continue
        pos = ctx.book.positions.get(s)
        ours, theirs = pos.qty if pos is not None else 0, ctx.broker_qty.get(s, 0)
        if ours != theirs:
            out[s] = (ours, theirs)
    return out


def changes(before: Drift, now: Drift) -> tuple[Drift, list[str]]:
    """The differences that are new or changed since the last tick, and the symbols whose drift ended."""
    return {s: v for s, v in now.items() if before.get(s) != v}, sorted(set(before) - set(now))


def clamp(book_qty: int, broker_qty: int) -> int:
    """How much an exit of a position of ``book_qty`` may close when the broker holds ``broker_qty``:
    never more than the broker holds, and nothing when the broker is flat or holds the other side."""
    if broker_qty == 0 or (broker_qty > 0) != (book_qty > 0):
        return 0
    return min(abs(book_qty), abs(broker_qty))
