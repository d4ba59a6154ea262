"""The user's kill switch: the document control/kill_switch every tick and the executor read, and its
engagement at the broker (exits sent at once, without waiting for a tick)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tron.domain.book import Book
from tron.domain.live import MOST_SLICES
from tron.domain.models import Asset, is_tron_tag, order_tag, slice_tag
from tron.domain.risk import KillSwitch
from tron.ports import BrokerUnavailable, OrderRejected, order_ids
from tron.services import notify
from tron.services.deps import Deps
from tron.services.messages import BadRequest, json_object
from tron.services.paths import KILL_SWITCH, book_path
from tron.services.square_off import square_off

log = logging.getLogger("tron.orders")


def set_kill_switch(
    store: Any, engaged: bool, reason: str, flatten: bool, at: datetime, by: str
) -> KillSwitch:
    """Engage or release the kill switch (the document every tick reads). Engaging needs a reason
    (ValueError without one). Logged at ERROR with "halt" when engaged, at WARNING when released."""
    if engaged and not reason.strip():
        raise ValueError("engaging the kill switch needs a reason (it is logged and alerted on)")
    ks = KillSwitch(engaged, reason.strip(), flatten, at.isoformat(), by)
    store.set(KILL_SWITCH, ks.to_doc())
    log.log(
        logging.ERROR if engaged else logging.WARNING,
        f"halt: {ks.why} (set by {by})" if engaged else f"kill switch released by {by}",
        extra={"component": "kill_switch", "correlation_id": at.date().isoformat(), "data": ks.to_doc()},
    )
    return ks


def kill_switch(store: Any) -> KillSwitch:
    """The kill switch as stored (released when there is no document, engaged when it is malformed)."""
    return KillSwitch.from_doc(store.get(KILL_SWITCH))


def engage_now(deps: Deps, reason: str, flatten: bool, by: str) -> dict[str, Any]:
    """Engage the kill switch and act on it at once: with ``flatten``, an exit is sent for every open
    position of every asset (a resting stop is converted into it by the executor, never left beside it;
    an exit in flight is driven again; a position whose stop is still being placed exits as soon as the
    executor has it resting) and every other TRON order still working at the broker is cancelled. Entries stop from the switch itself (the tick and the executor read it), so releasing it
    lets them trade again the same day. Returns what was sent and cancelled (ValueError without a reason)."""
    now = deps.clock.now()
    ks = set_kill_switch(deps.store, True, reason, flatten, now, by)
    out: dict[str, Any] = {"kill_switch": ks.to_doc(), "exits": {}, "cancelled": [], "cancel_failed": []}
    if not flatten:
        notify.kill_switch(deps, ks, out)
        return out
    out["exits"] = square_off(deps, "all", reason=ks.why, stop_entries=False)["exits"]
    day = now.date().isoformat()
    held = [p for a in Asset for p in Book.from_doc(deps.store.get(book_path(day, a))).positions.values()]
    stops = {i for p in held if p.protect is not None for i in order_ids(p.protect.order_id)}
    # A stop still being placed is its position's: kept, and its exit sent by the executor once it rests.
    placing = {
        slice_tag(order_tag(p.protecting), k) for p in held if p.protecting for k in range(MOST_SLICES)
    }
    out["exit_when_stop_rests"] = sorted(p.symbol for p in held if p.protecting)
    try:
        working = deps.broker.working_orders()
    except BrokerUnavailable as e:
        log.error(f"kill switch: the broker's working orders could not be read ({e})", extra=_extra(day))
        notify.kill_switch(deps, ks, out)
        return out
    for o in working:
        if o.kind == "order" and is_tron_tag(o.tag) and o.order_id not in stops and o.tag not in placing:
            try:
                deps.broker.cancel(o.order_id)
                out["cancelled"].append(o.order_id)
            except (OrderRejected, BrokerUnavailable) as e:
                out["cancel_failed"].append(o.order_id)
                log.error(f"kill switch: order {o.order_id} could not be cancelled ({e})", extra=_extra(day))
    log.error(
        f"kill switch at the broker: {sum(len(v) for v in out['exits'].values())} exit(s) sent, "
        f"{len(out['cancelled'])} order(s) cancelled",
        extra={**_extra(day), "data": out},
    )
    notify.kill_switch(deps, ks, out)  # after the exits: a slow notifier never delays them
    return out


def release(deps: Deps, by: str) -> KillSwitch:
    """Release the kill switch (entries may trade again from the next tick), and say so."""
    ks = set_kill_switch(deps.store, False, "", True, deps.clock.now(), by)
    notify.released(deps, by)
    return ks


def kill_switch_request(deps: Deps, body: bytes) -> tuple[int, dict[str, Any]]:
    """The kill-switch function's HTTP call: ``{"action": "engage", "reason": "...", "flatten": true, "by":
    "..."}`` engages it at the broker (:func:`engage_now`), ``{"action": "release", "by": "..."}`` releases
    it, ``{"action": "status"}`` reads it. Anything else (no action, a reason that is not text, a flatten
    that is not true or false, a truncated body) is a 400 that changes nothing."""
    try:
        req = json_object(body, required=True)
        action, reason, flatten = req.get("action"), req.get("reason", ""), req.get("flatten", True)
        by = req.get("by", "gcloud functions call kill-switch")
        if action not in ("engage", "release", "status"):
            raise BadRequest('name the action: {"action": "engage", "reason": "..."} (or release, status)')
        if not isinstance(reason, str) or len(reason) > 500 or not isinstance(by, str) or len(by) > 100:
            raise BadRequest("reason (up to 500 characters) and by (up to 100) must be text")
        if not isinstance(flatten, bool):
            raise BadRequest(f"flatten must be true or false, got {flatten!r}")
        if action == "engage" and not reason.strip():
            raise BadRequest("engaging the kill switch needs a reason (it is logged and alerted on)")
    except BadRequest as e:
        return e.status, {"error": str(e)}
    if action == "engage":
        return 200, engage_now(deps, reason, flatten, by)
    if action == "release":
        return 200, release(deps, by).to_doc()
    return 200, kill_switch(deps.store).to_doc()


def _extra(day: str) -> dict[str, Any]:
    return {"component": "kill_switch", "correlation_id": day}
