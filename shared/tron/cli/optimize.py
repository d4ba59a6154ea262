"""`tron optimize`: walk-forward optimisation of a strategy's parameters over OHLCV bars.

    tron optimize --strategy NAME[,NAME…] --grid k=v1,v2,… [--grid …] --train 60d --test 20d [--anchored]
                  --data FILE.csv|DIR [--objective sharpe|calmar|net] [--workers N] [--from D] [--to D]
                  [--capital C] [--charges zerodha-intraday|none] [--slippage-bps X] [--fill next-open|close]
                  [--json] [--html FILE]

The data's trading days are cut into windows: rolling (train on 60 days, test on the next 20, move 20 days
on) or anchored (every training window starts at the first day); the last test window takes the days left.
In each window every parameter set of the grid (the product of the --grid values) is backtested on the
training days through the intraday backtester (`tron backtest`: the live decide(), the configured risk
limits, charges and square-off), the best by the objective is chosen (ties: the higher net P&L, then the
earlier set) and traded on the test days. The out-of-sample windows are stitched into one result; the
command shows the set chosen per window, how stable each parameter's choice is, and the out-of-sample
against in-sample degradation (OOS / IS, e.g. of the Sharpe). --html adds a heat map of the in-sample
objective over the grid.

A grid key is a parameter of the strategy (`tron backtest --help` lists the strategies), or name.key with
several; each value must be in the parameter's range. A combination that breaks a rule across parameters
(fast ≥ slow) is left out and listed. Tasks (window × parameter set) run on --workers processes (default:
the cores; 1 runs in this process); the results do not depend on it. Bad input: a message on stderr and
exit code 2."""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from tron.cli.args import checked, iso_date, json_option, nonneg, positive_int
from tron.cli.errors import CommandError

OBJECTIVES = ("sharpe", "calmar", "net")  # tron.backtest.optimize.OBJECTIVES (not imported: startup time)
CHARGES = ("zerodha-intraday", "none")
FILLS = ("next-open", "close")
capital_type = checked(Decimal, "a number", lambda v: v.is_finite() and v > 0, "a positive number of rupees")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``optimize`` subcommand to the ``tron`` CLI's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "optimize",
        parents=[json_option("print one JSON object (no progress bar)")],
        help="walk-forward optimisation of a strategy's parameters on OHLCV bars",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, type=Path, help="OHLCV CSV or a folder of them (one per symbol)")
    p.add_argument("--strategy", required=True, help="registry strategy (several: comma-separated)")
    p.add_argument(
        "--grid", action="append", default=[], metavar="K=V1,V2,…", help="a parameter's values (repeat)"
    )
    p.add_argument("--train", required=True, help="training (in-sample) trading days per window, e.g. 60d")
    p.add_argument("--test", required=True, help="test (out-of-sample) trading days per window, e.g. 20d")
    p.add_argument("--anchored", action="store_true", help="train from the first day on (default: rolling)")
    p.add_argument("--objective", choices=OBJECTIVES, default="sharpe", help="what the best set maximises")
    p.add_argument("--workers", type=positive_int, help="processes (default: the cores; 1: this process)")
    p.add_argument("--from", dest="start", type=iso_date, metavar="D", help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", type=iso_date, metavar="D", help="last day (YYYY-MM-DD)")
    p.add_argument("--capital", type=capital_type, help="capital in rupees (default: the configured one)")
    p.add_argument("--charges", choices=CHARGES, default=CHARGES[0], help="Zerodha charges or none")
    p.add_argument("--slippage-bps", type=nonneg, default=0.0, help="against the trader, basis points")
    p.add_argument("--fill", choices=FILLS, default=FILLS[0], help="next bar's open, or this bar's close")
    p.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report here")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tron.backtest import optimize as opt
    from tron.backtest import tasks as bt

    if str(args.data) == "generated" or args.data.suffix.lower() == ".jsonl":
        raise CommandError("optimize reads OHLCV bars: --data FILE.csv or a folder of them")
    if args.start is not None and args.end is not None and args.start > args.end:
        raise CommandError(f"--from {args.start} is after --to {args.end}")
    try:
        train = opt.parse_span(args.train, "--train")
        test = opt.parse_span(args.test, "--test")
        spec, grid, points, skipped = _search(args)
    except ValueError as e:
        raise CommandError(str(e)) from None
    days = _days(bt.trading_days(spec.data), args.start, args.end, args.data)
    try:
        windows = opt.split_windows(days, train, test, args.anchored)
    except ValueError as e:
        raise CommandError(str(e)) from None
    workers = args.workers or bt.cpu_count()
    total = len(windows) * (len(points) + 1)
    with ExitStack() as stack:
        pool = stack.enter_context(bt.start_pool(min(workers, total))) if workers > 1 else None
        progress = _progress(not args.json, total)
        if progress is not None:
            stack.enter_context(progress)
        bar = progress.add_task("optimize", total=total) if progress is not None else None
        done = [0]  # the tasks of the batches finished before

        def tick(n: int) -> None:
            if progress is not None and bar is not None:
                progress.update(bar, completed=done[0] + n)

        def runner(tasks: list[bt.Task]) -> list[bt.TaskResult]:
            out = bt.run_local(tasks, workers, tick, pool)
            done[0] += len(tasks)
            return out

        try:
            wf = opt.walk_forward(spec, grid, points, windows, args.objective, runner, args.anchored, skipped)
        except ValueError as e:  # a setting the engine refuses
            raise CommandError(str(e)) from None
    if args.html:
        from tron.backtest.optimize_html import render

        try:
            args.html.write_text(render(wf, args.strategy), encoding="utf-8")
        except OSError as e:
            raise CommandError(f"cannot write {args.html}: {e.strerror or e}") from None
    if args.json:
        print(json.dumps({"strategy": args.strategy, "workers": workers, **wf.to_doc()}))
        return 0
    _print(args.strategy, wf, args.html)
    return 0


def _search(args: argparse.Namespace) -> tuple[Any, Any, list[Any], list[tuple[dict[str, float], str]]]:
    """The run's shared settings, the grid and its runnable parameter sets (and those left out, why)."""
    from tron.backtest import optimize as opt
    from tron.backtest.tasks import RunSpec
    from tron.cli.backtest import intraday_plan

    base = intraday_plan(args.strategy, {}, args.capital)  # unknown strategies: a CommandError
    names = [c.name for c in base.strategies]
    grid = opt.parse_grid(args.grid, names)
    points, skipped = [], []
    for i, params in enumerate(grid.points()):
        try:
            plan = intraday_plan(args.strategy, params, args.capital)
        except ValueError as e:  # a rule across parameters (fast ≥ slow)
            skipped.append((params, str(e)))
            continue
        points.append(opt.Point(i, params, tuple((c.name, dict(c.params)) for c in plan.strategies)))
    if not points:
        raise ValueError(
            f"no parameter set of the grid can run: {skipped[0][1]}" if skipped else "empty grid"
        )
    spec = RunSpec(
        str(args.data), base.risk.to_doc(), args.fill, args.slippage_bps, args.charges == CHARGES[0]
    )
    return spec, grid, points, skipped


def _days(days: list[date], start: date | None, end: date | None, data: Path) -> list[date]:
    lo, hi = start or date.min, end or date.max
    kept = [d for d in days if lo <= d <= hi]
    if not kept:
        raise CommandError(f"{data} has no session from {start or '…'} to {end or '…'}")
    return kept


def _progress(enabled: bool, total: int) -> Any:
    if not enabled or total < 2:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]optimize"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("backtests"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _print(strategy: str, wf: Any, html: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from tron.backtest.optimize import NAMES, fmt, label

    out = Console()
    obj = wf.objective
    doc = wf.to_doc()
    how = "anchored" if wf.anchored else "rolling"
    t = Table(
        title=f"TRON walk-forward: {strategy} ({how}, {wf.train_days}d train / {wf.test_days}d test, "
        f"objective {obj}, {len(wf.points)} sets × {len(wf.outcomes)} windows)"
    )
    for c in ("window", "train", "test", "chosen", f"IS {obj}", f"OOS {obj}", "OOS net ₹", "OOS trades"):
        t.add_column(c, justify="left" if c in ("train", "test", "chosen") else "right")
    for w in doc["windows"]:
        ins, oos = w["in_sample"], w["out_of_sample"]
        t.add_row(
            str(w["window"]),
            f"{w['train']['from']} … {w['train']['to']} ({w['train']['days']})",
            f"{w['test']['from']} … {w['test']['to']} ({w['test']['days']})",
            label(w["chosen"]),
            _num(ins[obj] if obj != "net" else float(ins["net"])),
            _num(oos[obj] if obj != "net" else float(oos["net"])),
            f"{float(oos['net']):,.2f}",
            str(oos["trades"]),
        )
    out.print(t)
    s = Table(title="parameter stability: the value chosen in each window")
    for c in ("parameter", "chosen per window", "most chosen", "share", "distinct"):
        s.add_column(c, justify="left" if c in ("parameter", "chosen per window") else "right")
    for key, st in doc["stability"].items():
        s.add_row(
            key, " ".join(fmt(v) for v in st["chosen"]), fmt(st["mode"]), f"{st['mode_share']:.0%}",
            str(st["distinct"]),
        )  # fmt: skip
    out.print(s)
    o = doc["out_of_sample"]
    r = Table(title=f"out of sample, stitched: {o['from']} … {o['to']} ({o['days']} days)")
    r.add_column("metric")
    r.add_column("value", justify="right")
    for k in ("capital", "final_equity", "net", "total_return_pct", "trades", "sharpe", "calmar"):
        v = o[k]
        r.add_row(k, "–" if v is None else (f"{v:,.4f}" if isinstance(v, float) else str(v)))
    r.add_row("max_drawdown_pct", _num(o["max_drawdown_pct"]))
    out.print(r)
    d = Table(title="out of sample against in sample")
    for c in ("objective", "in sample", "out of sample", "OOS / IS"):
        d.add_column(c, justify="left" if c == "objective" else "right")
    for k, row in doc["degradation"].items():
        d.add_row(NAMES[k], _num(row["in_sample"]), _num(row["out_of_sample"]), _num(row["ratio"]))
    out.print(d)
    out.print(doc["summary"])
    if doc["skipped"]:
        out.print(
            f"left out {len(doc['skipped'])} combination(s): "
            + "; ".join(f"{label(s['params'])} ({s['reason']})" for s in doc["skipped"][:5])
            + (" …" if len(doc["skipped"]) > 5 else "")
        )
    if html:
        out.print(f"report: {html}")


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:,.4f}"
