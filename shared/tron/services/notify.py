"""What the services tell the operator, and in which words: one helper per moment, each called on one line
after the log line that records it, outside every transaction.

Every helper goes through :func:`send`, which never raises (a notifier that fails is logged at WARNING) and
does nothing when the deps have no notifier. The adapters bound how long a send may take
(tron.adapters.telegram), so a notification never fails or holds up an order path."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tron.domain.models import Asset, OrderIntent, Purpose
from tron.domain.risk import KillSwitch
from tron.ports import BrokerOrder, ExternalFill
from tron.services.deps import Deps

log = logging.getLogger("tron.notify")
KITE_API_KEY_SECRET = "kite_api_key"  # tron.adapters.kite.session.API_KEY_SECRET


def send(deps: Deps, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
    """Hand one notification to the deps' notifier; never raises."""
    if deps.notifier is None:
        return
    try:
        deps.notifier.send(kind, text, data)
    except Exception as e:  # a notifier must not fail what notified
        log.warning(f"notification {kind} not sent: {type(e).__name__}: {e}", extra={"component": "notify"})


def rupees(x: Decimal | float | int | str) -> str:
    """₹1,234.50 (signed when negative)."""
    return f"₹{Decimal(str(x)):,.2f}".replace("₹-", "-₹")


def fill(
    deps: Deps, intent: OrderIntent, order: BrokerOrder, outcome: str, realized: Decimal | None = None
) -> None:
    """An entry or an exit the executor booked (``outcome`` filled or adopted; anything else says nothing):
    kind "entries" or "exits", with the price, the reason and, for an exit, the P&L it realised."""
    if outcome not in ("filled", "adopted") or intent.purpose in (Purpose.PROTECT, Purpose.TRAIL):
        return
    entry = intent.purpose.opens
    text = (
        f"{'entry' if entry else 'exit'} {intent.asset}: {intent.side} {order.filled_qty} {intent.symbol} "
        f"@ {order.avg_price} ({intent.reason})"
    )
    if not entry and realized is not None:
        text += f", P&L {rupees(realized)} before charges"
    data = {"intent_id": intent.intent_id, "price": str(order.avg_price), "qty": order.filled_qty}
    send(deps, "entries" if entry else "exits", text, data)


def stop_fill(
    deps: Deps, asset: Asset, symbol: str, order: BrokerOrder, trigger: float, realized: Decimal | None
) -> None:
    """A stop resting at the broker filled (kind "stops")."""
    pnl = f", P&L {rupees(realized)} before charges" if realized is not None else ""
    text = f"stop filled {asset}: {order.filled_qty} {symbol} @ {order.avg_price} (trigger {trigger}){pnl}"
    send(deps, "stops", text, {"symbol": symbol, "order_id": order.order_id})


def external_fill(deps: Deps, asset: Asset, fill: ExternalFill) -> None:
    """A fill TRON did not place, booked as a position's exit (kind "drift")."""
    by = "the broker's auto square-off" if fill.by == "ADMINSQF" else f"an order by {fill.by or '?'}"
    text = f"{asset}: {fill.side} {fill.qty} {fill.symbol} @ {fill.price} was closed outside TRON ({by})"
    send(deps, "drift", text, {"order_id": fill.order_id})


def tick_event(deps: Deps, asset: Asset, event: Mapping[str, Any]) -> None:
    """A tick's halt (kind "halts") or drift (kind "drift"); the tick's other events say nothing."""
    kind = {"halt": "halts", "drift": "drift"}.get(str(event.get("event")))
    if kind is not None:
        what = f"{event.get('symbol', '')} {event.get('reason', '')}".strip()
        send(deps, kind, f"{event['event']} {asset}: {what}", dict(event))


def stuck(deps: Deps, day: str, intent_ids: list[str]) -> None:
    """Orders left in flight past their lease (the message dead-lettered, or lost), driven again by the
    tick and resolved by their tag (kind "dead_letters")."""
    if intent_ids:
        text = (
            f"{len(intent_ids)} order(s) stuck past their lease, driven again: {', '.join(intent_ids)[:1500]}"
        )
        send(deps, "dead_letters", text, {"day": day, "intents": intent_ids})


def kill_switch(deps: Deps, ks: KillSwitch, out: Mapping[str, Any]) -> None:
    """The kill switch engaged (kind "halts"), with what was sent at the broker."""
    exits = sum(len(v) for v in out.get("exits", {}).values())
    what = (
        f"{exits} exit(s) sent, {len(out.get('cancelled', []))} order(s) cancelled"
        if ks.flatten
        else "entries stopped, positions kept with their stops"
    )
    send(deps, "halts", f"{ks.why} (by {ks.by}): {what}", ks.to_doc())


def released(deps: Deps, by: str) -> None:
    """The kill switch released (kind "halts": the end of one)."""
    send(deps, "halts", f"kill switch released by {by}: entries may trade again", {"by": by})


def gate(deps: Deps, day: str, why: str) -> None:
    """The pre-open health gate halted the day (kind "halts"); a broker that cannot be used means the Kite
    login is needed (kind "login_needed")."""
    send(deps, "halts", f"{day}: entries halted for the day, the pre-open check failed: {why}", {"day": day})
    if "broker: " in why:
        login_needed(deps, why)


def expired_token(deps: Deps, day: str, reason: str) -> None:
    """The Kite session went away during the day: entries halted (kind "halts"), a login needed."""
    send(deps, "halts", f"{day}: Kite session expired, entries halted for the day: {reason}", {"day": day})
    login_needed(deps, reason)


def login_needed(deps: Deps, why: str) -> None:
    """Log in to Kite (kind "login_needed"), with the login link when the app's api key is a stored secret."""
    from tron.services.kite_login import login_url

    try:
        link = login_url(deps.secrets.get(KITE_API_KEY_SECRET) or "")
    except Exception:  # no key stored (or unreadable): the README's way in
        link = "the kite-login proxy (README: The Kite login, every morning)"
    send(deps, "login_needed", f"Kite login needed ({why[:300]}): log in at {link}", {"why": why[:300]})


def day_summary(deps: Deps, summary: Mapping[str, Any], where: str) -> None:
    """The day's results after the close (kind "day_summary")."""
    lines = [
        f"{summary.get('date')} closed" + (f", halted: {summary['halted']}" if summary.get("halted") else "")
    ]
    total = Decimal(0)
    for a, s in summary.get("assets", {}).items():
        total += Decimal(str(s["net_pnl"]))
        lines.append(
            f"{a}: {s['trades']} trades, {s['wins']} wins, net {rupees(s['net_pnl'])} "
            f"(charges {rupees(s['charges'])}), {s['open_positions_at_close']} open"
        )
    lines.append(f"net {rupees(total)}; book matches broker: {summary.get('book_matches_broker')}")
    lines.append(f"report: {where}")
    send(deps, "day_summary", "\n".join(lines), {"date": summary.get("date")})
