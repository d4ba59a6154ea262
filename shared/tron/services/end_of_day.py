"""end_of_day: the day's results per asset, written to the day document and archived as reports/{date}/."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from tron.domain import report
from tron.domain.book import Book
from tron.domain.models import Asset, IntentState, Purpose
from tron.ports import BrokerUnavailable
from tron.services import notify
from tron.services.chain_archive import write_chain_day
from tron.services.deps import Deps
from tron.services.paths import (
    book_path,
    day_path,
    intents_path,
    reconciliation_path,
    report_path,
    review_path,
    state_path,
)
from tron.services.reconcile import reconcile

log = logging.getLogger("tron.end_of_day")


def order_counts(intents: list[dict[str, Any]]) -> dict[str, int]:
    """From the day's intents: the orders TRON sent the broker (entries, exits that did not turn a resting
    stop into themselves, resting stops), the intents rejected, and the stops that filled at the broker."""
    return {
        "orders_placed": len({d["order_id"] for d in intents if d.get("order_id")}),
        "orders_rejected": sum(1 for d in intents if d.get("state") == IntentState.REJECTED),
        "stops_filled": sum(
            1 for d in intents if d.get("purpose") == Purpose.PROTECT and d.get("state") == IntentState.FILLED
        ),
    }


def summarize(deps: Deps, day: str) -> dict[str, Any]:
    """The day at a glance from the stored documents: its status and halt, its order counts
    (:func:`order_counts`), whether the books matched the broker at the close (None before), and per
    asset the trades, wins, orders, gross and net P&L, charges and positions still open, plus where the
    report is (if written)."""
    daydoc = deps.store.get(day_path(day)) or {}
    assets: dict[str, dict[str, Any]] = {}
    for a in Asset:
        book = Book.from_doc(deps.store.get(book_path(day, a)))
        assets[a.value] = {
            "trades": book.trades,
            "wins": book.wins,
            "orders_filled": book.orders_filled,
            "orders_rejected": book.orders_rejected,
            "gross_pnl": float(book.realized),
            "charges": float(book.charges),
            "net_pnl": float(book.net),
            "open_positions_at_close": len(book.positions),
            "duplicates_ignored": book.duplicates_ignored,
        }
    intents = [d for _, d in deps.store.list(intents_path(day))]
    if (states := (deps.store.get(state_path(day, Asset.OPTIONS)) or {}).get("structures")) is not None:
        assets[Asset.OPTIONS.value]["structures"] = report.structures(states, intents)
    return {
        "date": day,
        "trading_day": bool(daydoc.get("trading_day", False)),
        "status": daydoc.get("status"),
        "halted": daydoc.get("halted"),
        **order_counts(intents),
        "assets": assets,
        "book_matches_broker": (deps.store.get(reconciliation_path(day)) or {}).get("book_matches_broker"),
        "report": daydoc.get("report"),
        "report_html": daydoc.get("report_html"),
    }


def end_of_day(deps: Deps) -> dict[str, Any]:
    """Close today: reconcile the books with the broker (tron.services.reconcile), build the report from
    the books and filled intents, archive it as JSON and HTML (reports/{date}/), mark the day closed with
    its summary, ask the reviewer if one is configured, and log an ERROR per asset with positions still
    open. On a day without a trading-day document it only says so. Returns the summary (whether the books
    match the broker included: None if it could not be read) with the report's locations."""
    day = deps.clock.now().date().isoformat()
    daydoc = deps.store.get(day_path(day))
    if daydoc is None or not daydoc.get("trading_day"):
        return {"date": day, "trading_day": False}
    try:
        reconcile(deps, date.fromisoformat(day))
    except BrokerUnavailable as e:
        log.warning(f"the books not reconciled with the broker: {e}", extra={"component": "end_of_day"})
    summary = summarize(deps, day)
    fills = [d for _, d in deps.store.list(intents_path(day)) if d.get("state") == IntentState.FILLED]
    rep = report.build(day, summary, fills)
    where = deps.archive.write(
        report_path(day, "json"), json.dumps(rep, indent=2).encode(), "application/json"
    )
    html_at = deps.archive.write(report_path(day, "html"), report.render_html(rep).encode(), "text/html")
    deps.store.set(
        day_path(day),
        {**daydoc, "status": "closed", "summary": summary["assets"], "report": where, "report_html": html_at},
    )
    try:  # the day's option chains as Parquet (Kite keeps no expired contracts): never fails the close
        write_chain_day(deps, day)
    except Exception as e:
        log.warning(
            f"option chains not archived: {type(e).__name__}: {e}",
            extra={"component": "end_of_day", "correlation_id": day},
        )
    if deps.reviewer is not None:
        review(deps, day, rep)
    for a, s in summary["assets"].items():
        if s["open_positions_at_close"]:
            log.error(
                f"{a}: {s['open_positions_at_close']} position(s) still open at the end of day",
                extra={"component": "end_of_day", "correlation_id": day},
            )
    log.info(f"day closed; report at {html_at}", extra={"component": "end_of_day", "correlation_id": day})
    notify.day_summary(deps, summary, html_at)
    return {**summary, "report": where, "report_html": html_at}


def review(deps: Deps, day: str, rep: dict[str, Any]) -> None:
    """Ask the reviewer for suggestions and store them under days/{day}/reviews/llm; nothing is applied."""
    at = deps.clock.now().isoformat()
    try:
        doc = {**deps.reviewer.review(rep), "applied": False, "at": at}  # type: ignore[union-attr]
    except Exception as e:  # a review is optional: its failure is recorded, never fatal
        doc = {"error": f"{type(e).__name__}: {e}", "applied": False, "at": at}
        log.warning(
            f"LLM review failed: {doc['error']}", extra={"component": "end_of_day", "correlation_id": day}
        )
    deps.store.set(review_path(day), doc)
