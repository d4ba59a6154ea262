"""Live trading switched on for a day: the operator's arming (``control/live_arm``), the day's decision
(``days/{date}/live/decision``: live orders or paper, and why) and the broker that follows it.

With ``mode: live`` the broker is a :class:`DayBroker`. The first order operation or account read of a day
decides, once and for the whole day, whether it goes to Kite: only if an operator armed that date. Otherwise
the day runs on paper fills at Kite's quotes, and says why at ERROR. A decision is never changed during its
day (positions opened at Kite are closed at Kite): disarming during an armed day refuses its further
entries, while exits, stops and trails keep going to Kite."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from tron.domain.live import LiveArm, arming_refusal
from tron.domain.models import OrderIntent
from tron.ports import Broker, BrokerOrder, ExternalFill, OrderRejected, StateStore, WorkingOrder

log = logging.getLogger("tron.live")

LIVE_ARM = "control/live_arm"


def decision_path(day: str) -> str:
    """The day's decision: live orders (armed) or paper, and why."""
    return f"days/{day}/live/decision"


def arm(store: StateStore, day: date, reason: str, by: str, at: datetime) -> LiveArm:
    """Arm ``day`` for live orders (ValueError without a reason). Replaces any earlier arming; logged at
    WARNING. A day already past arms only a simulated run of it (`tron run-day --date D`)."""
    if not reason.strip():
        raise ValueError("arming needs a reason (it is logged and shown by `tron live status`)")
    armed = LiveArm(day, reason.strip(), by, at)
    store.set(LIVE_ARM, armed.to_doc())
    log.warning(
        f"live trading armed for {day} by {by}: {armed.reason}",
        extra={"component": "live", "correlation_id": day.isoformat(), "data": armed.to_doc()},
    )
    return armed


def disarm(store: StateStore, reason: str, by: str, at: datetime) -> LiveArm | None:
    """Take the arming back (kept on record as disarmed); None when nothing was armed. A day already
    trading live refuses its further entries; its exits still go to Kite."""
    doc = store.get(LIVE_ARM)
    try:
        was = LiveArm.from_doc(doc)
    except ValueError:
        was = None
    if was is None:
        return None
    gone = LiveArm(was.day, reason.strip() or "disarmed", by, at, disarmed=True)
    store.set(LIVE_ARM, gone.to_doc())
    log.warning(
        f"live trading disarmed by {by}: {gone.reason}",
        extra={"component": "live", "correlation_id": was.day.isoformat(), "data": gone.to_doc()},
    )
    return gone


def live_status(store: StateStore, day: date) -> dict[str, Any]:
    """What an operator sees: the arming document as stored, whether it arms ``day`` (and why not), and
    the day's decision once taken."""
    doc = store.get(LIVE_ARM)
    return {
        "day": day.isoformat(),
        "arming": doc,
        "armed": arming_refusal(doc, day) is None,
        "why_not": arming_refusal(doc, day),
        "decision": store.get(decision_path(day.isoformat())),
    }


def live_decision(store: StateStore, day: date, now: datetime) -> dict[str, Any]:
    """The day's decision, taken on first call and then read (in a transaction: concurrent instances agree):
    ``{"live": bool, "why": str, "at", "arming"}``. A day on paper is logged at ERROR."""
    path = decision_path(day.isoformat())

    def body(txn: Any) -> tuple[dict[str, Any], bool]:
        found = txn.get(path)
        if found is not None:
            return found, False
        arming = txn.get(LIVE_ARM)
        refusal = arming_refusal(arming, day)
        if refusal is None:
            armed = LiveArm.from_doc(arming)
            refusal_or_who = f"armed by {armed.by}: {armed.reason}"
        doc = {
            "live": refusal is None,
            "why": refusal or refusal_or_who,
            "at": now.isoformat(),
            "arming": arming,
        }
        txn.set(path, doc)
        return doc, True

    doc, taken = store.transaction(body)
    if taken:
        extra = {"component": "live", "correlation_id": day.isoformat(), "data": doc}
        if doc["live"]:
            log.warning(f"live orders to Kite today: {doc['why']}", extra=extra)
        else:
            log.error(f"mode live, but the day runs on paper: {doc['why']}", extra=extra)
    return doc


class DayBroker:
    """The Broker of ``mode: live``: each day's calls go to ``live`` (Kite) if the day was armed when it
    first traded (:func:`live_decision`), else to ``paper``. Entries sent to Kite are refused once the
    arming is taken back during the day."""

    def __init__(self, store: StateStore, live: Broker, paper: Broker, clock: Any) -> None:
        self.store = store
        self.live = live
        self.paper = paper
        self.clock = clock
        self._decided: dict[date, bool] = {}

    def is_live(self, day: date) -> bool:
        """Whether ``day``'s orders go to Kite (decided once; cached)."""
        if day not in self._decided:
            self._decided[day] = bool(live_decision(self.store, day, self.clock.now())["live"])
        return self._decided[day]

    def _for(self, day: date) -> Broker:
        return self.live if self.is_live(day) else self.paper

    def _today(self) -> Broker:
        return self._for(self.clock.now().date())

    def place(self, intent: OrderIntent) -> BrokerOrder:
        broker = self._for(intent.day)
        if broker is self.live and intent.purpose.opens:
            if why := arming_refusal(self.store.get(LIVE_ARM), intent.day):
                raise OrderRejected(f"live entry refused: {why}")
        return broker.place(intent)

    def modify(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        return self._for(intent.day).modify(order_id, intent)

    def convert(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        return self._for(intent.day).convert(order_id, intent)

    def order_states(self, day: date, order_ids: list[str]) -> dict[str, BrokerOrder]:
        return self._for(day).order_states(day, order_ids)

    def find_by_tag(self, day: date, tag: str) -> BrokerOrder | None:
        return self._for(day).find_by_tag(day, tag)

    def net_positions(self, day: date) -> dict[str, int]:
        return self._for(day).net_positions(day)

    def orders_with_tag(self, day: date, tag: str) -> list[BrokerOrder]:
        return self._for(day).orders_with_tag(day, tag)

    def cancel(self, order_id: str) -> str:
        return self._today().cancel(order_id)

    def external_fills(self, day: date) -> list[ExternalFill]:
        return self._for(day).external_fills(day)

    def working_orders(self) -> list[WorkingOrder]:
        return self._today().working_orders()

    def preflight(self) -> str | None:
        return self._today().preflight()
