"""`tron backtest`: run a strategy or an options structure over OHLCV bars, a recorded paper day or simulated
days, through the live decision code.

    tron backtest --data FILE.csv|DIR|REPLAY.jsonl|CHAINS|generated --strategy NAME|TEMPLATE|--plan PLAN.json
                  [--from D] [--to D] [--seed N] [--symbols N] [--param k=v ...] [--capital C]
                  [--charges zerodha-intraday|none] [--slippage-bps X] [--fill next-open|close|next-quote]
                  [--mode intraday|peer] [--json] [--report out.html]

Intraday (default): NAME is a strategy of tron.domain.strategies.REGISTRY (several: comma-separated, with
parameters as name.k=v), traded on stocks; the risk limits are the configured ones (config/tron.yaml,
TRON_RISK__*), the capital --capital if given; or --plan, a day's plan (`tron plan --json`) with its
strategies, parameters and risk limits. A ``.jsonl`` replay file (archive/replay/{day}/{asset}.jsonl of a
run-day) fills with next-quote by default, as the paper broker does. --from and --to (dates, both included)
keep the sessions of a range.

Recorded option chains (the archive's chains/{date}/NIFTY.parquet, written at each day's close): a TEMPLATE
replays the days they hold, filled at the next quote; with no minute candles in a chain, the legs' stops are
checked by the tick each minute instead of resting at the broker.

--data generated: the seeded simulated market of `tron run-day` (--seed, default the configured seed), each
trading day from --from to --to read minute by minute as the asset's tick reads a paper day, filled as the
paper broker fills (next-quote by default). A TEMPLATE (a multi-leg options structure: a shipped template
such as straddle_920, iron_condor, one of yours under options.templates, or a template .yaml file) trades on
the options asset: NIFTY's option chains with the selected future and the index, square-off 15:15/15:17/
15:19, each leg's stop resting at the (simulated) broker; --json adds "structures" (each day's structures
with their legs, and the totals). The risk limits are the options asset's configured ones: a one-lot short
straddle blocks ₹2–2.1 lakh of margin, which must fit in max_position_pct (50 %) of the options capital, and
risks about ₹14,000 at its 25% stops with the slippage band, so it needs about ₹4.5 lakh for options
(--capital 450000, or assets.options.capital_pct) and a daily loss limit of about ₹30,000
(TRON_RISK__DAILY_LOSS_LIMIT=30000 and TRON_RISK__DAILY_LOSS_LIMIT_PCT=10 with --capital, which makes the
capital the whole account); a day the governor refuses records why. Peer mode: sma_cross or ema_cross,
long-only, all-in, next-bar-open fills, no costs (backtesting.py's conventions). Bad input: a message on
stderr and exit code 2."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sized
from datetime import date, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tron.backtest.fills import FILL_MODELS  # light: the domain's models and money
from tron.cli.args import json_option, params_option
from tron.cli.errors import CommandError
from tron.domain.models import Asset

if TYPE_CHECKING:  # the backtester and the strategies import numpy: each function imports what it runs
    from tron.backtest.generated import GeneratedSessions
    from tron.backtest.result import BacktestResult
    from tron.domain.plan import AssetPlan
    from tron.domain.risk import RiskLimits

CHARGES = ("zerodha-intraday", "none")
GENERATED = "generated"  # --data generated: the seeded simulated market


def register(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "backtest",
        parents=[json_option("print one JSON object (no progress bar)")],
        help="backtest a strategy on OHLCV bars or a recorded day, through the live decision code",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,  # -h/--help below: it names the strategies, imported only when asked
    )

    def full_help() -> None:  # `strategy` and `seed`: the arguments added below
        from tron.backtest.metrics import MC_SEED
        from tron.backtest.peer import STRATEGIES as PEER_STRATEGIES
        from tron.domain.strategies import REGISTRY

        strategy.help = (
            f"intraday: {', '.join(REGISTRY)}, or an options template (a name, or a .yaml file); "
            f"peer: {', '.join(PEER_STRATEGIES)}"
        )
        seed.help = (
            "--data generated: the market's seed (default: the configured seed); the Monte Carlo VaR "
            f"seed (default {MC_SEED})"
        )

    p.add_argument("-h", "--help", action=_FullHelp, fill=full_help, help="show this help message and exit")
    p.add_argument(
        "--data",
        required=True,
        type=Path,
        help="OHLCV CSV or Parquet, a folder of them (or of symbol folders of YYYY-MM.parquet months, as "
        "`tron data fetch` stores them), a replay .jsonl, 'generated' (the seeded simulated market), or for "
        "a TEMPLATE recorded option chains (a chains/{date}/NIFTY.parquet file or a folder of them)",
    )
    strategy = p.add_argument("--strategy", help="intraday: registry strategies or an options template")
    p.add_argument("--from", dest="start", type=_date, metavar="D", help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", type=_date, metavar="D", help="last day (YYYY-MM-DD)")
    p.add_argument(
        "--symbols", type=int, help="--data generated: the stock universe (default: the configured one)"
    )
    p.add_argument(
        "--plan", type=Path, help="intraday: a day's plan as JSON (`tron plan --json`), instead of --strategy"
    )
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter (repeat)")
    p.add_argument(
        "--capital",
        type=str,
        help="capital in rupees, the backtest's whole account (default: the asset's configured capital)",
    )
    p.add_argument("--charges", choices=CHARGES, help="Zerodha charges (intraday default) or none")
    p.add_argument("--slippage-bps", type=float, default=0.0, help="against the trader, basis points")
    p.add_argument("--fill", choices=FILL_MODELS, help="next-open (bars) | close | next-quote (replays)")
    p.add_argument("--mode", choices=("intraday", "peer"), default="intraday")
    seed = p.add_argument("--seed", type=int, help="--data generated: the market's seed")
    p.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    p.set_defaults(func=run)
    return p


class _FullHelp(argparse.Action):
    """-h/--help that first completes the help texts naming what the backtester knows (its strategies and
    the Monte Carlo seed): importing those costs numpy, which building the `tron` parser does without."""

    def __init__(self, option_strings: list[str], dest: str, fill: Any, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)
        self.fill = fill

    def __call__(self, parser: argparse.ArgumentParser, *_: Any, **__: Any) -> None:
        self.fill()
        parser.print_help()
        parser.exit()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


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
    from tron.domain.plan import AssetPlan, StrategyChoice
    from tron.domain.strategies import REGISTRY

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


def is_template(strategy: str) -> bool:
    """Whether --strategy names an options structure rather than registry strategies."""
    from tron.domain.strategies import REGISTRY

    names = [s.strip() for s in strategy.split(",") if s.strip()]
    return len(names) == 1 and names[0] not in REGISTRY


def structure_plan(template: str, capital: Decimal | None) -> AssetPlan:
    """A plan of the options asset trading the template (a name of options.templates or the shipped ones,
    or a template .yaml file), inside the options asset's configured risk limits."""
    from tron.config.settings import load_settings, read_structure, shipped_templates
    from tron.domain.plan import AssetPlan
    from tron.domain.strategies import REGISTRY

    settings = load_settings()
    known = sorted({*shipped_templates(), *settings.options.templates})
    try:
        spec = read_structure(template, settings.options.templates)
    except (ValueError, TypeError) as e:  # TypeError: a YAML key that is not text (`on:` reads as true)
        if Path(template).suffix in (".yaml", ".yml"):
            raise CommandError(f"--strategy {template}: {e}") from None
        raise CommandError(
            f"unknown strategy or options template {template!r}; strategies: {', '.join(REGISTRY)}; "
            f"templates: {', '.join(known)} (or a template .yaml file)"
        ) from None
    assert spec is not None
    risk = _with_capital(settings.envelope()[Asset.OPTIONS], capital)
    return AssetPlan(Asset.OPTIONS, True, (), risk, "backtest", structure=spec.to_doc())


def _with_capital(risk: RiskLimits, capital: Decimal | None) -> RiskLimits:
    if capital is None:
        return risk
    return dataclasses.replace(risk, capital=capital, account_capital=None)  # the backtest's whole account


def plan_from_file(path: Path, capital: Decimal | None) -> AssetPlan:
    """The stocks plan of a day's plan document (what `tron plan --json` prints and plan_day stores)."""
    from tron.domain.plan import Plan

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


def generated_sessions(
    plan: AssetPlan, start: date, end: date, seed: int | None = None, symbols: int | None = None
) -> GeneratedSessions:
    """The trading days from start to end of the seeded simulated market `tron run-day` trades (the
    configured seed and universe unless given), as the plan's asset's tick reads them."""
    from tron.adapters.clock import VirtualClock
    from tron.backtest.generated import GeneratedSessions
    from tron.bootstrap import seeded_market, trading_calendar
    from tron.config.settings import load_settings
    from tron.domain.timeutil import ist

    settings = load_settings()
    update = {k: v for k, v in (("seed", seed), ("symbols", symbols)) if v is not None}
    clock = VirtualClock(ist(start, time(9, 15)))
    market = seeded_market(settings.model_copy(update=update), clock)
    return GeneratedSessions(market, clock, trading_calendar(), plan, start, end)


def chain_sessions(path: Path, start: date | None, end: date | None) -> list[Any]:
    """The recorded option-chain days (tron.services.chain_archive) in a Parquet file or under a folder
    (the archive's chains/), oldest first, between start and end."""
    from tron.backtest.chains import read_chain_day

    files = [path] if path.is_file() else sorted(path.rglob("*.parquet")) if path.is_dir() else []
    if not files:
        raise CommandError(
            f"{path}: no recorded option chain (a chains/{{date}}/NIFTY.parquet file or a folder of them); "
            "simulated days: --data generated --from D --to D"
        )
    days = [read_chain_day(f) for f in files]
    lo, hi = start or date.min, end or date.max
    sessions = [d.session() for d in sorted(days, key=lambda d: d.day) if lo <= d.day <= hi]
    if not sessions:
        raise CommandError(f"{path} has no recorded day from {start or '…'} to {end or '…'}")
    return sessions


def _guardrails() -> Any:
    from tron.config.settings import load_settings

    return load_settings().guardrails.guardrails()


def _no_day(start: date, end: date) -> str:
    from tron.bootstrap import trading_calendar

    cal = trading_calendar()
    days = [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1)]
    why = "; ".join(f"{d} {cal.why_closed(d)}" for d in days) if len(days) <= 7 else ""
    return f"no trading day from {start} to {end}" + (f" ({why})" if why else "")


def backtest(args: argparse.Namespace) -> BacktestResult:
    from tron.backtest import data as bdata
    from tron.backtest.peer import STRATEGIES as PEER_STRATEGIES

    params = params_option(args.param)
    capital = _capital(args.capital)
    generated = str(args.data) == GENERATED
    if args.start is not None and args.end is not None and args.start > args.end:
        raise CommandError(f"--from {args.start} is after --to {args.end}")
    if args.symbols is not None and (not generated or args.symbols < 1):
        raise CommandError("--symbols N (N ≥ 1) sizes the stock universe of --data generated")
    if args.mode == "peer" and generated:
        raise CommandError("peer mode reads one symbol's bars: --data FILE.csv")
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
        from tron.backtest.peer import run_peer

        return run_peer(bars[0], args.strategy, params, capital)
    if args.plan is not None:
        if args.strategy or params:
            raise CommandError("--plan brings its strategies and parameters: drop --strategy and --param")
        plan = plan_from_file(args.plan, capital)
    elif not args.strategy:
        raise CommandError("say which strategy to run: --strategy NAME (or --plan FILE)")
    elif is_template(args.strategy):
        plan = structure_plan(args.strategy, capital)
        if params:
            raise CommandError(
                f"{plan.structure and plan.structure.get('name')}: an options structure takes "
                "no --param (its legs and stops are in the template)"
            )
    else:
        plan = intraday_plan(args.strategy, params, capital)
    from tron.backtest.engine import IntradayConfig, run_intraday

    sessions: Any
    if generated:
        if args.start is None or args.end is None:
            raise CommandError("--data generated needs the days: --from D --to D")
        if args.fill == "next-open":
            raise CommandError("simulated days fill with next-quote (the paper broker's fill) or close")
        sessions = generated_sessions(plan, args.start, args.end, args.seed, args.symbols)
        if not len(sessions):
            raise CommandError(_no_day(args.start, args.end))
        # the tick's stored round trip of its state is exact (tests/unit/backtest/test_structures_backtest.py)
        # and would triple the time: not repeated here
        fill, rounding = args.fill or "next-quote", False
    elif plan.structure is not None:  # recorded option chains: a chains/{date}/NIFTY.parquet file or folder
        sessions = chain_sessions(args.data, args.start, args.end)
        fill, rounding = args.fill or "next-quote", False
    else:
        replay = args.data.suffix.lower() == ".jsonl"
        sessions = bdata.read_replay(args.data) if replay else bdata.sessions_from_bars(bdata.load(args.data))
        if args.start is not None or args.end is not None:
            lo, hi = args.start or date.min, args.end or date.max
            if isinstance(sessions, bdata.BarSessions):
                sessions = sessions.between(lo, hi)  # none made yet
            else:
                sessions = [s for s in sessions if lo <= s.day <= hi]
            if not sessions:
                raise CommandError(
                    f"{args.data} has no session from {args.start or '…'} to {args.end or '…'}"
                )
        fill, rounding = args.fill or ("next-quote" if replay else "next-open"), replay
    cfg = IntradayConfig(
        plan,
        fill=fill,
        slippage_bps=args.slippage_bps,
        charges=(args.charges or "zerodha-intraday") == "zerodha-intraday",
        store_rounding=rounding,
        guardrails=_guardrails() if plan.structure is not None else None,
    )
    progress = _progress(not args.json and isinstance(sessions, Sized) and len(sessions) > 1)
    if progress is None:
        return run_intraday(sessions, cfg)
    with progress:
        task = progress.add_task("backtest", total=len(sessions))
        return run_intraday(sessions, cfg, progress=lambda done, total: progress.update(task, completed=done))


def run(args: argparse.Namespace) -> int:
    from tron.backtest.metrics import MC_SEED, summarize

    try:
        result = backtest(args)
        summary = summarize(result, seed=MC_SEED if args.seed is None else args.seed)
    except ValueError as e:  # a setting the engine refuses
        raise CommandError(str(e)) from None
    structures = None
    if result.mode != "peer":  # the engine is not imported for a peer run
        from tron.backtest.engine import IntradayResult, structure_report

        if isinstance(result, IntradayResult) and result.structure is not None:
            structures = structure_report(result)
    if args.report:
        from tron.backtest import html as bhtml

        try:
            args.report.write_text(bhtml.render(result, summary), encoding="utf-8")
        except OSError as e:
            raise CommandError(f"cannot write {args.report}: {e.strerror or e}") from None
    if args.json:
        extra = {"structures": structures} if structures is not None else {}
        print(json.dumps({**summary, "trades_list": [t.to_dict() for t in result.trades], **extra}))
        return 0
    _print_table(summary, args.report)
    if structures is not None:
        _print_structures(structures)
    return 0


def _print_structures(rep: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{rep['template']}: day by day")
    for c in ("day", "entry", "exit", "why out", "net ₹"):
        t.add_column(c, justify="right" if c == "net ₹" else "left")
    for d in rep["days"]:
        for st in d["structures"]:
            out = (st["exit_time"] or "")[11:16]
            t.add_row(
                d["date"], st["entry_time"][11:16], out, st["exit_reason"] or "open", f"{st['net_pnl']:,.2f}"
            )
        if not d["structures"]:
            t.add_row(
                d["date"],
                "–",
                "–",
                "refused: " + ("; ".join(d["refused"][:1]) or "nothing entered"),
                f"{d['net_pnl']:,.2f}",
            )
    tot = rep["totals"]
    t.add_row(
        "total", "", "", f"{tot['win_days']} won, {tot['loss_days']} lost of {tot['days']} days; "
        f"max drawdown ₹{tot['max_drawdown']:,.2f}; charges ₹{tot['charges']:,.2f}", f"{tot['net_pnl']:,.2f}",
    )  # fmt: skip
    Console().print(t)


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
