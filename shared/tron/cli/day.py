"""`tron run-day`, `tron plan` and `tron report`: a simulated trading day, its plan and its report."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from tron.cli.args import iso_date, json_option, loopback_url, market_options
from tron.cli.errors import CommandError


def _usage_error(args: argparse.Namespace) -> str | None:
    external = "kite" in (args.broker, args.market)
    if args.backend == "emulators" and args.redeliver:
        return "--redeliver is for the embedded bus; Pub/Sub redelivers by itself"
    if args.backend == "emulators" and ("kite-sim" in (args.broker, args.market) or external):
        return "the Kite simulator runs on the embedded backend"
    if external and not args.kite_root:
        return "--broker kite and --market kite need --kite-root (a simulator started with `tron kite-sim`)"
    if args.kite_root and not external:
        return "--kite-root goes with --broker kite or --market kite"
    if args.broker == "kite" and args.market == "kite-sim":
        return "--broker kite trades on the external simulator's quotes: leave out --market"
    return None


def _day_runner(args: argparse.Namespace) -> Callable[..., dict[str, Any]]:
    """(settings, day, on_minute) → the day's summary, on the backend and market the arguments chose."""
    from tron.runday.embedded import prepare, run_day

    if args.backend == "emulators":
        from tron.devtools.emulators import EmulatorError
        from tron.runday.emulators import EmulatedDayError, run_emulated_day

        def emulated(settings: Any, day: date, on_minute: Any = None) -> dict[str, Any]:
            try:
                return run_emulated_day(settings, day, on_minute=on_minute)
            except (EmulatorError, EmulatedDayError) as e:
                raise CommandError(str(e), 1) from None

        return emulated

    if "kite" in (args.broker, args.market):
        from tron.runday.external import ExternalSimError, run_external_day

        def external(settings: Any, day: date, on_minute: Any = None) -> dict[str, Any]:
            broker = args.broker if args.broker in ("kite", "shadow") else "paper"
            try:
                return run_external_day(settings, day, args.kite_root, broker, on_minute=on_minute)
            except ExternalSimError as e:
                raise CommandError(str(e), 1) from None

        return external

    def embedded(settings: Any, day: date, on_minute: Any = None) -> dict[str, Any]:
        run = prepare(settings, day, broker=args.broker, market=args.market)
        return run_day(settings, day, on_minute=on_minute, run=run)

    return embedded


def _settings(args: argparse.Namespace) -> Any:
    """The configuration a run-day (or run-days) command line asks for; CommandError for options that
    cannot work together."""
    from tron.config.settings import load_settings

    if problem := _usage_error(args):
        raise CommandError(problem)
    kite = (
        {"broker": "kite", "market_data": "kite", "kite": {"root": args.kite_root}}
        if args.broker == "kite"
        else {}
    )
    options = {"options": {"template": args.options_template}} if args.options_template else {}
    return load_settings(
        seed=args.seed, symbols=args.symbols, redeliver_fraction=args.redeliver, **kite, **options
    )


def cmd_run_days(args: argparse.Namespace) -> int:
    """Every trading day from --from to --to through the whole pipeline, one after the other (each day's
    run as `tron run-day` makes it), and their totals."""
    from tron.bootstrap import trading_calendar

    if args.start > args.end:
        raise CommandError(f"--from {args.start} is after --to {args.end}")
    settings = _settings(args)
    calendar = trading_calendar()
    days = [d for d in _dates(args.start, args.end) if calendar.why_closed(d) is None]
    if not days:
        raise CommandError(f"no trading day from {args.start} to {args.end}")
    if len(days) > MAX_RUN_DAYS:
        raise CommandError(f"{len(days)} trading days: at most {MAX_RUN_DAYS} in one run")
    run_day = _day_runner(args)
    rows = []
    for day in days:
        result = run_day(settings, day)
        rows.append(_day_row(day, result))
        if not args.json:
            r = rows[-1]
            print(
                f"{day}  trades {r['trades']:3}  net ₹{r['net_pnl']:>12,.2f}  charges ₹{r['charges']:>10,.2f}"
                + (f"  halted: {r['halted']}" if r["halted"] else ""),
                flush=True,
            )
    total = {
        "days": len(rows),
        "trades": sum(r["trades"] for r in rows),
        "net_pnl": round(sum(r["net_pnl"] for r in rows), 2),
        "charges": round(sum(r["charges"] for r in rows), 2),
        "win_days": sum(1 for r in rows if r["net_pnl"] > 0),
        "halted_days": sum(1 for r in rows if r["halted"]),
        "worst_day": min((r["net_pnl"] for r in rows), default=0.0),
    }
    if args.json:
        print(json.dumps({"from": args.start.isoformat(), "to": args.end.isoformat(), "total": total,
                          "days": rows}, default=str))  # fmt: skip
    else:
        print(
            f"{total['days']} days, {total['trades']} trades, {total['win_days']} winning days, "
            f"net ₹{total['net_pnl']:,.2f} after ₹{total['charges']:,.2f} of charges, worst day "
            f"₹{total['worst_day']:,.2f}, {total['halted_days']} halted"
        )
    return 0


MAX_RUN_DAYS = 260  # a year of trading days


def _dates(start: date, end: date) -> list[date]:
    return [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1)]


def _day_row(day: date, result: dict[str, Any]) -> dict[str, Any]:
    """One day's line of run-days: its trades, net P&L and charges over every asset, and any halt."""
    assets = result.get("assets", {}).values()
    return {
        "date": day.isoformat(),
        "trades": sum(a["trades"] for a in assets),
        "net_pnl": round(sum(a["net_pnl"] for a in assets), 2),
        "charges": round(sum(a["charges"] for a in assets), 2),
        "halted": result.get("halted"),
        "report_html": result.get("report_html"),
    }


def cmd_run_day(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from tron.adapters.clock import RealClock

    settings = _settings(args)
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
    quotes = (
        f" on {args.market} quotes" if args.market in ("kite-sim", "kite") and args.broker == "paper" else ""
    )
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
    if live := result.get("live"):
        out.print(
            f"live orders to Kite: {live['why']}" if live["live"] else f"[red]ran on paper: {live['why']}"
        )
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
    if sh := result.get("shadow"):
        out.print(f"shadow: {sh['calls']} Kite calls recorded, {sh['refused']} refused by Kite's rules")
    if (k := result.get("kite")) and k.get("paper_day"):
        out.print(f"kite simulator: {k['orders']} orders (the day ran on paper)")
    elif k:
        out.print(
            f"kite simulator: {k['orders']} orders, {k['trades']} trades, broker square-offs "
            f"{k['auto_square_offs']}, open at close {len(k['open_positions'])}; book matches the broker: "
            f"{'yes' if k['book_matches_broker'] else 'NO: ' + '; '.join(k['mismatches'])}"
        )
    out.print(f"state:  {result['state']}\nlogs:   {result['logs']}\nreport: {result.get('report_html')}")
    return 0


def _run_root(args: argparse.Namespace) -> Path:
    from tron.config.settings import load_settings
    from tron.runday.embedded import run_root

    return run_root(load_settings(seed=args.seed, symbols=args.symbols), args.date)


def cmd_plan(args: argparse.Namespace) -> int:
    import tempfile

    from tron.bootstrap import embedded
    from tron.config.settings import load_settings
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
        raise CommandError(
            f"no report for {args.date} at {path}; run `tron run-day --date {args.date}` first", 1
        )
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


def register(sub: Any) -> None:
    """Add run-day, run-days, plan and report to the tron CLI."""
    r = sub.add_parser(
        "run-day",
        parents=[market_options(), json_option("print one JSON object instead of a table")],
        help="simulate a whole trading day (paper fills; embedded backend unless --backend)",
    )
    _day_options(r)
    r.set_defaults(func=cmd_run_day)
    days = sub.add_parser(
        "run-days",
        parents=[market_options(dated=False), json_option("print one JSON object: the totals and each day")],
        help="run-day over every trading day from --from to --to, one after the other, and the totals",
    )
    days.add_argument("--from", dest="start", type=iso_date, required=True, help="first date (IST)")
    days.add_argument("--to", dest="end", type=iso_date, required=True, help="last date (IST)")
    _day_options(days)
    days.set_defaults(func=cmd_run_days)
    for name, func, text in (
        ("plan", cmd_plan, "print the plan plan_day would write for a date"),
        ("report", cmd_report, "print a simulated day's report and where its HTML is"),
    ):
        c = sub.add_parser(
            name,
            parents=[market_options("IST trading date", date_required=True), json_option("print JSON")],
            help=text,
        )
        c.set_defaults(func=func)


def _day_options(r: Any) -> None:
    """The options run-day and run-days share: the broker, the market, the backend, redelivery, a
    structure template."""
    r.add_argument("--redeliver", type=float, help="share of bus messages delivered twice (0–1)")
    r.add_argument(
        "--broker",
        choices=("paper", "shadow", "kite-sim", "kite"),
        default="paper",
        help="paper: fills at the next snapshot's bid/ask (default); shadow: the same, with every order call "
        "built as Kite would get it, checked and recorded under days/{date}/shadow/; kite-sim: market data and orders through "
        "the Kite adapters and the official client, against the Kite simulator started on 127.0.0.1; kite: "
        "the same against a simulator started separately (--kite-root), on its clock",
    )
    r.add_argument(
        "--market",
        choices=("generated", "kite-sim", "kite"),
        default="generated",
        help="generated: the seeded market (default); kite-sim: the same market served by the Kite simulator "
        "on 127.0.0.1 and read through the Kite adapters (with --broker paper: paper fills on Kite quotes, as "
        "a deployed paper TRON runs); kite: paper fills on the quotes of the simulator at --kite-root; "
        "--broker kite-sim implies kite-sim",
    )
    r.add_argument(
        "--kite-root",
        type=loopback_url,
        help="a Kite simulator started separately (`tron kite-sim --port P --date D --time 08:59 --speed X`), "
        "e.g. http://127.0.0.1:8123",
    )
    r.add_argument(
        "--backend",
        choices=("embedded", "emulators"),
        default="embedded",
        help="embedded: SQLite and an in-process bus (default); emulators: Firestore, Pub/Sub push and "
        "fake-gcs-server started locally, functions served by functions-framework",
    )
    r.add_argument(
        "--options-template",
        metavar="NAME",
        help="the options asset trades this multi-leg structure instead of its signals: a template of the "
        "config (straddle_920, strangle_30sl, iron_condor, bull_call_spread, long_option, or your own under "
        "options.templates) or a YAML file holding one",
    )
