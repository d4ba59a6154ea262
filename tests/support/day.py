"""A trading day driven by hand, minute by minute, through the same services `tron run-day` calls: the
embedded backend at virtual time, so a test can break something between two minutes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from tron.adapters.clock import VirtualClock
from tron.adapters.inproc_bus import InProcBus
from tron.bootstrap import embedded
from tron.config.settings import Settings
from tron.domain.models import Asset
from tron.domain.timeutil import ist
from tron.services.deps import Deps
from tron.services.execute_order import execute_order
from tron.services.plan_day import plan_day
from tron.services.tick import tick


@dataclass
class ManualDay:
    deps: Deps
    bus: InProcBus
    day: date
    outcomes: list[str] = field(default_factory=list)

    @staticmethod
    def start(settings: Settings, day: date, root: Path, log_to_archive: bool = False) -> ManualDay:
        deps, bus = embedded(settings, VirtualClock(ist(day, time(9, 0))), root, log_to_archive)
        plan_day(deps)
        return ManualDay(deps, bus, day)

    def at(self, hh: int, mm: int) -> datetime:
        return ist(self.day, time(hh, mm))

    def deliver(self) -> None:
        """Deliver what the bus holds, as the executor's push subscription would."""

        def handler(data: bytes, attributes: dict[str, str]) -> None:
            self.outcomes.append(execute_order(self.deps, data, attributes))

        self.bus.drain(self.deps.config.orders_topic, handler)

    def minute(self, t: datetime, assets: Iterable[Asset] = tuple(Asset)) -> dict[Asset, Any]:
        """One minute as the runner does it: deliver last minute's orders, then tick."""
        self.deps.clock.set(t)
        self.deliver()
        return {a: tick(self.deps, a) for a in assets}

    def run(self, start: datetime, end: datetime, assets: Iterable[Asset] = tuple(Asset)) -> None:
        """Every minute from start to end, both included."""
        t = start
        while t <= end:
            self.minute(t, assets)
            t += timedelta(minutes=1)

    def doc(self, path: str) -> dict[str, Any]:
        return self.deps.store.get(path) or {}

    def intents(self) -> list[dict[str, Any]]:
        return [d for _, d in self.deps.store.list(f"days/{self.day}/intents")]

    def book(self, asset: Asset) -> dict[str, Any]:
        return self.doc(f"days/{self.day}/books/{asset}")
