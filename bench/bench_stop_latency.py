"""How long, in wall-clock time, an entry's position stands unprotected on a kite-sim day: from the entry's
fill being known to TRON to its protective stop resting at the broker (p50, p95, max).

Each day is `tron run-day --broker kite-sim` (tron.runday.embedded: prepare, then run_day): orders go through
TRON's Kite adapter (the official client) into the Kite simulator on loopback, whose order lifecycle runs
over wall time. The run's broker is wrapped in a recording proxy (nothing in production is changed) that
notes time.perf_counter() before and after every `place` (and `find_by_tag`, which adopts an order after a
failed try). An entry's fill is known when its place returns (or the find_by_tag that adopted it); its stop
rests when the place of its protect intent (`<entry id>-S1`, tron.domain.protect.protect_id) returns it
TRIGGER PENDING or OPEN. The latency between them is TRON's own path (the fill's transaction, which claims
the protect intent, its publication, the embedded bus delivering it within the same drain, after the orders
already queued in that minute, the executor's claim) plus the simulator's lifecycle for the stop; it is
split into "wait" (until the stop's place is called) and "place" (the stop's place call itself).

The peer measured in the same run is the entry order's own latency, from its place request to its fill
known (the same adapter, the same simulator, a MARKET order followed to its end): the ratio stop / entry
says what the machine's speed does not. Entries that got no resting stop are counted by why, from their
protect intents' states in the store.
Run: .venv/bin/python bench/bench_stop_latency.py --dates 2026-11-23 --symbols 10   [--seed 7] [--json]"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import numpy as np

from tron.adapters.kite import KiteBroker
from tron.domain.models import OrderIntent
from tron.domain.protect import protect_id
from tron.ports import Broker, BrokerOrder
from tron.runday.embedded import prepare, run_day
from tron.runday.kite_sim import KiteSimRun

REPO = Path(__file__).resolve().parents[1]
RESTING = ("TRIGGER PENDING", "OPEN")
FILLED = ("COMPLETE", "CANCELLED")  # an entry placed (CANCELLED: filled in part, the rest cancelled)


@dataclass
class Call:
    """One recorded broker call: what it was for, and when it started and returned (perf_counter s)."""

    method: str  # place | find_by_tag
    key: str  # place: the intent id; find_by_tag: the tag
    purpose: str  # place: the intent's purpose; find_by_tag: "" (resolved from the store)
    start: float
    end: float
    status: str  # the order's status as returned, "none" (no order with the tag) or "raised <exception>"


class RecordingBroker:
    """The run's KiteBroker, forwarding everything, with every place and find_by_tag timed."""

    def __init__(self, inner: KiteBroker) -> None:
        self.inner = inner
        self.calls: list[Call] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def place(self, intent: OrderIntent) -> BrokerOrder:
        t0 = time.perf_counter()
        status = "?"
        try:
            order = self.inner.place(intent)
            status = order.status
            return order
        except Exception as e:
            status = f"raised {type(e).__name__}"
            raise
        finally:
            t1 = time.perf_counter()
            self.calls.append(Call("place", intent.intent_id, intent.purpose.value, t0, t1, status))

    def find_by_tag(self, day: date, tag: str) -> BrokerOrder | None:
        t0 = time.perf_counter()
        status = "?"
        try:
            order = self.inner.find_by_tag(day, tag)
            status = "none" if order is None else order.status
            return order
        except Exception as e:
            status = f"raised {type(e).__name__}"
            raise
        finally:
            self.calls.append(Call("find_by_tag", tag, "", t0, time.perf_counter(), status))


@dataclass
class _UnwrappingKiteSim(KiteSimRun):
    """The run's simulator, handing the end-of-day reconciliation the real broker (it asserts a KiteBroker)."""

    real: KiteBroker | None = None

    def reconcile(self, deps: Any, day: date) -> dict[str, Any]:
        if self.real is not None:
            deps.broker = self.real
        return super().reconcile(deps, day)


def _why(doc: dict[str, Any] | None) -> str:
    """Why an entry got no resting stop, from its protect intent as the store holds it."""
    if doc is None:
        return "no protect intent (no stop, or one below a tick)"
    reason = next((h["reason"] for h in reversed(doc.get("history", [])) if h.get("reason")), "")
    return f"protect {doc.get('state')}" + (f": {reason}" if reason else "")


def run_one(day: str, symbols: int, seed: int | None) -> dict[str, Any]:
    """A kite-sim day in its own temp data dir; a row per filled entry, and the day's totals."""
    from tron.config.settings import load_settings

    d = date.fromisoformat(day)
    with tempfile.TemporaryDirectory(prefix=f"tron-stoplat-{day}-") as tmp:
        kw: dict[str, Any] = {"symbols": symbols} | ({"seed": seed} if seed is not None else {})
        s = load_settings(data_dir=Path(tmp), **kw)
        t0 = time.perf_counter()
        run = prepare(s, d, Path(tmp) / "run", broker="kite-sim")
        real = run.deps.broker
        assert isinstance(real, KiteBroker), type(real)
        rec = RecordingBroker(real)
        run.deps.broker = cast(Broker, rec)
        k = run.kite
        run.kite = _UnwrappingKiteSim(k.sim, k.running, k.settings, real=real)
        result = run_day(s, d, run=run)
        secs = time.perf_counter() - t0
        docs = {doc["intent_id"]: doc for _, doc in run.deps.store.list(f"days/{day}/intents")}
    by_tag = {str(doc.get("tag")): i for i, doc in docs.items()}

    def purpose(c: Call) -> str:
        return c.purpose or str(docs.get(by_tag.get(c.key, ""), {}).get("purpose", ""))

    def intent(c: Call) -> str:
        return c.key if c.method == "place" else by_tag.get(c.key, "")

    # per intent, its recorded calls in order
    calls: dict[str, list[Call]] = {}
    for c in rec.calls:
        calls.setdefault(intent(c), []).append(c)
    rows: list[dict[str, Any]] = []
    for iid, doc in docs.items():
        if doc.get("purpose") != "entry" or doc.get("state") != "filled":
            continue
        mine = calls.get(iid, [])
        known = next((c for c in mine if c.method == "place" and c.status in FILLED), None)
        adopted = known is None
        if adopted:  # an earlier delivery died placing it; the next found it by its tag and booked it
            known = next((c for c in mine if c.method == "find_by_tag" and c.status in FILLED), None)
        pid = protect_id(iid)
        pdoc = docs.get(pid)
        pcalls = calls.get(pid, [])
        rest = next((c for c in pcalls if c.status in RESTING), None)
        row: dict[str, Any] = {
            "date": day,
            "intent_id": iid,
            "symbol": doc.get("symbol"),
            "decided_at": doc.get("decided_at"),
            "asset": doc.get("asset"),
            "adopted": adopted,
            "entry_ms": None if adopted or known is None else 1000 * (known.end - known.start),
            "protect_state": None if pdoc is None else pdoc.get("state"),
            "protect_tries": len(pcalls),
        }
        if rest is not None and known is not None:
            first = pcalls[0]
            row.update(
                rested=True,
                stop_ms=1000 * (rest.end - known.end),
                wait_ms=1000 * (first.start - known.end),
                place_ms=1000 * (rest.end - rest.start),
                # broker calls of other intents made in between (the drain delivers what was queued first)
                behind=sum(1 for c in rec.calls if known.end <= c.start < first.start),
                stop_type=pdoc.get("order_type") if pdoc else None,
            )
        else:
            statuses = ",".join(c.status for c in pcalls)
            row.update(rested=False, why=_why(pdoc) + (f" (broker: {statuses})" if statuses else ""))
        rows.append(row)
    return {
        "date": day,
        "seconds": round(secs, 2),
        "orders_placed": result.get("orders_placed"),
        "book_matches_broker": (result.get("kite") or {}).get("book_matches_broker"),
        "broker_calls": Counter(f"{c.method} {purpose(c)}" for c in rec.calls),
        "entries": rows,
    }


def _stats(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    a = np.asarray(xs)
    return {
        "n": len(xs),
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "max": float(a.max()),
    }


def summarize(days: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r for d in days for r in d["entries"]]
    rested = [r for r in rows if r["rested"]]
    stop = _stats([r["stop_ms"] for r in rested])
    entry = _stats([r["entry_ms"] for r in rows if r["entry_ms"] is not None])
    return {
        "entries_filled": len(rows),
        "rested": len(rested),
        "not_rested": len(rows) - len(rested),
        "not_rested_why": dict(Counter(r["why"] for r in rows if not r["rested"])),
        "adopted_entries": sum(r["adopted"] for r in rows),
        "stop_ms": stop,
        "wait_ms": _stats([r["wait_ms"] for r in rested]),
        "place_ms": _stats([r["place_ms"] for r in rested]),
        "stop_ms_alone": _stats([r["stop_ms"] for r in rested if r["behind"] == 0]),
        "entry_ms": entry,
        "ratio": {q: stop[q] / entry[q] if entry[q] else float("nan") for q in ("p50", "p95", "max")},
    }


def report(days: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    for d in days:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(d["broker_calls"].items()))
        print(
            f"{d['date']}: {d['seconds']:.1f} s wall, {d['orders_placed']} orders placed, "
            f"book matches broker: {d['book_matches_broker']}; broker calls: {calls}"
        )
    s = summary
    print(
        f"\nentries filled: {s['entries_filled']} (adopted after a failed try: {s['adopted_entries']}); "
        f"stop resting at the broker: {s['rested']}; not resting: {s['not_rested']}"
    )
    for why, n in sorted(s["not_rested_why"].items(), key=lambda x: -x[1]):
        print(f"  {n:>4}  {why}")
    print(f"\n{'wall ms':44}{'n':>5}{'p50':>9}{'p95':>9}{'max':>9}")
    for key, label in (
        ("stop_ms", "entry fill known → its stop resting"),
        ("wait_ms", "  of which until the stop's place is called"),
        ("place_ms", "  of which the stop's place call"),
        ("stop_ms_alone", "  stops not queued behind another order"),
        ("entry_ms", "peer: entry place → its fill known"),
    ):
        st = s[key]
        print(f"{label:44}{st['n']:>5}{st['p50']:>9.1f}{st['p95']:>9.1f}{st['max']:>9.1f}")
    r = s["ratio"]
    print(f"{'ratio stop / entry':44}{'':>5}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['max']:>9.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dates", default="2026-11-23", help="comma-separated trading days")
    p.add_argument("--symbols", type=int, default=10)
    p.add_argument("--seed", type=int, default=None, help="the market's seed (default: the configuration's)")
    p.add_argument("--json", action="store_true", help="print the summary and every entry's row as JSON")
    a = p.parse_args()
    if not os.environ.get("TRON_CONFIG") and (REPO / "config" / "tron.yaml").is_file():
        os.environ["TRON_CONFIG"] = str(REPO / "config" / "tron.yaml")  # wherever it is run from
    days = [run_one(day.strip(), a.symbols, a.seed) for day in a.dates.split(",") if day.strip()]
    summary = summarize(days)
    if a.json:
        print(json.dumps({"args": vars(a), "summary": summary, "days": days}, indent=1, default=str))
    else:
        report(days, summary)


if __name__ == "__main__":
    main()
