"""The `tron` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from tron import cli_backtest, cli_fno, cli_indicators, cli_kite_login, cli_kite_sim, cli_ops, cli_risk
from tron.cli_args import iso_date, positive_int
from tron.settings import ConfigError, load_settings


def _usage_error(args: argparse.Namespace) -> str | None:
    if args.backend == "emulators" and args.redeliver:
        return "--redeliver is for the embedded bus; Pub/Sub redelivers by itself"
    if args.backend == "emulators" and "kite-sim" in (args.broker, args.market):
        return "the Kite simulator runs on the embedded backend"
    return None


def _day_runner(args: argparse.Namespace) -> Callable[..., dict[str, Any]]:
    """(settings, day, on_minute) → the day's summary, on the backend and market the arguments chose."""
    from tron.runner import prepare, run_day

    if args.backend == "emulators":
        from tron.devtools.emulators import EmulatorError
        from tron.emulated_day import EmulatedDayError, run_emulated_day

        def emulated(settings: Any, day: date, on_minute: Any = None) -> dict[str, Any]:
            try:
                return run_emulated_day(settings, day, on_minute=on_minute)
            except (EmulatorError, EmulatedDayError) as e:
                raise SystemExit(f"tron: {e}") from None

        return emulated

    def embedded(settings: Any, day: date, on_minute: Any = None) -> dict[str, Any]:
        run = prepare(settings, day, broker=args.broker, market=args.market)
        return run_day(settings, day, on_minute=on_minute, run=run)

    return embedded


def cmd_run_day(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from tron.adapters.clock import RealClock

    if problem := _usage_error(args):
        print(f"tron: {problem}", file=sys.stderr)
        return 2
    settings = load_settings(seed=args.seed, symbols=args.symbols, redeliver_fraction=args.redeliver)
    day = args.date or RealClock().now().date()
    run_day = _day_runner(args)
    err = Console(stderr=True)
    if args.json:
        result = run_day(settings, day)
    else:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[clock]}"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task(f"trading day {day}", total=None, clock="")

            def on_minute(t: Any, i: int, total: int) -> None:
                progress.update(task, completed=i, total=total, clock=f"{t:%H:%M} IST")

            result = run_day(settings, day, on_minute=on_minute)
    if args.json:
        print(json.dumps(result, default=str))
        return 0
    out = Console()
    if not result["trading_day"]:
        out.print(f"{day} is not a trading day ({result.get('reason')}): nothing was planned or placed.")
        return 0
    quotes = " on kite-sim quotes" if args.market == "kite-sim" and args.broker == "paper" else ""
    table = Table(title=f"TRON {args.broker} day{quotes} {day} (seed {settings.seed})")
    for col in ("asset", "trades", "wins", "gross P&L ₹", "charges ₹", "net P&L ₹", "open at close"):
        table.add_column(col, justify="right" if col != "asset" else "left")
    for asset, s in result["assets"].items():
        table.add_row(
            asset,
            str(s["trades"]),
            str(s["wins"]),
            f"{s['gross_pnl']:,.2f}",
            f"{s['charges']:,.2f}",
            f"{s['net_pnl']:,.2f}",
            str(s["open_positions_at_close"]),
        )
    out.print(table)
    if result.get("halted"):
        out.print(f"[red]entries halted: {result['halted']}")
    out.print(
        f"orders placed {result['orders_placed']}, rejected {result['orders_rejected']}, "
        f"duplicate deliveries ignored {result['duplicate_deliveries_ignored']}"
    )
    if "bus" in result and args.backend == "emulators":
        b = result["bus"]
        out.print(
            f"pub/sub: {b['published']} published, {b['pushes']} pushes ({b['pushes_failed']} failed), "
            f"{b['dead_lettered']} dead-lettered; firestore: {result['firestore_ops']['total']}"
        )
    if k := result.get("kite"):
        out.print(
            f"kite simulator: {k['orders']} orders, {k['trades']} trades, broker square-offs "
            f"{k['auto_square_offs']}, open at close {len(k['open_positions'])}; book matches the broker: "
            f"{'yes' if k['book_matches_broker'] else 'NO: ' + '; '.join(k['mismatches'])}"
        )
    out.print(f"state:  {result['state']}\nlogs:   {result['logs']}\nreport: {result.get('report_html')}")
    return 0


def _run_root(args: argparse.Namespace) -> Path:
    from tron.runner import run_root

    return run_root(load_settings(seed=args.seed, symbols=args.symbols), args.date)


def cmd_plan(args: argparse.Namespace) -> int:
    import tempfile

    from tron.bootstrap import embedded
    from tron.services.plan_day import build_plan

    settings = load_settings(seed=args.seed, symbols=args.symbols)
    with tempfile.TemporaryDirectory() as tmp:
        deps, _ = embedded(settings, root=Path(tmp), log_to_archive=False)
        closed = deps.calendar.why_closed(args.date)
        if closed:
            print(json.dumps({"date": args.date.isoformat(), "trading_day": False, "reason": closed}))
            return 0
        plan = build_plan(deps, args.date).to_doc()
    if args.json:
        print(json.dumps(plan))
        return 0
    print(f"plan for {plan['day']} by {plan['planner']}: {plan['regime']} regime")
    if plan["fallback_reason"]:
        print(f"  (fell back to rules: {plan['fallback_reason']})")
    for asset, ap in plan["assets"].items():
        strategies = ", ".join(f"{s['name']}{s['params'] or ''}" for s in ap["strategies"]) or "none"
        print(
            f"  {asset:8} {'on ' if ap['enabled'] else 'off'}  {strategies}  loss limit ₹{ap['risk']['daily_loss_limit']}"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    root = _run_root(args)
    path = root / "archive" / "reports" / args.date.isoformat() / "report.json"
    if not path.exists():
        print(
            f"tron: no report for {args.date} at {path}; run `tron run-day --date {args.date}` first",
            file=sys.stderr,
        )
        return 1
    report = json.loads(path.read_text())
    if args.json:
        print(json.dumps(report))
        return 0
    for asset, a in report["assets"].items():
        wr = "–" if a["win_rate"] is None else f"{a['win_rate']:.0%}"
        print(
            f"{asset:8} trades {a['trades']:3}  win rate {wr:>4}  net ₹{a['net_pnl']:>10,.2f}  "
            f"charges ₹{a['charges']:>9,.2f}  max drawdown ₹{a['max_intraday_drawdown']:>9,.2f}"
        )
    print(f"HTML report: {path.with_suffix('.html')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tron", description="Automated intraday trading for NSE on Zerodha Kite."
    )
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser(
        "run-day", help="simulate a whole trading day (paper fills; embedded backend unless --backend)"
    )
    r.add_argument("--date", type=iso_date, help="IST trading date (default: today)")
    r.add_argument("--symbols", type=positive_int, help="universe size (default: the NIFTY 50)")
    r.add_argument("--seed", type=int, help="market generator seed (default from config: 7)")
    r.add_argument("--redeliver", type=float, help="share of bus messages delivered twice (0–1)")
    r.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    r.add_argument(
        "--broker",
        choices=("paper", "kite-sim"),
        default="paper",
        help="paper: fills at the next snapshot's bid/ask (default); kite-sim: market data and orders through "
        "the Kite adapters and the official client, against the Kite simulator started on 127.0.0.1",
    )
    r.add_argument(
        "--market",
        choices=("generated", "kite-sim"),
        default="generated",
        help="generated: the seeded market (default); kite-sim: the same market served by the Kite simulator "
        "on 127.0.0.1 and read through the Kite adapters (with --broker paper: paper fills on Kite quotes, as "
        "a deployed paper TRON runs); --broker kite-sim implies it",
    )
    r.add_argument(
        "--backend",
        choices=("embedded", "emulators"),
        default="embedded",
        help="embedded: SQLite and an in-process bus (default); emulators: Firestore, Pub/Sub push and "
        "fake-gcs-server started locally, functions served by functions-framework",
    )
    r.set_defaults(func=cmd_run_day)
    for name, func, text in (
        ("plan", cmd_plan, "print the plan plan_day would write for a date"),
        ("report", cmd_report, "print a simulated day's report and where its HTML is"),
    ):
        c = sub.add_parser(name, help=text)
        c.add_argument("--date", type=iso_date, required=True, help="IST trading date")
        c.add_argument("--symbols", type=positive_int, help="universe size (default: the NIFTY 50)")
        c.add_argument("--seed", type=int, help="market generator seed (default from config: 7)")
        c.add_argument("--json", action="store_true", help="print JSON")
        c.set_defaults(func=func)
    cli_fno.register(sub)
    cli_indicators.register(sub)
    cli_kite_sim.register(sub)
    cli_kite_login.register(sub)
    cli_backtest.register(sub)
    cli_ops.register(sub)
    cli_risk.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as e:
        print(f"tron: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
