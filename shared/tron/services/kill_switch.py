"""The user's kill switch: the document control/kill_switch every tick reads."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tron.domain.risk import KillSwitch
from tron.services.paths import KILL_SWITCH

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
