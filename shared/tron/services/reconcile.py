"""The books against the broker, for a whole day: each symbol's quantity in TRON's books (every asset)
against the broker's net position, with the drift each asset's last tick still saw. Run by the end of day
and on demand (`tron reconcile --date D`); written to days/{date}/reconciliation/close, an ERROR when they
differ. (Each tick compares its asset's book with the broker too: tron.domain.drift.)"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from tron.domain.book import Book
from tron.domain.models import Asset
from tron.services.deps import Deps
from tron.services.paths import book_path, reconciliation_path, state_path

log = logging.getLogger("tron.reconcile")


def reconcile(deps: Deps, day: date) -> dict[str, Any]:
    """Compare, store and return the day's reconciliation (raises BrokerUnavailable if the broker cannot
    be read: nothing is stored then)."""
    d = day.isoformat()
    broker = {s: q for s, q in deps.broker.net_positions(day).items() if q}
    held: dict[str, int] = {}
    drift: dict[str, Any] = {}
    for a in Asset:
        for s, p in Book.from_doc(deps.store.get(book_path(d, a))).positions.items():
            held[s] = held.get(s, 0) + p.qty
        if seen := (deps.store.get(state_path(d, a)) or {}).get("drift"):
            drift[a.value] = seen
    mismatches = [
        {"symbol": s, "book": held.get(s, 0), "broker": broker.get(s, 0)}
        for s in sorted(set(held) | set(broker))
        if held.get(s, 0) != broker.get(s, 0)
    ]
    doc = {
        "date": d,
        "at": deps.clock.now().isoformat(),
        "book_matches_broker": not mismatches,
        "mismatches": mismatches,
        "open_in_book": held,
        "open_at_broker": broker,
        "drift_at_last_tick": drift,
    }
    deps.store.set(reconciliation_path(d), doc)
    extra = {"component": "reconcile", "correlation_id": d, "data": doc}
    if mismatches:
        shown = "; ".join(f"{m['symbol']}: book {m['book']}, broker {m['broker']}" for m in mismatches[:10])
        log.error(f"the books differ from the broker: {shown}", extra=extra)
    else:
        log.info(f"the books match the broker ({len(broker)} position(s) open there)", extra=extra)
    return doc
