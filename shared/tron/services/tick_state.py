"""An asset's tick state as the pure decision sees it: its instruments, session, book and intents in
flight, the other assets' books and entries in flight (the account-wide rules), and why entries are
stopped."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tron.domain.book import Book
from tron.domain.context import Pending, TickContext
from tron.domain.contracts import ContractRules
from tron.domain.exposure import position_worst_loss
from tron.domain.models import Asset, Instrument, Snapshot
from tron.domain.money import ZERO
from tron.domain.plan import AssetPlan
from tron.domain.risk import KillSwitch, margin_required
from tron.domain.session import SessionState
from tron.domain.sizing import StrategyStats
from tron.services.paths import book_path, in_flight_path, stats_path


def instruments_doc(instruments: list[Instrument]) -> dict[str, list[Any]]:
    """The instruments as stored in the asset's state document: symbol → [exchange, lot size, tick size,
    segment, sector, expiry, strike, option type, underlying]."""
    return {
        i.symbol: [
            i.exchange,
            i.lot_size,
            str(i.tick_size),
            i.segment,
            i.sector,
            i.expiry.isoformat() if i.expiry else None,
            i.strike,
            i.option_type,
            i.underlying,
        ]
        for i in instruments
    }


def instruments_from_doc(doc: dict[str, list[Any]], asset: Asset) -> dict[str, Instrument]:
    """The instruments an :func:`instruments_doc` stored (older documents without the F&O fields too)."""
    out = {}
    for s, v in doc.items():
        extra = list(v[5:9]) + [None, None, "", ""][len(v[5:9]) :]
        out[s] = Instrument(
            s,
            v[0],
            asset,
            lot_size=int(v[1]),
            tick_size=Decimal(v[2]),
            segment=v[3],
            sector=v[4],
            expiry=date.fromisoformat(extra[0]) if extra[0] else None,
            strike=None if extra[1] is None else float(extra[1]),
            option_type=str(extra[2] or ""),
            underlying=str(extra[3] or ""),
        )
    return out


def halted_reason(daydoc: dict[str, Any], asset: Asset) -> str | None:
    """Why entries are stopped for this asset today, if they are (the day halted, or squared off)."""
    if daydoc.get("halted"):
        return str(daydoc["halted"])
    return f"{asset} squared off" if asset.value in daydoc.get("squaring", []) else None


def session_marks(session: SessionState) -> dict[str, float]:
    """The last price of each symbol the session follows, the ones not quoted yet left out: what open
    positions are marked at."""
    return {s: float(x) for s, x in zip(session.symbols, session.last, strict=False) if math.isfinite(x)}


def last_prices(state: dict[str, Any] | None) -> dict[str, float]:
    """:func:`session_marks` of an asset's state document (none before its first tick); a ValueError or
    KeyError names a malformed session."""
    if not state or "session" not in state:
        return {}
    return session_marks(SessionState.from_doc(state["session"]))


def mtm_history(state: dict[str, Any], ctx: TickContext, minute: datetime) -> dict[str, str]:
    """The asset's marked P&L at each minute it ticked, this one added: its book's realised net (charges
    off) plus its open positions at the minute's last prices, keyed "HHMM" (a map, not a list of pairs:
    Firestore stores no arrays of arrays), stored in its state document for the positions page's chart
    (about 6 KB over a whole day)."""
    marked = ctx.book.net + ctx.book.unrealized(session_marks(ctx.state))
    return {**state.get("mtm", {}), f"{minute:%H%M}": str(marked)}


def in_flight_summary(ctx: TickContext) -> dict[str, str]:
    """What the asset's entries in flight add to the account-wide rules: their summed worst-case loss and
    margin, as strings (stored under days/{date}/risk/in_flight for the other assets' ticks)."""
    entries = [p for p in ctx.pending.values() if p.purpose == "entry"]
    return {
        "worst": str(sum((Decimal(p.worst_loss) for p in entries), ZERO)),
        "margin": str(sum((Decimal(p.margin) for p in entries), ZERO)),
    }


def _elsewhere(txn: Any, day: str, asset: Asset, plan: AssetPlan) -> tuple[Decimal, Decimal, Decimal]:
    """The other assets' margin in use, realised net P&L and open worst-case loss (account-wide rules),
    their entries in flight included (an entry that has just filled may count twice for up to a minute:
    the safe side)."""
    margin = net = worst = ZERO
    for other in Asset:
        if other is asset:
            continue
        book = Book.from_doc(txn.get(book_path(day, other)))
        net += book.net
        for p in book.positions.values():
            side = "BUY" if p.qty > 0 else "SELL"
            margin += margin_required(plan.risk, p.segment, side, p.qty, p.avg_price)
            worst += position_worst_loss(p, date.fromisoformat(day), plan.risk)
    flying = txn.get(in_flight_path(day)) or {}
    for other, f in flying.items():
        if other != asset.value:
            worst += Decimal(f.get("worst", "0"))
            margin += Decimal(f.get("margin", "0"))
    return margin, net, worst


def load_context(
    txn: Any,
    day: str,
    asset: Asset,
    state: dict[str, Any],
    now: datetime,
    plan: AssetPlan | None,
    halted: str | None,
    snapshot: Snapshot | None,
    kill: KillSwitch | None = None,
) -> TickContext:
    """The asset's state and book, as the pure decision sees them; pending drops what the book has settled.
    With a plan (a tick) it also reads the other assets' books for the margin check and, when half-Kelly
    is on, the strategies' statistics."""
    book = Book.from_doc(txn.get(book_path(day, asset)))
    settled = set(book.processed)
    pending = {k: Pending(**v) for k, v in state["pending"].items() if k not in settled}
    stats: dict[str, StrategyStats] = {}
    if plan is not None and plan.risk.kelly:
        doc = txn.get(stats_path(asset)) or {}
        stats = {k: StrategyStats.from_doc(v) for k, v in doc.get("strategies", {}).items()}
    margin, others_net, others_worst = _elsewhere(txn, day, asset, plan) if plan is not None else (ZERO,) * 3
    ctx = TickContext(
        asset,
        now.date(),
        now,
        plan,
        halted,
        instruments_from_doc(state["instruments"], asset),
        SessionState.from_doc(state["session"]),
        book,
        pending,
        snapshot,
        {k: v for k, v in state.get("trail", {}).items() if k in book.positions},
        kill=kill,
        margin_elsewhere=margin,
        others_net=others_net,
        others_worst=others_worst,
        stats=stats,
        underlying=state.get("underlying"),
        spot_symbol=state.get("spot"),
        contract=ContractRules.from_doc(plan.contract) if plan is not None else ContractRules(),
        drift={k: (int(v[0]), int(v[1])) for k, v in state.get("drift", {}).items()},
        foreign=dict(state.get("foreign", {})),
    )
    return ctx
