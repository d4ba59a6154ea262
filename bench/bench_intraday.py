"""The intraday backtester through the live decide(): its speed and memory, and a golden check of its results.

Workloads (the seeded simulated market's minute bars, tron.sim.market, seed 7, trading days from 2025-01-01;
Zerodha charges, next-open fills, the default risk limits), each run by tron.backtest.engine.run_intraday:

* ``year``: one symbol, 250 sessions (93,750 one-minute bars), ORB (issue 18's target: ≤ 3 s);
* ``fifty``: 50 symbols × 40 sessions, three strategies, orb + vwap + ema_cross (target: ≤ 8 s);
* ``fifty_year`` (``--memory``): 50 symbols × 250 sessions, the same three strategies: the peak RSS of a
  50-symbol year (target: < 1.5 GB);
* ``small_orb`` and ``small_mix``: the small versions tests/unit/backtest/test_intraday_golden.py compares
  with their full golden results.

Each workload runs ``--repeat`` times, each time in a fresh process (as a command runs it: nothing the code
remembers from an earlier run in the same process helps), the run with the fastest backtest counting.
"prep" is making the simulated bars; "sessions" making every session's snapshots and candles from them
(tron.backtest.data.sessions_from_bars, all ahead, as the issue's "today" figures were measured: run_intraday
over sessions already made); "backtest" is run_intraday alone; both together are what a user waits for
once the bars are read. The memory workload hands the sessions over as they are made, one batch at a time
(its "sessions" is inside "backtest"). "data MB" is the resident set once the bars are made, "peak RSS MB"
its peak (VmHWM) over the run. The results are reduced to a canonical JSON (every trade, fill, intent,
session record, the final equity and the equity curve's bytes) and its SHA-256 must equal the golden one
recorded in tests/fixtures/intraday_golden.json before the engine was sped up: results unchanged to the
paisa. The code before the speed-up (commit ``BASELINE``, extracted with ``git archive`` into a temporary
folder and put first on PYTHONPATH) runs the same workloads in the same run, so the ratio is measured side
by side (``--no-baseline`` skips it).

Run: .venv/bin/python bench/bench_intraday.py [--repeat 3] [--memory] [--no-baseline] [--only NAME …]
     .venv/bin/python bench/bench_intraday.py --record   (rewrites the golden file: only on purpose)"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "fixtures" / "intraday_golden.json"
BASELINE = "bd527ba"  # the last commit before the intraday speed-up (issue 18 §4)
FIRST_DAY = date(2025, 1, 1)
SEED = 7
MINUTES = 375  # one-minute bars a session (09:15 to 15:29)
TARGETS = {"year": "≤ 3 s", "fifty": "≤ 8 s", "fifty_year": "peak RSS < 1.5 GB"}


@dataclass(frozen=True)
class Workload:
    """Symbols × sessions of the simulated market, the strategies traded and how orders fill."""

    symbols: int
    days: int
    strategies: tuple[str, ...]
    fill: str = "next-open"
    slippage_bps: float = 0.0
    full: bool = False  # the golden file keeps the whole canonical result, not only its hash


WORKLOADS = {
    "small_orb": Workload(1, 15, ("orb",), full=True),
    "small_mix": Workload(5, 4, ("orb", "vwap", "ema_cross"), fill="close", slippage_bps=2.0, full=True),
    "year": Workload(1, 250, ("orb",)),
    "fifty": Workload(50, 40, ("orb", "vwap", "ema_cross")),
    "fifty_year": Workload(50, 250, ("orb", "vwap", "ema_cross")),
}


def make_bars(w: Workload) -> list[Any]:
    """The simulator's minute bars (prices to the paisa, whole volumes) of ``w``'s symbols and sessions."""
    from tron.adapters.calendar import nse_calendar
    from tron.backtest.data import Bars
    from tron.domain.timeutil import ist
    from tron.sim.market import MINUTES, MarketGenerator, nifty50

    cal = nse_calendar()
    gen = MarketGenerator(nifty50(w.symbols), cal, seed=SEED)
    days, d = [], FIRST_DAY
    while len(days) < w.days:
        if cal.is_trading_day(d):
            days.append(d)
        d += timedelta(days=1)
    names = gen.symbols[: w.symbols]  # the last of the generator's symbols is the index
    cols: dict[str, list[list[np.ndarray]]] = {s: [[], [], [], [], []] for s in names}
    times: list[Any] = []
    for d in days:
        data = gen.day(d)
        first = ist(d, dtime(9, 15))
        times.extend(first + timedelta(minutes=m) for m in range(MINUTES))
        for k, s in enumerate(data.symbols[: w.symbols]):
            for j, a in enumerate((data.o, data.h, data.lo, data.c)):
                cols[s][j].append(np.round(np.asarray(a[k], dtype=np.float64), 2))
            cols[s][4].append(np.asarray(data.v[k]).astype(np.int64).astype(np.float64))
    return [Bars(s, list(times), *(np.concatenate(c) for c in cols[s])) for s in names]


def plan_of(w: Workload) -> Any:
    from tron.domain.models import Asset
    from tron.domain.plan import AssetPlan, StrategyChoice
    from tron.domain.risk import RiskLimits

    choices = tuple(StrategyChoice(s, {}) for s in w.strategies)
    return AssetPlan(Asset.STOCKS, True, choices, RiskLimits(), "bench")


def _text(v: Any) -> Any:
    """A value as canonical JSON keeps it: money and prices as their exact text, times ISO, enums' values."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return repr(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "value"):
        return v.value
    return str(v)


def canonical(result: Any) -> dict[str, Any]:
    """Everything a run produces that a user sees, in exact text: every trade (symbol, side, quantity, entry
    and exit time and price, P&L, charges, strategy, reason, bars), every fill, every intent, each session's
    record, the refusals, the final equity, and the SHA-256 of the equity curve, exposure flags, bar times
    and report prices."""
    eq = np.ascontiguousarray(result.equity, dtype="<f8").tobytes()
    exposed = np.ascontiguousarray(result.exposed, dtype=bool).tobytes()
    times = "\n".join(t.isoformat() for t in result.times).encode()
    prices = hashlib.sha256()
    for p in result.prices:
        prices.update(p.symbol.encode())
        prices.update(np.ascontiguousarray(p.bars, dtype="<i8").tobytes())
        prices.update(np.ascontiguousarray(p.close, dtype="<f8").tobytes())
    return {
        "final_equity": str(result.final_equity),
        "refusals": result.refusals,
        "trades": [t.to_dict() for t in result.trades],
        "fills": [{k: _text(v) for k, v in f.items()} for f in result.fills],
        "intents": [{k: _text(v) for k, v in vars(it).items()} for it in result.intents],
        "sessions": [
            {
                "day": s.day.isoformat(),
                "gross": str(s.gross),
                "charges": str(s.charges),
                "net": str(s.net),
                "trades": s.trades,
                "wins": s.wins,
                "fills": list(s.fills),
                "refused": s.refused,
                "halted": s.halted,
            }
            for s in result.sessions
        ],
        "equity_sha256": hashlib.sha256(eq).hexdigest(),
        "exposed_sha256": hashlib.sha256(exposed).hexdigest(),
        "times_sha256": hashlib.sha256(times).hexdigest(),
        "prices_sha256": prices.hexdigest(),
        "bars": len(result.times),
    }


def digest(canon: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(canon, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def summary(canon: dict[str, Any]) -> dict[str, Any]:
    fills = canon["fills"]
    return {
        "bars": canon["bars"],
        "trades": len(canon["trades"]),
        "fills": len(fills),
        "intents": len(canon["intents"]),
        "refusals": canon["refusals"],
        "final_equity": canon["final_equity"],
        "charges": str(sum((Decimal(f["charges"]) for f in fills), start=Decimal(0))),
    }


def run_workload(name: str, sized: list[float] | None = None) -> tuple[Any, dict[str, float]]:
    """The result of one workload and its seconds: ``prep`` making the simulated bars, ``sessions`` making
    the sessions from them (tron.backtest.data.sessions_from_bars, all of them ahead, as the issue's figures
    were measured), ``backtest`` run_intraday over them. The memory workload passes the sessions as they
    come instead (made one at a time, inside run_intraday: its ``sessions`` is 0). ``sized`` gets the
    resident set (MB) once the bars are made."""
    from tron.backtest.data import sessions_from_bars
    from tron.backtest.engine import IntradayConfig, run_intraday

    w = WORKLOADS[name]
    t0 = time.perf_counter()
    bars = make_bars(w)
    t1 = time.perf_counter()
    if sized is not None:
        sized.append(rss_mb("VmRSS"))
    sessions = sessions_from_bars(bars)
    if name != "fifty_year":
        sessions = list(sessions)
    t2 = time.perf_counter()
    result = run_intraday(sessions, IntradayConfig(plan_of(w), fill=w.fill, slippage_bps=w.slippage_bps))
    t3 = time.perf_counter()
    return result, {"prep": t1 - t0, "sessions": t2 - t1, "backtest": t3 - t2}


def rss_mb(field: str = "VmHWM") -> float:
    """This process's resident set in MB: its peak (VmHWM) or now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(name: str, repeat: int) -> None:
    """One workload in this (fresh) process, ``repeat`` times; prints one JSON line: the seconds of the run
    with the fastest backtest, the resident set once the first run's bars were made, and the peak."""
    best: dict[str, float] = {"backtest": float("inf")}
    out, sized = None, []
    for _ in range(repeat):
        result, seconds = run_workload(name, sized)
        best = min(best, seconds, key=lambda x: x["backtest"])
        out = canonical(result)
        del result
    assert out is not None
    print(
        json.dumps(
            {
                **best,
                "sha256": digest(out),
                "summary": summary(out),
                "rss_mb": rss_mb(),
                "data_mb": sized[0],
            }
        )
    )


def in_process(name: str, repeat: int, pythonpath: Path | None) -> dict[str, Any]:
    """The workload run ``repeat`` times, each in a fresh process (a backtest command runs once: what the
    engine remembers between runs in one process must not count), the run with the best time."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--repeat", "1"]
    runs = []
    for _ in range(repeat):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=REPO)
        runs.append(dict(json.loads(out.stdout.strip().splitlines()[-1])))
    return min(runs, key=lambda r: float(r["backtest"]))


def baseline_tree(tmp: Path) -> Path | None:
    """The package as it was at BASELINE, extracted into ``tmp``; None when git cannot give it."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", BASELINE, "shared/tron"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"(no baseline: git archive {BASELINE} failed: {e})")
        return None
    return tmp / "shared"


def record() -> None:
    """Run every workload on the current code and write the golden file."""
    golden: dict[str, Any] = {"seed": SEED, "first_day": FIRST_DAY.isoformat(), "workloads": {}}
    for name, w in WORKLOADS.items():
        result, seconds = run_workload(name)
        canon = canonical(result)
        entry: dict[str, Any] = {"sha256": digest(canon), "summary": summary(canon)}
        if w.full:
            entry["result"] = canon
        golden["workloads"][name] = entry
        print(f"{name}: {seconds['backtest']:.2f} s, {entry['summary']}")
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size / 1e3:.0f} kB)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory", action="store_true", help="also the 50-symbol year (peak RSS; slow)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the code before the speed-up")
    ap.add_argument("--only", nargs="*", help="these workloads only")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--record", action="store_true", help="rewrite the golden file from the current code")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.repeat)
        return 0
    if args.record:
        record()
        return 0
    golden = json.loads(GOLDEN.read_text())["workloads"]
    names = args.only or ["year", "fifty", *(["fifty_year"] if args.memory else [])]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        base = None if args.no_baseline else baseline_tree(Path(tmp))
        print(
            f"{'workload':<11} {'code':<9} {'bars':>7} {'prep s':>7} {'sessions s':>10} {'backtest s':>10} "
            f"{'bars/s':>8} {'data MB':>8} {'peak RSS MB':>11} {'golden':>7} {'target':>18}"
        )
        for name in names:
            w = WORKLOADS[name]
            reps = 1 if name == "fifty_year" else args.repeat
            rows = [("now", in_process(name, reps, None))]
            if base is not None:
                rows.append((BASELINE, in_process(name, reps, base)))
            for code, r in rows:
                same = r["sha256"] == golden[name]["sha256"]
                ok &= same
                bars = w.days * MINUTES * w.symbols
                print(
                    f"{name:<11} {code:<9} {bars:>7} {r['prep']:>7.2f} {r['sessions']:>10.2f} "
                    f"{r['backtest']:>10.2f} {bars / r['backtest']:>8,.0f} {r['data_mb']:>8.0f} "
                    f"{r['rss_mb']:>11.0f} {'same' if same else 'DIFF':>7} {TARGETS.get(name, ''):>18}"
                )
            if len(rows) == 2:
                now, then = rows[0][1], rows[1][1]
                print(
                    f"{'':<11} speed-up {then['backtest'] / now['backtest']:.1f}x (sessions and backtest: "
                    f"{(then['sessions'] + then['backtest']) / (now['sessions'] + now['backtest']):.1f}x)"
                )
            print(f"{'':<11} {w.symbols} symbol(s) × {w.days} sessions, {'+'.join(w.strategies)}")
    print("results equal the golden run:", ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
