"""How long, in wall-clock time, the kill switch takes to flatten the account at the broker: from calling
`tron.services.kill_switch.engage_now` to Kite reporting no open position (p50, p95, max over the runs),
against the aim of under 5 s.

One kite-sim day (tron.runday.embedded.prepare with broker "kite-sim"): orders go through TRON's Kite adapter
(the official client) into the Kite simulator on loopback, whose order lifecycle runs over wall time. The
day is planned and the stocks ticked once at 09:15 (the tick state the square-off reads); then each run, two
virtual minutes after the last, claims N one-share stock entries (long and short alternately, stops 2%
away), executes them, and delivers the bus so each entry's protect intent rests its stop at the broker
(SL-M, TRIGGER PENDING, checked). A minute later the measured span starts: engage_now with flatten (the
square-off claims and publishes an exit per position, other TRON orders working are cancelled), the
in-process bus drained once into the executor (what Pub/Sub push does in a deployment: each exit converts its
position's resting stop into a market order, followed to its fill), then `net_positions` polled until it is
empty. Each run checks that every stop was converted (no order left resting, no tag twice at the
simulator), then releases the switch.

The peer measured in the same run is placing the same N entries: the executor called for each (a MARKET
order followed to its fill at the simulator, the fill booked), timed from the first call to the last return.
The ratio flatten / entries says what the machine's speed does not: both send N orders through the same
adapter to the same simulator, the flatten adding the switch, the square-off's claims and the broker reads.
Run: .venv/bin/python bench/bench_kill_switch.py --runs 20 --positions 10   [--seed 7] [--json]"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import numpy as np

from tron.adapters.clock import VirtualClock
from tron.adapters.kite import KiteBroker
from tron.config.settings import load_settings
from tron.domain.book import Book
from tron.domain.models import Asset, OrderIntent, Purpose, Side, intent_id
from tron.domain.timeutil import ist
from tron.runday.embedded import DayRun, prepare
from tron.services.claims import intent_doc
from tron.services.execute_order import execute_order
from tron.services.kill_switch import engage_now, set_kill_switch
from tron.services.messages import order_message
from tron.services.paths import book_path, intent_path, state_path
from tron.services.plan_day import plan_day
from tron.services.tick import tick
from tron.services.tick_state import instruments_from_doc

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 23)
FIRST = dtime(9, 20)  # the first run's entries; each run takes two virtual minutes
AIM_S = 5.0
RESTING = ("TRIGGER PENDING", "OPEN")
FLAT_TIMEOUT_S = 30.0


class Bench:
    """The kite-sim day the runs share, and the executor fed from its bus."""

    def __init__(self, run: DayRun) -> None:
        self.run = run
        self.deps = run.deps
        clock = run.deps.clock
        assert isinstance(clock, VirtualClock)
        self.clock = clock
        self.outcomes: Counter[str] = Counter()
        self.clock.set(ist(DAY, dtime(9, 0)))
        plan_day(self.deps)
        self.clock.set(ist(DAY, dtime(9, 15)))
        tick(self.deps, Asset.STOCKS)
        state = self.deps.store.get(state_path(DAY.isoformat(), Asset.STOCKS))
        assert state is not None, "the stocks' tick state was not written at 09:15"
        self.instruments = instruments_from_doc(state["instruments"], Asset.STOCKS)

    def drain(self) -> None:
        def execute(data: bytes, attributes: dict[str, str]) -> None:
            out = execute_order(self.deps, data, attributes)
            self.outcomes[f"{attributes.get('purpose')} {out}"] += 1

        self.run.bus.drain(self.deps.config.orders_topic, execute)

    def entries(self, symbols: list[str], now: datetime) -> list[OrderIntent]:
        """One-share entries decided now, claimed as a tick claims them."""
        snap = self.deps.market.snapshot(symbols)
        out = []
        for i, s in enumerate(symbols):
            inst, last = self.instruments[s], snap.quotes[s].last
            side = Side.BUY if i % 2 == 0 else Side.SELL
            sign = side.sign
            it = OrderIntent(
                intent_id(DAY, Asset.STOCKS, "benchkill", s, Purpose.ENTRY, now),
                DAY,
                Asset.STOCKS,
                s,
                inst.exchange,
                side,
                1,
                Purpose.ENTRY,
                "benchkill",
                "bench_kill_switch",
                now,
                stop=last * (1 - sign * 0.02),
                target=last * (1 + sign * 0.03),
                segment=inst.segment,
                tick_size=inst.tick_size,
                price=last,
            )
            assert self.deps.store.create(intent_path(DAY.isoformat(), it.intent_id), intent_doc(it, now))
            out.append(it)
        return out

    def book(self) -> Book:
        return Book.from_doc(self.deps.store.get(book_path(DAY.isoformat(), Asset.STOCKS)))

    def one(self, k: int, n: int) -> dict[str, Any]:
        """Run k: open n positions with resting stops, then engage the switch and time the flatten."""
        at = ist(DAY, FIRST) + timedelta(minutes=2 * k)
        self.clock.set(at)
        symbols = sorted(self.instruments)[:n]
        batch = self.entries(symbols, at)
        t0 = time.perf_counter()
        outs = [
            execute_order(self.deps, json.dumps(order_message(it)).encode(), {"intent_id": it.intent_id})
            for it in batch
        ]
        entries_s = time.perf_counter() - t0
        if outs != ["filled"] * n:
            raise SystemExit(f"run {k}: entries not all filled: {Counter(outs)}")
        self.drain()  # each entry's protect intent: its stop rests at the broker
        broker = self.deps.broker
        assert isinstance(broker, KiteBroker), type(broker)
        book = self.book()
        stops = {s: p.protect.order_id for s, p in book.positions.items() if p.protect is not None}
        if sorted(stops) != symbols:
            raise SystemExit(
                f"run {k}: stops resting for {sorted(stops)}, positions {sorted(book.positions)}"
            )
        status = {str(o["order_id"]): o["status"] for o in broker.orders()}
        if any(status.get(oid) != "TRIGGER PENDING" for oid in stops.values()):
            raise SystemExit(f"run {k}: a stop is not resting at the simulator")
        if len(broker.net_positions(DAY)) != n:
            raise SystemExit(f"run {k}: the broker holds {broker.net_positions(DAY)}")

        self.clock.set(at + timedelta(minutes=1))
        t0 = time.perf_counter()
        out = engage_now(self.deps, f"bench run {k}", True, "bench_kill_switch")
        t1 = time.perf_counter()
        self.drain()
        t2 = time.perf_counter()
        polls = 1
        while broker.net_positions(DAY):
            if time.perf_counter() - t0 > FLAT_TIMEOUT_S:
                raise SystemExit(f"run {k}: not flat {FLAT_TIMEOUT_S} s after engaging the kill switch")
            time.sleep(0.01)
            polls += 1
        flat_s = time.perf_counter() - t0

        orders = broker.orders()
        final = {str(o["order_id"]): o for o in orders}
        tags = Counter(str(o.get("tag") or "") for o in orders)
        converted = sum(
            1
            for oid in stops.values()
            if final[oid]["status"] == "COMPLETE" and final[oid]["order_type"] != "SL-M"
        )
        set_kill_switch(self.deps.store, False, "", True, self.clock.now(), "bench_kill_switch")
        return {
            "run": k,
            "at": at.strftime("%H:%M"),
            "positions": n,
            "exits": sum(len(v) for v in out["exits"].values()),
            "cancelled": len(out["cancelled"]),
            "entries_s": entries_s,
            "flat_s": flat_s,
            "engage_s": t1 - t0,
            "drain_s": t2 - t1,
            "polls": polls,
            "stops_converted": converted,
            "left_resting": sum(1 for o in orders if o["status"] in RESTING),
            "tags_twice": sum(1 for t, c in tags.items() if t and c > 1),
            "book_open": len(self.book().positions),
        }


def _stats(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "max": float(a.max())}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    flat, entries = _stats([r["flat_s"] for r in rows]), _stats([r["entries_s"] for r in rows])
    return {
        "runs": len(rows),
        "flat_s": flat,
        "engage_s": _stats([r["engage_s"] for r in rows]),
        "drain_s": _stats([r["drain_s"] for r in rows]),
        "entries_s": entries,
        "ratio": {q: flat[q] / entries[q] for q in ("p50", "p95", "max")},
        "aim_s": AIM_S,
        "p95_under_aim": flat["p95"] < AIM_S,
        "stops_converted": sum(r["stops_converted"] for r in rows),
        "positions": sum(r["positions"] for r in rows),
        "left_resting": sum(r["left_resting"] for r in rows),
        "tags_twice": max(r["tags_twice"] for r in rows),
        "book_open": sum(r["book_open"] for r in rows),
        "polls_over_one": sum(r["polls"] > 1 for r in rows),
    }


def report(rows: list[dict[str, Any]], s: dict[str, Any], seconds: float) -> None:
    n = rows[0]["positions"]
    print(
        f"{DAY} kite-sim, {s['runs']} runs of {n} open stock positions with stops resting at the broker "
        f"({seconds:.1f} s wall in all)"
    )
    print(
        f"stops converted into their exits: {s['stops_converted']} of {s['positions']}; orders left resting: "
        f"{s['left_resting']}; tags placed twice: {s['tags_twice']}; book positions left: {s['book_open']}; "
        f"runs not flat at the first read after the drain: {s['polls_over_one']}"
    )
    print(f"\n{'wall ms':44}{'p50':>9}{'p95':>9}{'max':>9}")
    for key, label in (
        ("flat_s", "engage_now → broker flat"),
        ("engage_s", "  of which engage_now (claims, cancels)"),
        ("drain_s", "  of which the bus drained (the exits)"),
        ("entries_s", f"peer: placing the same {n} entries"),
    ):
        st = s[key]
        print(f"{label:44}{1000 * st['p50']:>9.1f}{1000 * st['p95']:>9.1f}{1000 * st['max']:>9.1f}")
    r = s["ratio"]
    print(f"{'ratio flatten / entries':44}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['max']:>9.2f}")
    verdict = "under" if s["p95_under_aim"] else "NOT under"
    print(f"\np95 {s['flat_s']['p95']:.3f} s: {verdict} the {AIM_S:.0f} s aim")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--positions", type=int, default=10, help="open stock positions per run")
    p.add_argument("--seed", type=int, default=None, help="the market's seed (default: the configuration's)")
    p.add_argument("--json", action="store_true", help="print the summary and every run's row as JSON")
    a = p.parse_args()
    if a.runs < 1 or a.positions < 1:
        p.error("--runs and --positions must be at least 1")
    if a.runs * a.positions * 3 > 2900:  # entry, stop and exit per position count towards Kite's 3,000 a day
        p.error("runs × positions × 3 orders must stay under Kite's 3,000 a day")
    if ist(DAY, FIRST) + timedelta(minutes=2 * a.runs) > ist(DAY, dtime(15, 0)):
        p.error("too many runs for one day (two virtual minutes each from 09:20 to 15:00)")
    if not os.environ.get("TRON_CONFIG") and (REPO / "config" / "tron.yaml").is_file():
        os.environ["TRON_CONFIG"] = str(REPO / "config" / "tron.yaml")  # wherever it is run from
    with tempfile.TemporaryDirectory(prefix="tron-killswitch-") as tmp:
        kw: dict[str, Any] = {"seed": a.seed} if a.seed is not None else {}
        orders = min(3000, max(1000, a.runs * a.positions * 3 + 50))
        s = load_settings(
            data_dir=Path(tmp), symbols=max(a.positions, 10), guardrails={"max_orders_per_day": orders}, **kw
        )
        if s.stops != "broker":
            raise SystemExit(f"stops must rest at the broker (settings stops: broker), not {s.stops!r}")
        t0 = time.perf_counter()
        run = prepare(s, DAY, Path(tmp) / "run", broker="kite-sim")
        try:
            bench = Bench(run)
            if len(bench.instruments) < a.positions:
                raise SystemExit(f"only {len(bench.instruments)} stocks in the universe")
            rows = [bench.one(k, a.positions) for k in range(a.runs)]
        finally:
            run.kite.stop()
        seconds = time.perf_counter() - t0
    summary = summarize(rows)
    if a.json:
        print(json.dumps({"args": vars(a), "summary": summary, "runs": rows}, indent=1, default=str))
    else:
        report(rows, summary, seconds)


if __name__ == "__main__":
    main()
