"""Firestore reads and writes of a whole trading day at 3 assets × 50, 200 and 500 symbols, per function
invocation, and whether a day fits Firestore's free daily quota (50,000 reads, 20,000 writes).

Counted with tron.devtools.metering.MeteredStore on the embedded backend: it counts the services' store
calls at the port, as Firestore bills them (get = 1 read, list = 1 read per document, set/create = 1 write,
transaction calls alike). The embedded and the Firestore backend make identical calls —
tests/integration/test_emulated_day.py runs the same morning on both and compares the per-function tables
and the Firestore adapter's own count; `--emulators N` repeats that check here on a whole day at N symbols.
The paper broker's bookkeeping (paper/…) is not a production cost (Kite keeps the orders) and is shown
apart. Ratios are against the smallest universe measured in the same run: bounded per-tick cost means ~1.0.

Which assets trade is whatever config/tron.yaml enables at the time of the run (futures and options were
being enabled while this was written): the script measures what exists; rerun it after changes.
Run: make bench-firestore   (or .venv/bin/python bench/bench_firestore_ops.py [50 200 500] [--emulators 10])"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from tron.config.settings import load_settings
from tron.devtools.metering import MeteredStore
from tron.runday.metered import metered_embedded_day

DAY = date(2026, 11, 23)
FREE_READS, FREE_WRITES = 50_000, 20_000


def _table(n: int, m: MeteredStore) -> None:
    print(f"\n{n} symbols — per function (production documents; paper broker apart)")
    print(f"  {'function':<14} {'calls':>6} {'reads':>8} {'writes':>7} {'max r/call':>10} {'max w/call':>10}")
    for name, f in m.report().items():
        print(
            f"  {name:<14} {f['invocations']:>6} {f['reads']:>8} {f['writes']:>7} "
            f"{f['max_reads']:>10} {f['max_writes']:>10}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description="Firestore operations of a whole day")
    ap.add_argument("sizes", nargs="*", type=int, default=[50, 200, 500])
    ap.add_argument("--emulators", type=int, metavar="N", help="also run a day at N symbols on the emulators")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            s = load_settings(data_dir=Path(tmp), symbols=n)
            summary, m, _ = metered_embedded_day(s, DAY, Path(tmp) / f"n{n}")
            enabled = [a.value for a, on in s.enabled().items() if on]
            ticks = {k: v for k, v in m.report().items() if k.startswith("tick_")}
            tick_calls = sum(v["invocations"] for v in ticks.values())
            tick_r = sum(v["reads"] for v in ticks.values()) / max(1, tick_calls)
            tick_w = sum(v["writes"] for v in ticks.values()) / max(1, tick_calls)
            max_r = max((v["max_reads"] for v in ticks.values()), default=0)
            max_w = max((v["max_writes"] for v in ticks.values()), default=0)
            orders = sum(a["orders_filled"] for a in summary["assets"].values())
            rows.append((n, enabled, m, tick_r, tick_w, max_r, max_w, orders))
            _table(n, m)
        base = rows[0]
        print(f"\nwhole day {DAY} (assets enabled: {', '.join(rows[0][1])})")
        print(
            f"{'symbols':>8} {'orders':>7} {'reads':>8} {'writes':>7} {'paper r/w':>12} "
            f"{'tick r avg/max':>15} {'tick w avg/max':>15} {'r/tick vs first':>16} "
            f"{'free quota (50k r, 20k w)':>27}"
        )
        for n, _, m, tr, tw, mr, mw, orders in rows:
            t = m.total
            fits = t.reads <= FREE_READS and t.writes <= FREE_WRITES
            use = f"{100 * t.reads / FREE_READS:.0f}% r, {100 * t.writes / FREE_WRITES:.0f}% w"
            print(
                f"{n:>8} {orders:>7} {t.reads:>8} {t.writes:>7} {t.paper_reads:>6}/{t.paper_writes:<5} "
                f"{tr:>8.2f}/{mr:<6} {tw:>8.2f}/{mw:<6} {tr / base[3]:>16.2f} "
                f"{('fits: ' if fits else 'EXCEEDS: ') + use:>27}"
            )
        if args.emulators:
            _check_on_emulators(args.emulators, Path(tmp))


def _check_on_emulators(n: int, tmp: Path) -> None:
    from tron.runday.emulators import run_emulated_day

    s = load_settings(data_dir=tmp, symbols=n)
    _, embedded, _ = metered_embedded_day(s, DAY, tmp / f"check-{n}")
    result = run_emulated_day(s, DAY, tmp / f"emulated-{n}")
    ops = result["firestore_ops"]
    same = ops["by_function"] == embedded.report()
    billed = ops["adapter_counted"]
    print(
        f"\nemulators, {n} symbols, whole day: per-function tables {'IDENTICAL' if same else 'DIFFER'} to the "
        f"embedded backend's; the Firestore adapter counted {billed['reads']} reads / {billed['writes']} "
        f"writes (metered {ops['total']['reads']}+{ops['paper_broker']['reads']} paper reads, "
        f"{ops['total']['writes']}+{ops['paper_broker']['writes']} paper writes)"
    )


if __name__ == "__main__":
    main()
