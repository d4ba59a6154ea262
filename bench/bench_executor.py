"""The executor on the emulators: latency from publish to recorded fill (p50, p95) and sustained throughput
at Kite's limit of 10 orders a second, with nothing placed twice.

Path measured: PubSubBus.publish → Pub/Sub emulator → push subscription (retry policy, dead-letter topic) →
functions-framework's execute_order over HTTP → FirestoreStore transactions on the Firestore emulator →
paper fill. "Recorded" is the moment the executor answered 2xx: the fill transaction has committed.
The functions host runs one invocation at a time (one instance, concurrency 1).

Peers measured in the same run: the same service on the embedded backend through the in-process bus
(SQLite), and the same service on the Firestore emulator called directly (no Pub/Sub, no HTTP); the ratios
show what Pub/Sub push and the emulator's Firestore cost on top.

Intents are made up here (stocks, BUY 1, decided at 09:30, executed at 09:31) and claimed in the store as a
tick would claim them. The paper broker lists the day's paper orders at every placement (its own
bookkeeping, not a production cost), so Firestore is wiped between phases to keep them comparable.
Run: make bench-executor   (or .venv/bin/python bench/bench_executor.py [--orders 200] [--rate 10])"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

from tron.bootstrap import embedded
from tron.config.settings import load_settings
from tron.devtools import emulators as dev
from tron.domain.models import Asset, OrderIntent, Purpose, Side
from tron.domain.timeutil import ist
from tron.runday.emulators import PROJECT, EmulatedDay, start
from tron.services.claims import intent_doc
from tron.services.execute_order import execute_order

DAY = date(2026, 11, 23)
DECIDED, EXECUTE = ist(DAY, dtime(9, 30)), ist(DAY, dtime(9, 31))


def intents(n: int, symbols: list[str], label: str) -> list[OrderIntent]:
    return [
        OrderIntent(
            intent_id=f"{DAY:%Y%m%d}-stocks-bench{label}-{symbols[i % len(symbols)]}-{i:05d}",
            day=DAY,
            asset=Asset.STOCKS,
            symbol=symbols[i % len(symbols)],
            exchange="NSE",
            side=Side.BUY,
            qty=1,
            purpose=Purpose.ENTRY,
            strategy="bench",
            reason="bench",
            decided_at=DECIDED,
        )
        for i in range(n)
    ]


def claim(deps: Any, batch: list[OrderIntent], now: datetime) -> None:
    for it in batch:
        assert deps.store.create(f"days/{DAY}/intents/{it.intent_id}", intent_doc(it, now))


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def ms(xs: list[float]) -> str:
    return f"{1000 * pct(xs, 50):8.1f} {1000 * pct(xs, 95):8.1f}"


def attrs(it: OrderIntent) -> dict[str, str]:
    return {"intent_id": it.intent_id, "asset": it.asset.value, "purpose": it.purpose.value}


def wait_acked(run: EmulatedDay, mids: list[str], timeout_s: float = 120) -> None:
    gate = run.host.gate
    if not gate.wait_settled(lambda: all(m in gate.acked_at for m in mids), timeout_s):
        raise SystemExit(f"{sum(m not in gate.acked_at for m in mids)} orders not filled after {timeout_s} s")


def verify_once(deps: Any, batch: list[OrderIntent]) -> tuple[int, int]:
    """(orders placed more than once, intents not filled)."""
    tags: dict[str, int] = {}
    for _, d in deps.store.list(f"paper/{DAY}/orders"):
        tags[d["tag"]] = tags.get(d["tag"], 0) + 1
    twice = sum(1 for it in batch if tags.get(it.tag, 0) > 1)
    unfilled = sum(
        1
        for it in batch
        if (deps.store.get(f"days/{DAY}/intents/{it.intent_id}") or {}).get("state") != "filled"
    )
    return twice, unfilled


def emulator_latency(run: EmulatedDay, batch: list[OrderIntent]) -> list[float]:
    """One order at a time: publish, wait for its fill."""
    out = []
    for it in batch:
        t0 = time.monotonic()
        mid = run.bus.publish(run.settings.orders_topic, it.to_dict(), attrs(it))
        wait_acked(run, [mid])
        out.append(run.host.gate.acked_at[mid] - t0)
    return out


def emulator_paced(
    run: EmulatedDay, batch: list[OrderIntent], rate: float | None
) -> tuple[list[float], float]:
    """Publish at `rate` a second (None: as fast as publishing goes); latencies and fills per second."""
    sent: dict[str, float] = {}
    t_start = time.monotonic()
    for i, it in enumerate(batch):
        if rate:
            delay = t_start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        t0 = time.monotonic()
        sent[run.bus.publish(run.settings.orders_topic, it.to_dict(), attrs(it))] = t0
    wait_acked(run, list(sent))
    done = [run.host.gate.acked_at[m] for m in sent]
    latencies = [run.host.gate.acked_at[m] - t for m, t in sent.items()]
    return latencies, len(batch) / (max(done) - t_start)


def direct_latency(deps: Any, batch: list[OrderIntent], drain: Any = None) -> list[float]:
    """The peer paths: the executor called in-process (through the in-process bus when `drain` is given)."""
    out = []
    for it in batch:
        t0 = time.monotonic()
        if drain is None:
            execute_order(deps, json.dumps(it.to_dict(), sort_keys=True).encode(), attrs(it))
        else:
            deps.bus.publish("orders", it.to_dict(), attrs(it))
            drain("orders", lambda data, a: execute_order(deps, data, a))
        out.append(time.monotonic() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="executor latency and throughput on the emulators")
    ap.add_argument("--orders", type=int, default=200, help="orders per throughput phase")
    ap.add_argument("--latency-orders", type=int, default=50)
    ap.add_argument(
        "--rate", type=float, default=10.0, help="publish rate of the sustained phase (Kite: 10/s)"
    )
    ap.add_argument(
        "--concurrent", action="store_true", help="let pushes execute concurrently (default: one at a time)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        s = load_settings(data_dir=Path(tmp), symbols=50)

        # Peer 1: the embedded backend through the in-process bus.
        deps, bus = embedded(s, _clock(), Path(tmp) / "embedded", log_to_archive=False)
        symbols = [i.symbol for i in deps.market.instruments(Asset.STOCKS)][:50]
        warm = intents(5, symbols, "w")
        claim(deps, warm, DECIDED)
        direct_latency(deps, warm, bus.drain)
        batch = intents(args.latency_orders, symbols, "p")
        claim(deps, batch, DECIDED)
        inproc = direct_latency(deps, batch, bus.drain)

        run = start(s, DAY, Path(tmp) / "emulated", serialize=not args.concurrent)
        try:
            assert run.emulators.firestore is not None
            run.clock.set(EXECUTE)
            wipe = lambda: dev.wipe_firestore(run.emulators.firestore, PROJECT)  # noqa: E731

            # Peer 2: the executor on the Firestore emulator, called directly.
            warm = intents(5, symbols, "x")
            claim(run.deps, warm, DECIDED)
            direct_latency(run.deps, warm)
            batch = intents(args.latency_orders, symbols, "d")
            claim(run.deps, batch, DECIDED)
            direct = direct_latency(run.deps, batch)
            wipe()

            # Publish → push → recorded fill, one at a time.
            warm = intents(5, symbols, "y")
            claim(run.deps, warm, DECIDED)
            emulator_latency(run, warm)
            batch = intents(args.latency_orders, symbols, "l")
            claim(run.deps, batch, DECIDED)
            single = emulator_latency(run, batch)
            wipe()

            # Sustained at Kite's rate, then as fast as the executor goes.
            paced_batch = intents(args.orders, symbols, "r")
            claim(run.deps, paced_batch, DECIDED)
            paced, paced_tput = emulator_paced(run, paced_batch, args.rate)
            paced_twice, paced_unfilled = verify_once(run.deps, paced_batch)
            wipe()
            flood_batch = intents(args.orders, symbols, "f")
            claim(run.deps, flood_batch, DECIDED)
            flood, flood_tput = emulator_paced(run, flood_batch, None)
            flood_twice, flood_unfilled = verify_once(run.deps, flood_batch)
            pushes, failed = run.host.gate.received, sum(run.host.gate.failed.values())
        finally:
            run.stop()

    base = pct(inproc, 50)
    print(f"executor latency, publish → recorded fill ({args.latency_orders} orders each, one at a time)")
    print(f"{'path':<58} {'p50 ms':>8} {'p95 ms':>8} {'p50 vs in-proc':>15}")
    for name, xs in (
        ("in-process bus, SQLite (peer)", inproc),
        ("executor called directly on the Firestore emulator (peer)", direct),
        ("Pub/Sub push → functions-framework → Firestore emulator", single),
        (f"  same, while sustaining {args.rate:g} orders/s ({args.orders} orders)", paced),
        (f"  same, published as fast as possible ({args.orders} orders)", flood),
    ):
        print(f"{name:<58} {ms(xs)} {pct(xs, 50) / base:>14.1f}x")
    print(
        f"\nthroughput: offered {args.rate:g}/s → filled {paced_tput:.1f}/s sustained "
        f"({paced_twice} placed twice, {paced_unfilled} unfilled); "
        f"capacity (flood) {flood_tput:.1f}/s ({flood_twice} placed twice, {flood_unfilled} unfilled)"
    )
    print(
        f"pushes received {pushes}, answered non-2xx {failed}; executor "
        f"{'concurrent' if args.concurrent else 'one invocation at a time'}"
    )


def _clock() -> Any:
    from tron.adapters.clock import VirtualClock

    return VirtualClock(EXECUTE)


if __name__ == "__main__":
    main()
