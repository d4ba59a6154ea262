"""The session state's per-tick cost and stored size with all ten strategies planned.

A day of 375 one-minute bars for N symbols is folded into SessionState snapshot by snapshot (what the live
tick does), and the ten strategies are evaluated on every bar. The peer measured in the same run is the
vectorized indicators (tron.domain.indicators) computing EMA/RSI/MACD/Bollinger/ATR over the whole day at
once — the cheapest possible way to get the same numbers, but only after the day is over. The ratio says
what computing them live, bar by bar, costs on top. The stored document's size is printed too (Firestore's
limit is 1 MiB), with the cost of storing and loading it (to_doc + JSON + from_doc), which the live tick pays
once a minute.
Run: .venv/bin/python bench/bench_session.py 50 500"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, timedelta
from datetime import time as clock_time

import numpy as np

from tron.domain import indicators as ind
from tron.domain.models import Quote, Snapshot
from tron.domain.plan import StrategyChoice
from tron.domain.session import SessionState
from tron.domain.strategies import REGISTRY, evaluate, new_session
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)
BARS = 375


def snapshots(n: int) -> tuple[list[Snapshot], np.ndarray]:
    rng = np.random.default_rng(1)
    px = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.001, (BARS + 1, n)), axis=0)), 2)
    vol = np.cumsum(rng.integers(0, 5000, (BARS + 1, n)), axis=0)
    t0 = ist(DAY, clock_time(9, 15))
    symbols = [f"S{j}" for j in range(n)]
    out = []
    for k in range(BARS + 1):
        ts = t0 + timedelta(minutes=k)
        hi, lo = px[: k + 1].max(axis=0), px[: k + 1].min(axis=0)
        out.append(
            Snapshot(
                ts,
                {
                    s: Quote(s, ts, float(px[k, j]), 0, 0, int(vol[k, j]), 0, float(hi[j]), float(lo[j]), 0)
                    for j, s in enumerate(symbols)
                },
            )
        )
    return out, px


def main(sizes: list[int]) -> None:
    choices = [StrategyChoice(n) for n in REGISTRY]
    print(
        f"{'symbols':>8} {'apply ms/bar':>13} {'+10 strategies ms/bar':>22} {'vectorized day ms':>18} "
        f"{'ratio':>6} {'doc bytes':>10} {'store+load ms':>14}"
    )
    for n in sizes:
        snaps, px = snapshots(n)
        st = new_session([f"S{j}" for j in range(n)], choices)
        t0 = time.perf_counter()
        for s in snaps:
            st.apply(s)
        apply_s = time.perf_counter() - t0
        st = new_session([f"S{j}" for j in range(n)], choices)
        t1 = time.perf_counter()
        for s in snaps:
            bar = st.apply(s)
            if bar is not None:
                evaluate(choices, st, bar)
        full_s = time.perf_counter() - t1
        t3 = time.perf_counter()
        for _ in range(10):
            stored = json.dumps(st.to_doc())
            SessionState.from_doc(json.loads(stored))
        store_ms = (time.perf_counter() - t3) * 100
        doc = len(stored.encode())
        t2 = time.perf_counter()
        ind.ema(px, 5), ind.ema(px, 15), ind.rsi(px, 7), ind.macd(px), ind.bollinger(px, 20, 2.0)
        ind.atr(px, px, px, 14)
        vec_s = time.perf_counter() - t2
        print(
            f"{n:>8} {apply_s / BARS * 1000:>13.2f} {full_s / BARS * 1000:>22.2f} {vec_s * 1000:>18.1f} "
            f"{full_s / vec_s:>6.1f} {doc:>10,} {store_ms:>14.1f}"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [50, 500])
