"""`tron optimize`: walk-forward optimisation of a strategy's parameters over OHLCV bars.

    tron optimize --strategy NAME[,NAME…] --grid k=v1,v2,… [--grid …] --train 60d --test 20d [--anchored]
                  --data FILE.csv|DIR [--objective sharpe|calmar|net] [--workers N] [--from D] [--to D]
                  [--capital C] [--charges zerodha-intraday|none] [--slippage-bps X] [--fill next-open|close]
                  [--json] [--html FILE]
                  [--runner local|cloud-run] [--tasks N] [--job NAME] [--region R] [--project P] [--bucket B]

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
the cores; 1 runs in this process); the results do not depend on it.

--runner cloud-run --tasks N runs them on the Cloud Run job of infra/terraform (enable_sweep_job): each
batch (the training runs, then the test runs) is uploaded with the bars to the archive bucket (--bucket:
default the configured archive_bucket, else PROJECT-tron-logs) under sweeps/, one execution of --job
(default tron-sweep, in --region, default asia-south1) runs it on N tasks (fewer when the batch holds
fewer backtests), and the results are collected from the bucket (--timeout seconds per batch, default
7200). Results are the same as on local workers; a run is named by a hash of its tasks and bars, so
submitting the same sweep again reuses the results already there. Needs Application Default Credentials with run rights on the job and object rights on the bucket.
Bad input: a message on stderr and exit code 2; a Cloud Run or bucket failure: exit code 1."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from tron.cli.args import checked, iso_date, json_option, nonneg, positive, positive_int
from tron.cli.errors import CommandError

OBJECTIVES = ("sharpe", "calmar", "net")  # tron.backtest.optimize.OBJECTIVES (not imported: startup time)
CHARGES = ("zerodha-intraday", "none")
FILLS = ("next-open", "close")
RUNNERS = ("local", "cloud-run")
SWEEP_JOB, REGION = "tron-sweep", "asia-south1"  # infra/terraform's sweep job name and default region
CLOUD_OPTIONS = ("tasks", "job", "region", "project", "bucket", "timeout")  # only with --runner cloud-run
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
    c = p.add_argument_group("Cloud Run jobs (--runner cloud-run)")
    c.add_argument("--runner", choices=RUNNERS, default=RUNNERS[0], help="local processes or Cloud Run jobs")
    c.add_argument("--tasks", type=positive_int, help="Cloud Run tasks per execution (cost: see the README)")
    c.add_argument("--job", help=f"the sweep job (default {SWEEP_JOB})")
    c.add_argument("--region", help=f"the job's region (default {REGION})")
    c.add_argument("--project", help="Google Cloud project (default: $GOOGLE_CLOUD_PROJECT)")
    c.add_argument("--bucket", help="archive bucket (default: archive_bucket, else PROJECT-tron-logs)")
    c.add_argument("--timeout", type=positive, help="seconds to wait for a batch (default 7200)")
    c.add_argument("--endpoint", help=argparse.SUPPRESS)  # the Admin API of a local stand-in (tests)
    c.add_argument("--poll", type=positive, default=5.0, help=argparse.SUPPRESS)  # seconds (tests)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tron.backtest import optimize as opt
    from tron.backtest import tasks as bt

    if str(args.data) == "generated" or args.data.suffix.lower() == ".jsonl":
        raise CommandError("optimize reads OHLCV bars: --data FILE.csv or a folder of them")
    if args.start is not None and args.end is not None and args.start > args.end:
        raise CommandError(f"--from {args.start} is after --to {args.end}")
    _check_runner(args)
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
    cloud, failures = _cloud_runner(args) if args.runner == "cloud-run" else (None, ())
    workers = 1 if cloud is not None else args.workers or bt.cpu_count()
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

        def say(line: str) -> None:
            if progress is not None:
                progress.console.print(line, highlight=False)
            else:
                print(line, file=sys.stderr)

        def runner(tasks: list[bt.Task]) -> list[bt.TaskResult]:
            out = cloud(tasks, tick) if cloud is not None else bt.run_local(tasks, workers, tick, pool)
            done[0] += len(tasks)
            return out

        if cloud is not None:
            cloud.say = say
        try:
            wf = opt.walk_forward(spec, grid, points, windows, args.objective, runner, args.anchored, skipped)
        except ValueError as e:  # a setting the engine refuses
            raise CommandError(str(e)) from None
        except failures as e:  # the job, the bucket or the Admin API
            raise CommandError(str(e), code=1) from None
    if args.html:
        from tron.backtest.optimize_html import render

        try:
            args.html.write_text(render(wf, args.strategy), encoding="utf-8")
        except OSError as e:
            raise CommandError(f"cannot write {args.html}: {e.strerror or e}") from None
    if args.json:
        how: dict[str, Any] = (
            {"runner": "cloud-run", "tasks": args.tasks, "runs": cloud.runs}
            if cloud is not None
            else {"workers": workers}
        )
        print(json.dumps({"strategy": args.strategy, **how, **wf.to_doc()}))
        return 0
    _print(args.strategy, wf, args.html)
    return 0


def _check_runner(args: argparse.Namespace) -> None:
    """The runner's options agree: --workers only runs locally, the Cloud Run options need cloud-run, which
    needs --tasks."""
    if args.runner == "local":
        given = [f"--{o}" for o in CLOUD_OPTIONS if getattr(args, o) is not None]
        if given:
            raise CommandError(f"{', '.join(given)}: only with --runner cloud-run (locally: --workers)")
        return
    if args.workers is not None:
        raise CommandError("--workers runs locally; with --runner cloud-run say --tasks N")
    if args.tasks is None:
        raise CommandError("--runner cloud-run needs --tasks N: how many Cloud Run tasks run the sweep")
    from tron.backtest.sweep import MAX_TASKS

    if args.tasks > MAX_TASKS:
        raise CommandError(f"--tasks {args.tasks}: Cloud Run runs at most {MAX_TASKS} tasks per execution")


def _cloud_runner(args: argparse.Namespace) -> tuple[Any, tuple[type[Exception], ...]]:
    """The Cloud Run runner (tron.backtest.sweep.CloudRunRunner) on the project's bucket and job, and the
    errors it reports (exit 1). CommandError for no project or no Google credentials."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import DefaultCredentialsError

    from tron.adapters.cloud_run_jobs import LaunchError
    from tron.backtest.sweep import CloudRunRunner, SweepError
    from tron.bootstrap import cloud_run_sweeps
    from tron.config.settings import load_settings

    settings = load_settings()
    project = args.project or settings.project or os.environ.get("CLOUDSDK_CORE_PROJECT")
    if not project:
        raise CommandError("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
    bucket = args.bucket or settings.archive_bucket or f"{project}-tron-logs"
    try:
        archive, launcher = cloud_run_sweeps(project, args.region or REGION, bucket, args.endpoint)
    except DefaultCredentialsError as e:
        raise CommandError(
            f"no Google credentials ({e}); run `gcloud auth application-default login`"
        ) from None
    runner = CloudRunRunner(
        archive,
        launcher,
        args.job or SWEEP_JOB,
        args.tasks,
        poll_s=args.poll,
        timeout_s=args.timeout or 7200.0,
    )
    return runner, (SweepError, LaunchError, GoogleAPIError)


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
