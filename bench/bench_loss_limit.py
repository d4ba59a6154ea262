"""How far past the daily loss limit whole simulated days end, and the slippage through the stop that does it.

A position's stop rests at the (paper) broker and fills inside the minute that reaches it, near its
trigger (a gap at the open), by the stop-fill model; with `stops: tron` a stop touched in one minute fills
at the next minute's bid or ask, through the stop. The governor reserves risk.stop_slippage_bps beyond every
stop for it, and an entry's stop moves with its fill (Book.apply_fill). For every stop exit (initial or
trailing; a protect intent's fill at its last trigger, or a "stop … touched" exit) of every day this records
how much worse the
fill was than the stop level (₹ a unit, bps of the stop, ₹ in all); for every closed trade the "excess":
how much more it lost than the governor reserved at entry (|decided price - stop|), i.e. the entry's fill
beyond the price it was decided on plus the exit beyond the entry's stop; for every day the account's final
net P&L against the loss limit. Positive is adverse; negative means better than the stop (or reserve).
Run: .venv/bin/python bench/bench_loss_limit.py --seeds 20 --dates 2026-11-23,2026-11-25,2026-11-26 --jobs 2"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tron.adapters.calendar import nse_calendar
from tron.config.settings import load_settings
from tron.runday.embedded import prepare, run_day

STOP = re.compile(r"^(trailing stop|stop) (-?[\d.]+) touched")
LIMIT = "daily loss limit"
STOPS = ("stop", "trailing")
MTM = re.compile(r"marked to market ₹(-?[\d.]+)")


def _d(x: Any) -> Decimal:
    return Decimal(str(x))


def _exit_row(doc: dict[str, Any], entry: dict[str, Any] | None) -> dict[str, Any]:
    """One filled exit: its fill, and for a stop exit the slippage beyond the stop level it names."""
    fill = doc["fill"]
    price, qty = _d(fill["price"]), int(fill["qty"])
    reason = str(doc.get("reason") or "")
    row: dict[str, Any] = {
        "intent_id": doc.get("intent_id"),
        "asset": doc.get("asset"),
        "symbol": doc.get("symbol"),
        "strategy": doc.get("strategy"),
        "side": doc.get("side"),
        "reason": reason,
        "decided_at": doc.get("decided_at"),
        "filled_at": fill.get("at"),
        "fill": float(price),
        "qty": qty,
        "realized": float(_d(fill.get("realized", 0))),
        "charges": float(_d((fill.get("charges") or {}).get("total", 0))),
        "entry_price": float(_d(entry["fill"]["price"])) if entry else None,
        "entry_stop": entry.get("stop") if entry else None,
        "entry_at": entry["fill"].get("at") if entry else None,
        "atr": float(entry.get("atr") or 0) if entry else None,
    }
    m = STOP.match(reason)
    entry_stop = _d(entry["stop"]) if entry and entry.get("stop") is not None else None
    if doc.get("purpose") == "protect":  # the stop resting at the broker filled: at its last trigger
        stop, kind = _d(doc["trigger_at_fill"]), "trailing" if doc.get("trailed") else "stop"
    elif m:  # the level that fired (a trailing stop has moved from the entry's)
        stop, kind = _d(m.group(2)), "trailing" if m.group(1) == "trailing stop" else "stop"
    elif "touched" in reason and "stop" in reason and entry_stop is not None:  # a reworded stop reason
        stop, kind = entry_stop, "stop"
    else:  # a loss-limit flatten against the entry's stop (negative: still inside it); others unmeasured
        stop, kind = (entry_stop, "limit") if LIMIT in reason else (None, "other")
    row["kind"] = kind
    if stop is not None:
        per_unit = stop - price if doc.get("side") == "SELL" else price - stop  # closing a long sells
        row.update(
            stop=float(stop),
            slip_per_unit=float(per_unit),
            slip_bps=float(per_unit / stop * 10000) if stop else None,
            slip_total=float(per_unit * qty),
        )
    if entry and entry_stop is not None and entry.get("decision_price") is not None:
        # The governor reserved |decision price - stop| a unit; the trade lost (entry fill - exit fill).
        sign = 1 if entry.get("side") == "BUY" else -1
        gap = sign * (_d(entry["fill"]["price"]) - _d(entry["decision_price"]))
        excess = gap + sign * (entry_stop - price)
        row.update(
            entry_decision=entry["decision_price"],
            entry_gap_per_unit=float(gap),
            excess_per_unit=float(excess),
            excess_bps=float(excess / entry_stop * 10000) if entry_stop else None,
            excess_total=float(excess * qty),
        )
    return row


def run_one(seed: int, day: str, symbols: int) -> dict[str, Any]:
    """A whole day in its own temp data dir; the day's totals and a row per filled exit."""
    d = date.fromisoformat(day)
    with tempfile.TemporaryDirectory(prefix=f"tron-ll-{seed}-{day}-") as tmp:
        s = load_settings(data_dir=Path(tmp), seed=seed, symbols=symbols)
        limit = float(s.risk.limits().loss_limit)
        t0 = time.perf_counter()
        run = prepare(s, d, Path(tmp) / "run")
        result = run_day(s, d, run=run)
        secs = time.perf_counter() - t0
        every = [doc for _, doc in run.deps.store.list(f"days/{day}/intents")]
        docs = [doc for doc in every if doc.get("fill")]
        for doc in docs:  # the price the entry's stop was set from (OrderIntent.price)
            doc["decision_price"] = doc.get("price")
        trails = [x for x in every if x.get("purpose") == "trail" and x.get("state") == "resting"]
        for doc in (x for x in docs if x.get("purpose") == "protect"):  # the trigger when it filled
            moved = [
                t
                for t in trails
                if (t.get("asset"), t.get("symbol")) == (doc.get("asset"), doc.get("symbol"))
                and str(doc.get("decided_at")) <= str(t.get("decided_at")) <= str(doc["fill"].get("at"))
            ]
            last = max(moved, key=lambda t: str(t.get("decided_at")), default=None)
            doc["trigger_at_fill"] = (last or doc)["trigger"]
            doc["trailed"] = last is not None
    entries = sorted((x for x in docs if x.get("purpose") == "entry"), key=lambda x: str(x.get("decided_at")))
    exits = []
    for doc in (x for x in docs if x.get("purpose") in ("exit", "protect")):  # its entry: the last before it
        key = [doc.get(k) for k in ("asset", "strategy", "symbol")]
        before = [e for e in entries if [e.get(k) for k in ("asset", "strategy", "symbol")] == key]
        before = [e for e in before if str(e.get("decided_at")) <= str(doc.get("decided_at"))]
        exits.append({"seed": seed, "date": day, **_exit_row(doc, before[-1] if before else None)})
    net = sum(a["net_pnl"] for a in result["assets"].values())
    halted = result.get("halted") or ""
    mtm = MTM.search(halted)
    return {
        "seed": seed,
        "date": day,
        "seconds": round(secs, 2),
        "net": round(net, 2),
        "net_by_asset": {a: v["net_pnl"] for a, v in result["assets"].items()},
        "loss_limit": limit,
        "breached": net < -limit,
        "past_limit_by": round(max(0.0, -limit - net), 2),
        "halted": halted or None,
        "mtm_at_halt": float(mtm.group(1)) if mtm else None,
        "stop_slip_total": round(sum(r.get("slip_total", 0.0) for r in exits if r["kind"] in STOPS), 2),
        "excess_total": round(sum(max(0.0, r.get("excess_total", 0.0)) for r in exits), 2),
        "exits": exits,
    }


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def _table(title: str, rows: list[dict[str, Any]], field: str, kinds: tuple[str, ...]) -> None:
    """Per asset and exit kind: count, how many were adverse (> 0), percentiles and the worst of field."""
    print(f"\n{title}")
    print(
        f"{'asset':9}{'kind':10}{'n':>5}{'adverse':>8}{'p50 bps':>9}{'p90 bps':>9}{'p99 bps':>9}"
        f"{'max bps':>9}{'max ₹/unit':>11}{'max ₹ total':>12}{'max ATR':>8}"
    )
    for asset in ("stocks", "futures", "options"):
        for kind in (*kinds, "all") if len(kinds) > 1 else ("all",):
            sel = [r for r in rows if r["asset"] == asset and kind in (r["kind"], "all")]
            sel = [r for r in sel if r.get(f"{field}_bps") is not None]
            if not sel:
                continue
            bps = [r[f"{field}_bps"] for r in sel]
            atrs = [r[f"{field}_per_unit"] / r["atr"] for r in sel if r.get("atr")]
            print(
                f"{asset:9}{kind:10}{len(sel):>5}{sum(b > 0 for b in bps):>8}{_pct(bps, 50):>9.1f}"
                f"{_pct(bps, 90):>9.1f}{_pct(bps, 99):>9.1f}{max(bps):>9.1f}"
                f"{max(r[f'{field}_per_unit'] for r in sel):>11.2f}{max(r[f'{field}_total'] for r in sel):>12.2f}"
                f"{max(atrs, default=float('nan')):>8.2f}"
            )


def report(days: list[dict[str, Any]]) -> None:
    rows = [r for d in days for r in d["exits"]]
    stops = [r for r in rows if r["kind"] in STOPS]
    _table("stop-exit slippage beyond the stop (positive = worse than the stop)", stops, "slip", STOPS)
    _table(
        "every closed trade: loss beyond what the governor reserved at entry (entry fill vs the decided price, "
        "plus the exit beyond the entry's stop), bps of the entry's stop",
        rows,
        "excess",
        (),
    )
    limits = [r for r in rows if r["kind"] == "limit"]
    beyond = [r["slip_bps"] for r in limits if r.get("slip_bps") is not None and r["slip_bps"] > 0]
    print(
        f"\nloss-limit flatten exits: {len(limits)}, realised gross ₹{sum(r['realized'] for r in limits):,.2f}, "
        f"charges ₹{sum(r['charges'] for r in limits):,.2f}; filled beyond the entry's stop: {len(beyond)}"
        + (f" (max {max(beyond):.1f} bps)" if beyond else "")
    )
    halted = [d for d in days if d["mtm_at_halt"] is not None]
    breached = [d for d in days if d["breached"]]
    print(f"days: {len(days)}, halted at the limit: {len(halted)}, ended past the limit: {len(breached)}")
    if not breached:
        return
    print(f"\n{'seed':>5} {'date':10} {'net ₹':>11} {'past by ₹':>10} {'mtm at halt ₹':>14} ", end="")
    print(f"{'stop slip ₹':>12} {'excess ₹':>9}   (worst exits: gap = entry fill beyond the decided price)")
    for d in sorted(breached, key=lambda d: d["net"]):
        mtm = f"{d['mtm_at_halt']:,.2f}" if d["mtm_at_halt"] is not None else "-"
        print(
            f"{d['seed']:>5} {d['date']:10} {d['net']:>11,.2f} {d['past_limit_by']:>10,.2f} {mtm:>14} "
            f"{d['stop_slip_total']:>12,.2f} {d['excess_total']:>9,.2f}"
        )
        for r in sorted(d["exits"], key=lambda r: r["realized"])[:6]:
            stop = f"{r['stop']:.2f}" if "stop" in r else "-"
            slip = f"{r['slip_bps']:.1f}bps/₹{r['slip_total']:,.2f}" if "slip_bps" in r else "-"
            gap = f"{r['entry_gap_per_unit']:.2f}/₹{r['excess_total']:,.2f}" if "excess_total" in r else "-"
            print(
                f"      {r['asset']:8} {r['symbol']:20} {r['side']:4} stop {stop:>9} fill {r['fill']:>9.2f} "
                f"x{r['qty']:<4} gross ₹{r['realized']:>10,.2f} slip {slip:20} gap/excess {gap:17} {r['reason'][:44]}"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20, help="seeds 1..N")
    p.add_argument("--dates", default="2026-11-23,2026-11-25,2026-11-26", help="comma-separated trading days")
    p.add_argument("--symbols", type=int, default=50)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("var/bench/loss_limit.json"))
    a = p.parse_args()
    dates = [x.strip() for x in a.dates.split(",") if x.strip()]
    calendar = nse_calendar()
    closed = [x for x in dates if not calendar.is_trading_day(date.fromisoformat(x))]
    if closed:
        p.error(f"not NSE trading days: {', '.join(closed)}")
    work = [(seed, x) for x in dates for seed in range(1, a.seeds + 1)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(run_one, seed, x, a.symbols) for seed, x in work]
        days = [f.result() for f in futures]
    wall = time.perf_counter() - t0
    print(
        f"{len(days)} days ({a.seeds} seeds x {len(dates)} dates, {a.symbols} symbols), {a.jobs} jobs: "
        f"{wall:.1f} s wall, {sum(d['seconds'] for d in days):.1f} s of days"
    )
    report(days)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(
        json.dumps({"wall_s": round(wall, 1), "args": {**vars(a), "out": str(a.out)}, "days": days}, indent=1)
    )
    print(f"\nraw rows: {a.out}")


if __name__ == "__main__":
    main()
