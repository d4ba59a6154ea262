"""Smoke mode against the Kite simulator: exactly one share of a stock and one NIFTY call lot, each with its
stop resting at the broker, moved once and converted into the exit, every broker answer recorded, and the
account flat at the end."""

from __future__ import annotations

from collections import Counter
from datetime import time
from pathlib import Path

import pytest

from tests.support.days import TRADING_DAY, settings
from tron.domain.models import Asset
from tron.domain.timeutil import ist
from tron.runday.embedded import DayRun, prepare
from tron.services.execute_order import execute_order
from tron.services.smoke import SmokeFailed, run_smoke, smoke_path


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    run = prepare(settings(tmp_path, symbols=5), TRADING_DAY, tmp_path / "run", broker="kite-sim")
    run.deps.clock.set(ist(TRADING_DAY, time(10, 0)))  # type: ignore[attr-defined]
    yield run
    run.kite.stop()


def deliver(run: DayRun):  # type: ignore[no-untyped-def]
    deps = run.deps
    return lambda: run.bus.drain(
        deps.config.orders_topic, lambda data, attrs: execute_order(deps, data, attrs)
    )


def test_smoke_places_exactly_its_one_share_and_one_lot(run: DayRun) -> None:
    kite = run.deps.broker
    stock = sorted(i.symbol for i in run.deps.market.instruments(Asset.STOCKS))[0]
    out = run_smoke(run.deps, deliver(run), stock)

    (share, lot) = out["legs"]
    assert (share["symbol"], share["qty"]) == (stock, 1) and lot["symbol"].startswith("NIFTY")
    assert lot["qty"] == 65 and lot["symbol"].endswith("CE")
    for leg in out["legs"]:
        assert leg["steps"]["entry"] == "filled" and leg["steps"]["trail"] == "resting"
        assert leg["steps"]["exit"] == "filled" and leg["broker_position"] == 0
    assert share["steps"]["stop"].startswith("SL-M") and lot["steps"]["stop"].startswith("SL ")

    orders = kite.orders()  # type: ignore[attr-defined]
    # Per leg: the entry, and the stop that was moved once and became the exit: two orders, nothing else.
    assert Counter(o["tradingsymbol"] for o in orders) == {stock: 2, lot["symbol"]: 2}
    assert {o["quantity"] for o in orders if o["tradingsymbol"] == stock} == {1}
    assert {o["quantity"] for o in orders if o["tradingsymbol"] == lot["symbol"]} == {65}
    assert all(o["status"] == "COMPLETE" for o in orders)
    assert len({o["tag"] for o in orders}) == 4  # no tag twice

    recorded = [
        run.deps.store.get(smoke_path(TRADING_DAY.isoformat(), n)) for n in range(1, out["broker_calls"] + 1)
    ]
    calls = Counter(r["call"] for r in recorded if r)
    assert calls["place"] == 4 and calls["modify"] == 2 and calls["convert"] == 2
    assert all(r and "answer" in r and r["seconds"] >= 0 for r in recorded)


def test_a_stock_not_listed_stops_the_smoke_before_any_order(run: DayRun) -> None:
    with pytest.raises(SmokeFailed, match="NOPE is not listed"):
        run_smoke(run.deps, deliver(run), "NOPE")
    assert run.deps.broker.inner.orders() == []  # type: ignore[attr-defined]
