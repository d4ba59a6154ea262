"""`tron run-day` on the embedded backend: a whole trading day at virtual time (tron.runday.loop), through
the same services the Cloud Functions call, on SQLite, an in-process bus and a local folder."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from tron.adapters.clock import ScaledClock, VirtualClock
from tron.adapters.inproc_bus import InProcBus
from tron.adapters.kite.shadow import shadow_path
from tron.adapters.sqlite_store import SqliteStore
from tron.bootstrap import embedded
from tron.config import schedule
from tron.config.settings import Settings
from tron.domain.models import Asset
from tron.domain.timeutil import ist
from tron.runday.loop import OnMinute, drive
from tron.services.deps import Deps
from tron.services.end_of_day import end_of_day, summarize
from tron.services.execute_order import execute_order
from tron.services.live import LIVE_ARM, decision_path
from tron.services.plan_day import plan_day
from tron.services.square_off import square_off
from tron.services.tick import tick


def dispatch(deps: Deps, function: str, body: dict[str, Any]) -> Any:
    """Call the service behind a scheduled function name (the same names as functions/main.py)."""
    if function == "plan_day":
        return plan_day(deps)
    if function.startswith("tick_"):
        return tick(deps, Asset(function.removeprefix("tick_")))
    if function == "square_off":
        return square_off(deps, body.get("asset", "all"))
    if function == "end_of_day":
        return end_of_day(deps)
    raise ValueError(f"unknown function {function!r}")


@dataclass
class DayRun:
    deps: Deps
    bus: InProcBus
    root: Path
    outcomes: dict[str, int] = field(default_factory=dict)
    broker: str = "paper"  # paper | shadow | kite-sim | kite
    market: str = "generated"  # generated | kite-sim
    kite: Any = None  # the in-process Kite simulator of a kite-sim run (tron.runday.kite_sim.KiteSimRun)

    def summary(self, day: date) -> dict[str, Any]:
        """What the run adds to the day's summary: duplicate deliveries, the bus and where things are."""
        bus = self.bus
        return {
            "duplicate_deliveries_ignored": self.outcomes.get("duplicate", 0),
            "bus": {
                "published": bus.published,
                "delivered": bus.stats.delivered,
                "redelivered": bus.stats.redelivered,
                "dead_lettered": bus.stats.dead_lettered,
            },
            "broker": self.broker,
            "market": self.market,
            "state": str(self.root / "state.sqlite"),
            "logs": str(self.root / "archive" / "logs" / day.isoformat()),
        }


def operator_controls(settings: Settings, deps: Deps) -> None:
    """Bring the operator's arming (`tron live arm`, kept in <data_dir>/state.sqlite) into a run's fresh
    store, as a deployment reads it from Firestore; nothing without one."""
    operator = settings.data_dir / "state.sqlite"
    if settings.mode == "live" and operator.exists():
        if (arming := SqliteStore(operator).get(LIVE_ARM)) is not None:
            deps.store.set(LIVE_ARM, arming)


def run_root(settings: Settings, day: date) -> Path:
    """Where `tron run-day` keeps a day's state, logs and reports."""
    return settings.data_dir / "runs" / f"{day}-seed{settings.seed}-n{settings.symbols or 50}"


def prepare(
    settings: Settings, day: date, root: Path | None = None, broker: str = "paper", market: str = "generated"
) -> DayRun:
    """market "generated": the seeded market; "kite-sim": the Kite simulator on loopback (stopped when
    run_day ends), its quotes read through TRON's Kite adapters and the official client, as a deployed TRON
    reads Kite's. broker "paper": fills on the next snapshot's quotes; "shadow": the same, each order call
    also built as the Kite broker would send it, checked and recorded; "kite-sim": orders into the
    simulator's matching engine (the live path; implies market "kite-sim")."""
    if broker not in ("paper", "shadow", "kite-sim"):
        raise ValueError(f"broker must be paper, shadow or kite-sim, got {broker!r}")
    if market not in ("generated", "kite-sim"):
        raise ValueError(f"market must be generated or kite-sim, got {market!r}")
    market = "kite-sim" if broker == "kite-sim" else market
    root = root or run_root(settings, day)
    if root.exists():
        shutil.rmtree(root)  # a run is repeatable: same inputs, a fresh store
    clock = VirtualClock(ist(day, time(8, 45)))
    kite = None
    if market == "kite-sim":
        from tron.runday import kite_sim as kite_sim_run

        kite = kite_sim_run.start(settings, clock, orders=broker == "kite-sim")
        settings = kite.settings
    if broker == "shadow":
        settings = settings.model_copy(update={"broker": "shadow"})
    deps, bus = embedded(settings, clock, root)
    operator_controls(settings, deps)
    if kite is not None:
        kite.login(deps)
    return DayRun(deps, bus, root, broker=broker, market=market, kite=kite)


def run_day(
    settings: Settings,
    day: date,
    root: Path | None = None,
    on_minute: OnMinute | None = None,
    jobs: list[schedule.Job] | None = None,
    run: DayRun | None = None,
) -> dict[str, Any]:
    run = run or prepare(settings, day, root)
    try:
        result = drive_run(run, day, on_minute, jobs)
        if run.broker == "kite-sim":
            result["kite"] = run.kite.reconcile(run.deps, day)  # the book against the broker's trades
        return result
    finally:
        if run.kite is not None:
            run.kite.stop()


def drive_run(
    run: DayRun,
    day: date,
    on_minute: OnMinute | None = None,
    jobs: list[schedule.Job] | None = None,
) -> dict[str, Any]:
    """The day's jobs through the run's services on its clock (virtual, or following a running simulator),
    the bus delivered to the executor each minute; the day's summary with the run's own figures."""
    deps, bus = run.deps, run.bus
    clock = deps.clock
    assert isinstance(clock, VirtualClock | ScaledClock)

    def execute(data: bytes, attributes: dict[str, str]) -> None:
        outcome = execute_order(deps, data, attributes)
        run.outcomes[outcome] = run.outcomes.get(outcome, 0) + 1

    drive(
        day,
        clock,
        deps.calendar,
        lambda: bus.drain(deps.config.orders_topic, execute),
        lambda job: dispatch(deps, job.function, job.body),
        jobs,
        on_minute,
    )
    result = summarize(deps, day.isoformat())
    if not deps.calendar.is_trading_day(day):
        result["reason"] = deps.calendar.why_closed(day)
    if (decision := deps.store.get(decision_path(day.isoformat()))) is not None:
        result["live"] = decision  # mode live: Kite orders (armed) or paper, and why
    if records := deps.store.list(shadow_path(day)):  # shadow fills: the Kite calls they stand for
        result["shadow"] = {"calls": len(records), "refused": sum(1 for _, d in records if d.get("refused"))}
    result.update(run.summary(day))
    return result
