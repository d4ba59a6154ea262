"""`tron backtest`: run a strategy over OHLCV bars or a recorded paper day, through the live decision code.

    tron backtest --data FILE.csv|DIR|REPLAY.jsonl --strategy NAME|--plan PLAN.json [--param k=v ...] [--capital C]
                  [--charges zerodha-intraday|none] [--slippage-bps X] [--fill next-open|close|next-quote]
                  [--mode intraday|peer] [--json] [--report out.html]

Intraday (default): NAME is a strategy of tron.domain.strategies.REGISTRY (several: comma-separated, with
parameters as name.k=v); the risk limits are the configured ones (config/tron.yaml, TRON_RISK__*), the
capital --capital if given; or --plan, a day's plan (`tron plan --json`) with its strategies, parameters and
risk limits. A ``.jsonl`` replay file (archive/replay/{day}/{asset}.jsonl of a run-day)
fills with next-quote by default, as the paper broker does. Peer mode: sma_cross or ema_cross, long-only,
all-in, next-bar-open fills, no costs (backtesting.py's conventions). Bad input: a message on stderr and
exit code 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tron.backtest import data as bdata
from tron.backtest import html as bhtml
from tron.backtest.engine import IntradayConfig, run_intraday
from tron.backtest.fills import FILL_MODELS
from tron.backtest.metrics import summarize
from tron.backtest.peer import STRATEGIES as PEER_STRATEGIES
from tron.backtest.peer import run_peer
from tron.backtest.result import BacktestResult
from tron.cli.args import json_option
from tron.cli.errors import CommandError
from tron.domain.models import Asset
from tron.domain.plan import AssetPlan, Plan, StrategyChoice
from tron.domain.risk import RiskLimits
from tron.domain.strategies import REGISTRY

CHARGES = ("zerodha-intraday", "none")


def register(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "backtest",
        parents=[json_option("print one JSON object (no progress bar)")],
        help="backtest a strategy on OHLCV bars or a recorded day, through the live decision code",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", required=True, type=Path, help="OHLCV CSV, a folder of them, or a replay .jsonl")
    p.add_argument(
        "--strategy",
        help=f"intraday: {', '.join(REGISTRY)}; peer: {', '.join(PEER_STRATEGIES)}",
    )
    p.add_argument(
        "--plan", type=Path, help="intraday: a day's plan as JSON (`tron plan --json`), instead of --strategy"
    )
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter (repeat)")
    p.add_argument("--capital", type=str, help="capital in rupees (default: the configured capital)")
    p.add_argument("--charges", choices=CHARGES, help="Zerodha charges (intraday default) or none")
    p.add_argument("--slippage-bps", type=float, default=0.0, help="against the trader, basis points")
    p.add_argument("--fill", choices=FILL_MODELS, help="next-open (bars) | close | next-quote (replays)")
    p.add_argument("--mode", choices=("intraday", "peer"), default="intraday")
    p.add_argument("--seed", type=int, default=7, help="Monte Carlo VaR seed")
    p.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    p.set_defaults(func=run)
    return p


def _params(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise CommandError(f"--param wants K=V, got {item!r}")
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise CommandError(f"--param {k.strip()}: not a number: {v!r}") from None
    return out


def _capital(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        c = Decimal(text)
    except InvalidOperation:
        raise CommandError(f"--capital: not a number: {text!r}") from None
    if not c.is_finite() or c <= 0:
        raise CommandError(f"--capital must be positive, got {text}")
    return c


def intraday_plan(strategy: str, params: dict[str, float], capital: Decimal | None) -> AssetPlan:
    """A one-asset plan of the named registry strategies inside the configured risk limits."""
    from tron.config.settings import load_settings

    names = [s.strip() for s in strategy.split(",") if s.strip()]
    unknown = [s for s in names if s not in REGISTRY]
    if not names or unknown:
        raise CommandError(
            f"unknown strategy {', '.join(unknown) or strategy!r}; known: {', '.join(REGISTRY)}"
        )
    per: dict[str, dict[str, float]] = {s: {} for s in names}
    for k, v in params.items():
        name, dot, key = k.rpartition(".")
        if not dot:
            if len(names) > 1:
                raise CommandError(f"--param {k}: say which strategy (name.{k}=…) when running several")
            name, key = names[0], k
        if name not in per:
            raise CommandError(f"--param {k}: {name!r} is not one of the strategies run")
        per[name][key] = v
    for s in names:
        REGISTRY[s].resolve(per[s])  # ValueError names the parameter and its range
    risk = _with_capital(load_settings().envelope()[Asset.STOCKS], capital)
    return AssetPlan(Asset.STOCKS, True, tuple(StrategyChoice(s, per[s]) for s in names), risk, "backtest")


def _with_capital(risk: RiskLimits, capital: Decimal | None) -> RiskLimits:
    if capital is None:
        return risk
    return dataclasses.replace(risk, capital=capital, account_capital=None)  # the backtest's whole account


def plan_from_file(path: Path, capital: Decimal | None) -> AssetPlan:
    """The stocks plan of a day's plan document (what `tron plan --json` prints and plan_day stores)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        plan = Plan.from_doc(doc.get("plan", doc))
    except OSError as e:
        raise CommandError(f"cannot read the plan {path}: {e.strerror or e}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CommandError(f"{path} is not a plan document ({type(e).__name__}: {e})") from None
    ap = plan.assets.get(Asset.STOCKS)
    if ap is None or not ap.enabled:
        raise CommandError(f"{path}: the plan does not enable stocks")
    return dataclasses.replace(ap, risk=_with_capital(ap.risk, capital))


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sessions"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def backtest(args: argparse.Namespace) -> BacktestResult:
    params = _params(args.param)
    capital = _capital(args.capital)
    if args.mode == "peer":
        if args.plan is not None or not args.strategy:
            raise CommandError("peer mode runs --strategy sma_cross or ema_cross (no --plan)")
        if args.charges == "zerodha-intraday":
            raise CommandError("peer mode has no costs (backtesting.py's conventions): drop --charges")
        if args.fill not in (None, "next-open") or args.slippage_bps:
            raise CommandError("peer mode fills at the next bar's open without slippage")
        if args.strategy not in PEER_STRATEGIES:
            raise CommandError(
                f"unknown peer strategy {args.strategy!r}; known: {', '.join(PEER_STRATEGIES)}"
            )
        bars = bdata.load(args.data)
        if len(bars) != 1:
            raise CommandError(f"peer mode runs one symbol; {args.data} holds {len(bars)}")
        if capital is None:
            from tron.config.settings import load_settings

            capital = load_settings().risk.capital
        return run_peer(bars[0], args.strategy, params, capital)
    if args.plan is not None:
        if args.strategy or params:
            raise CommandError("--plan brings its strategies and parameters: drop --strategy and --param")
        plan = plan_from_file(args.plan, capital)
    elif not args.strategy:
        raise CommandError("say which strategy to run: --strategy NAME (or --plan FILE)")
    else:
        plan = intraday_plan(args.strategy, params, capital)
    replay = args.data.suffix.lower() == ".jsonl"
    sessions = bdata.read_replay(args.data) if replay else bdata.sessions_from_bars(bdata.load(args.data))
    fill = args.fill or ("next-quote" if replay else "next-open")
    cfg = IntradayConfig(
        plan,
        fill=fill,
        slippage_bps=args.slippage_bps,
        charges=(args.charges or "zerodha-intraday") == "zerodha-intraday",
        store_rounding=replay,
    )
    progress = _progress(not args.json and len(sessions) > 1)
    if progress is None:
        return run_intraday(sessions, cfg)
    with progress:
        task = progress.add_task("backtest", total=len(sessions))
        return run_intraday(sessions, cfg, progress=lambda done, total: progress.update(task, completed=done))


def run(args: argparse.Namespace) -> int:
    try:
        result = backtest(args)
        summary = summarize(result, seed=args.seed)
    except ValueError as e:  # a setting the engine refuses
        raise CommandError(str(e)) from None
    if args.report:
        try:
            args.report.write_text(bhtml.render(result, summary), encoding="utf-8")
        except OSError as e:
            raise CommandError(f"cannot write {args.report}: {e.strerror or e}") from None
    if args.json:
        print(json.dumps({**summary, "trades_list": [t.to_dict() for t in result.trades]}))
        return 0
    _print_table(summary, args.report)
    return 0


def _print_table(summary: dict[str, Any], report: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    days = f"{summary['days']} day{'' if summary['days'] == 1 else 's'}"
    t = Table(title=f"TRON backtest: {summary['strategy']} ({summary['mode']}, {days})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k in (
        "capital", "final_equity", "total_return_pct", "trades", "open_trades", "win_rate", "charges",
        "max_drawdown_pct", "sharpe", "sortino", "cagr_pct", "calmar", "exposure_pct", "entries_refused",
    ):  # fmt: skip
        v = summary[k]
        t.add_row(k, "–" if v is None else (f"{v:,.4f}" if isinstance(v, float) else str(v)))
    out.print(t)
    if summary["risk"]:
        r = Table(title="one-day VaR / CVaR, % of equity")
        r.add_column("method")
        cols = list(next(iter(summary["risk"].values())))
        for c in cols:
            r.add_column(c, justify="right")
        for m, row in summary["risk"].items():
            r.add_row(m, *(f"{row[c]:.4f}" for c in cols))
        out.print(r)
    if report:
        out.print(f"report: {report}")
