"""tron.services.tick_state: the state a tick reads and writes — other assets' entries in flight count,
and the counters survive a restart."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

from tests.support.days import at, embedded_deps
from tests.support.domain import LIM
from tron.domain.models import Asset
from tron.domain.plan import AssetPlan

DAY = date(2026, 11, 23)


def test_entries_in_flight_count_for_the_other_assets(tmp_path) -> None:
    from tron.services.paths import in_flight_path
    from tron.services.tick_state import _elsewhere

    deps = embedded_deps(tmp_path)
    deps.store.set(in_flight_path(str(DAY)), {"futures": {"worst": "3400.50", "margin": "190000"}})
    plan = AssetPlan(Asset.STOCKS, True, (), LIM)
    margin, net, worst = deps.store.transaction(lambda txn: _elsewhere(txn, str(DAY), Asset.STOCKS, plan))
    assert (margin, net, worst) == (Decimal("190000"), Decimal("0"), Decimal("3400.50"))
    own = deps.store.transaction(lambda txn: _elsewhere(txn, str(DAY), Asset.FUTURES, plan))
    assert own == (Decimal("0"), Decimal("0"), Decimal("0"))  # its own in-flight entries are in its state


# ---------------------------------------------------------------------------------- counters survive a restart
def _drive(settings_, root, until: time, restart_at: time | None = None) -> dict:
    """Plan and tick every asset minute by minute on the embedded backend; optionally throw the whole
    process state away at restart_at (new Deps, new bus, new clock) and continue on the same SQLite store."""

    from tron.adapters.clock import VirtualClock
    from tron.bootstrap import embedded
    from tron.services.execute_order import execute_order
    from tron.services.plan_day import plan_day
    from tron.services.tick import tick

    def build():
        deps, bus = embedded(settings_, VirtualClock(at(9, 0)), root, log_to_archive=False)
        return deps, bus

    deps, bus = build()
    plan_day(deps)
    t = at(9, 15)
    while t.time() <= until:
        deps.clock.set(t)
        bus.drain(deps.config.orders_topic, lambda data, attrs, d=deps: execute_order(d, data, attrs))
        if restart_at is not None and t.time() == restart_at:
            # a cold start between the executor and the ticks: only the store survives (the drained bus
            # holds nothing, as Pub/Sub would keep anything undelivered)
            deps, bus = build()
            deps.clock.set(t)
        for a in Asset:
            tick(deps, a)
        t += timedelta(minutes=1)
    out = {}
    for a in Asset:
        book = deps.store.get(f"days/{DAY}/books/{a}") or {}
        state = deps.store.get(f"days/{DAY}/assets/{a}") or {}
        out[a.value] = {
            k: book.get(k) for k in ("entries", "entries_by_symbol", "orders_filled", "trades", "net")
        } | {"pending": sorted(state.get("pending", {})), "last_minute": state.get("last_minute")}
    out["intents"] = sorted(k for k, _ in deps.store.list(f"days/{DAY}/intents"))
    return out


def test_counters_survive_a_restart(tmp_path) -> None:
    from tests.support.days import settings as make_settings

    # a ₹20,000 limit: at ₹5,000 the futures lot's worst case with its slippage band leaves it unapproved
    s = make_settings(
        tmp_path, symbols=3, seed=7, risk={"daily_loss_limit": 20000, "daily_loss_limit_pct": 5}
    )
    straight = _drive(s, tmp_path / "a", time(10, 6))
    # 09:59: a futures entry (decided 09:58) has just filled and an options call is open
    restarted = _drive(s, tmp_path / "b", time(10, 6), restart_at=time(9, 59))
    assert {i.split("-")[1] for i in straight["intents"]} == {"stocks", "futures", "options"}
    assert restarted == straight
