"""`tron run-day --backend emulators` against the embedded backend: the same seed gives the same intents,
fills and trades, and both backends make the same store calls (so a day's Firestore bill can be measured on
the embedded backend: bench/bench_firestore_ops.py).

The first 45 minutes rather than a whole day keeps the suite fast; `tron run-day --backend emulators` runs the whole of
tron/data/jobs.yaml (about 25 s at 10 symbols)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support.days import HOLIDAY, TRADING_DAY, settings
from tron.config.schedule import Job
from tron.devtools.emulators import Emulators
from tron.runday.emulators import run_emulated_day
from tron.runday.metered import metered_embedded_day

pytestmark = pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated:DeprecationWarning")

ASSETS = ("stocks", "futures", "options")
MORNING = [
    Job("plan-day", "plan_day", "0 9 * * *"),
    *[Job(f"tick-{a}-open", f"tick_{a}", "15-59 9 * * *") for a in ASSETS],
    Job("square-off", "square_off", "0,2 10 * * *", {"asset": "all"}),
    Job("end-of-day", "end_of_day", "5 10 * * *"),
]


def _fills(intents: dict[str, dict]) -> dict[str, tuple]:
    return {
        iid: (d["state"], d["symbol"], d["side"], d["qty"], (d.get("fill") or {}).get("price"))
        for iid, d in intents.items()
    }


def test_same_seed_same_trades_on_the_emulators_as_embedded(tmp_path: Path, servers: Emulators) -> None:
    s = settings(tmp_path, symbols=10, seed=7, orders_topic=f"orders-{uuid.uuid4().hex[:10]}")
    embedded, meter, run = metered_embedded_day(s, TRADING_DAY, tmp_path / "embedded", MORNING)
    embedded_intents = dict(run.deps.store.list(f"days/{TRADING_DAY}/intents"))

    emulated = run_emulated_day(s, TRADING_DAY, tmp_path / "emulated", jobs=MORNING, emulators=servers)
    state = json.loads(Path(emulated["state"]).read_text())
    prefix = f"days/{TRADING_DAY}/intents/"
    emulated_intents = {p.removeprefix(prefix): d for p, d in state.items() if p.startswith(prefix)}

    filled = [d for d in embedded_intents.values() if d["state"] == "filled"]
    assert filled, "no order in the morning: pick a busier seed"
    assert _fills(emulated_intents) == _fills(embedded_intents)
    assert emulated["assets"] == embedded["assets"]
    assert emulated["orders_placed"] == embedded["orders_placed"] >= len(filled)
    assert emulated["bus"]["published"] == run.bus.published
    assert emulated["bus"]["pushes_failed"] == emulated["bus"]["dead_lettered"] == 0
    paper = len([p for p in state if p.startswith(f"paper/{TRADING_DAY}/orders/")])
    assert paper == emulated["orders_placed"]  # one broker order per intent

    # The same store calls on both backends, function by function; and the Firestore adapter's own count
    # (what Firestore bills) equals the metered count.
    ops = emulated["firestore_ops"]
    assert ops["by_function"] == meter.report()
    assert ops["adapter_counted"] == {
        "reads": ops["total"]["reads"] + ops["paper_broker"]["reads"],
        "writes": ops["total"]["writes"] + ops["paper_broker"]["writes"],
    }

    # Each function is metered per invocation; a tick reads and writes a handful of documents (and two more
    # reads for each stop that filled at the broker that minute: its intent and the book, in one transaction).
    ticks = ops["by_function"]["tick_stocks"]
    assert ticks["invocations"] == 45 and ticks["max_reads"] <= 14 and ticks["max_writes"] <= 10

    logs = [json.loads(line) for line in Path(emulated["logs"]).read_text().splitlines()]
    assert logs and {"severity", "message", "component", "time"} <= set(logs[0])
    assert (Path(emulated["report_html"])).exists()


def test_a_holiday_on_the_emulators_places_nothing(tmp_path: Path, servers: Emulators) -> None:
    s = settings(tmp_path, symbols=5, orders_topic=f"orders-{uuid.uuid4().hex[:10]}")
    result = run_emulated_day(s, HOLIDAY, tmp_path / "holiday", emulators=servers)
    assert result["trading_day"] is False and result["reason"]
    assert result["orders_placed"] == 0 and result["bus"]["published"] == 0
