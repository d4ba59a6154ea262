"""`tron check-bias`: does a strategy look ahead, or depend on how much history precedes its bars?

    tron check-bias --strategy NAME|all --data FILE.csv|DIR|generated [--mode intraday|peer|all]
                    [--param k=v ...] [--from D] [--to D] [--seed N] [--symbols N] [--cuts N]
                    [--tolerance X] [--json]

Two checks on the bars (tron.backtest.bias), as freqtrade's lookahead and recursive analyses:

lookahead: the bars cut after bar t (--cuts of them, half on bars where a signal fired) must give, on every
bar up to t, the signals and indicator values all the bars give there;

recursive: the bars started k bars later (a few offsets) must give, past the strategy's declared warm-up,
the same signals and indicator values within --tolerance (relative to each indicator's mean size).
Intraday strategies restart at each session's open, so their warm-up is the session: the sessions after
the first of a later start must be the same. Peer strategies declare theirs in bars.

NAME is an intraday strategy (tron.domain.strategies.REGISTRY) or a peer-mode one (sma_cross, ema_cross);
a name in both is checked in both unless --mode says which. --data as `tron backtest` reads bars: a CSV
file or a folder of them, or generated (the seeded simulated market's minute bars, --from D --to D).
Exit code 0 when no bias is found, 1 when one is (the strategy, the check and the first bar that differs
named), 2 for bad input (including bars too few to compare)."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from tron.cli.args import iso_date, json_option, params_option, positive, positive_int
from tron.cli.errors import CommandError

GENERATED = "generated"
MODES = ("intraday", "peer", "all")


def register(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "check-bias",
        parents=[json_option("print one JSON object")],
        help="check strategies for lookahead and for a warm-up that depends on the history's start",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--strategy", required=True, help="a strategy's name, or all")
    p.add_argument(
        "--data", required=True, help="OHLCV CSV, a folder of them, or 'generated' (with --from and --to)"
    )
    p.add_argument("--mode", choices=MODES, default="all", help="which registry (default: both)")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter (repeat)")
    p.add_argument("--from", dest="start", type=iso_date, metavar="D", help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", type=iso_date, metavar="D", help="last day (YYYY-MM-DD)")
    p.add_argument("--seed", type=int, help="--data generated: the market's seed (default: configured)")
    p.add_argument("--symbols", type=positive_int, help="--data generated: the stock universe's size")
    p.add_argument("--cuts", type=positive_int, default=12, help="lookahead: runs on cut data (default 12)")
    p.add_argument(
        "--tolerance", type=positive, default=1e-6, help="recursive: largest relative deviation (1e-6)"
    )
    p.set_defaults(func=run)
    return p


def subjects(name: str, mode: str, params: dict[str, float]) -> list[Any]:
    """The strategies to check: every registered one (``all``) or those of the name in the mode's registry."""
    from tron.backtest import bias
    from tron.backtest.peer import STRATEGIES as PEER
    from tron.domain.strategies import REGISTRY

    if name == "all":
        if params:
            raise CommandError("--param needs one strategy, not all")
        return bias.registered(mode)
    found: list[Any] = []
    try:
        if mode in ("intraday", "all") and name in REGISTRY:
            found.append(bias.SessionStrategy(name, params))
        if mode in ("peer", "all") and name in PEER:
            found.append(bias.peer_strategy(name, params))
    except ValueError as e:
        raise CommandError(str(e)) from None
    if not found:
        known = [*REGISTRY, *PEER] if mode == "all" else REGISTRY if mode == "intraday" else PEER
        raise CommandError(f"unknown strategy {name!r} for mode {mode}; known: all, {', '.join(known)}")
    return found


def load_bars(args: argparse.Namespace) -> list[Any]:
    """The bars as `tron backtest` reads them: a CSV file or folder, or the simulated market's minute bars
    of --from … --to; only the days from --from to --to."""
    if args.start is not None and args.end is not None and args.start > args.end:
        raise CommandError(f"--from {args.start} is after --to {args.end}")
    if args.data != GENERATED:
        if args.seed is not None or args.symbols is not None:
            raise CommandError("--seed and --symbols are for --data generated")
        from tron.backtest import data as bdata

        bars = [_between(b, args.start, args.end) for b in bdata.load(Path(args.data))]
        bars = [b for b in bars if len(b)]
        if not bars:
            raise CommandError(f"{args.data} has no bar from {args.start or '…'} to {args.end or '…'}")
        return bars
    if args.start is None or args.end is None:
        raise CommandError("--data generated needs the days: --from D --to D")
    return _generated(args.start, args.end, args.seed, args.symbols)


def _between(bars: Any, start: date | None, end: date | None) -> Any:
    from tron.backtest.data import Bars

    keep = [i for i, t in enumerate(bars.times) if (start or date.min) <= t.date() <= (end or date.max)]
    if len(keep) == len(bars):
        return bars
    b = bars
    times = [b.times[i] for i in keep]
    return Bars(b.symbol, times, b.open[keep], b.high[keep], b.low[keep], b.close[keep], b.volume[keep])


def _generated(start: date, end: date, seed: int | None, symbols: int | None) -> list[Any]:
    """The stocks' minute candles of the simulated days `tron backtest --data generated` trades."""
    import numpy as np

    from tron.backtest.data import Bars
    from tron.cli.backtest import generated_sessions
    from tron.domain.models import Asset
    from tron.domain.plan import AssetPlan
    from tron.domain.risk import RiskLimits

    plan = AssetPlan(Asset.STOCKS, True, (), RiskLimits(), "check-bias")
    try:
        sessions = generated_sessions(plan, start, end, seed, symbols)
    except ValueError as e:
        raise CommandError(str(e)) from None
    if not len(sessions):
        raise CommandError(f"no trading day from {start} to {end}")
    candles: dict[str, list[Any]] = {}
    for sess in sessions:
        for sym in sess.symbols:
            candles.setdefault(sym, []).extend(sess.candles[sym])
    out = []
    for sym, cs in candles.items():
        o, h, lo, c, v = np.array([(x.open, x.high, x.low, x.close, x.volume) for x in cs], dtype=float).T
        out.append(Bars(sym, [x.start for x in cs], o, h, lo, c, v))
    return out


def run(args: argparse.Namespace) -> int:
    from tron.backtest import bias

    chosen = subjects(args.strategy, args.mode, params_option(args.param))
    bars = load_bars(args)
    reports = []
    for subject in chosen:
        try:
            report = bias.check(subject, bars, cuts=args.cuts, tolerance=args.tolerance)
        except bias.NotEnoughData as e:
            mode_all = args.mode == "all" and subject.mode == "peer"
            hint = "; --mode intraday skips the peer strategies" if mode_all else ""
            raise CommandError(f"{e} (--data {args.data}){hint}") from None
        except ValueError as e:  # a strategy that refuses the bars
            raise CommandError(f"{subject.name}: {e}") from None
        reports.append(report)
        if not args.json:
            print(_text(report), flush=True)
    biased = [r for r in reports if not r.clean]
    if args.json:
        print(json.dumps({"clean": not biased, "strategies": [r.to_dict() for r in reports]}))
    elif biased:
        names = "; ".join(
            f"{r.strategy} ({r.mode}: {', '.join(c.check for c in (r.lookahead, r.recursive) if not c.clean)})"
            for r in biased
        )
        print(f"bias found: {names}")
    else:
        print(f"no bias found in {len(reports)} strateg{'y' if len(reports) == 1 else 'ies'}")
    return 1 if biased else 0


def _text(report: Any) -> str:
    lines = [f"{report.strategy} ({report.mode}; warm-up: {report.warmup})"]
    for c in (report.lookahead, report.recursive):
        runs = (
            f"{len(c.runs)} cuts"
            if c.check == "lookahead"
            else "offsets " + ", ".join(r.split()[0] for r in c.runs)
        )
        signals = f"{c.signals_compared:,} signal{'' if c.signals_compared == 1 else 's'}"
        compared = f"{c.bars_compared:,} symbol-bars and {signals} compared"
        if c.clean:
            worst = max(c.deviations.items(), key=lambda kv: kv[1].deviation, default=None)
            dev = f"; largest deviation {worst[1].deviation:.2g} ({worst[0]})" if worst else ""
            dev = "; every value the same" if worst and worst[1].deviation == 0 else dev
            lines.append(f"  {c.check:<10} clean  {runs}; {compared}{dev}")
            continue
        d = c.first
        assert d is not None
        where = f"the data ending at {d.run}" if c.check == "lookahead" else f"the data starting {d.run}"
        lines.append(
            f"  {c.check:<10} BIAS   first at bar {d.bar.isoformat()} {d.symbol}: {d.what} is {_v(d.full)} "
            f"with all the bars, {_v(d.other)} with {where} ({runs}; {compared})"
        )
        over = [
            f"{k} {_dev(v.deviation)}" for k, v in sorted(c.deviations.items()) if v.deviation > c.tolerance
        ]
        if over:
            lines.append(f"  {'':<10}        beyond {c.tolerance:g}: {', '.join(over)}")
        if c.signals_differing:
            lines.append(f"  {'':<10}        {c.signals_differing} signals differ")
    return "\n".join(lines)


def _v(x: Any) -> str:
    return "undefined" if x is None else f"{x:.6g}" if isinstance(x, float) else str(x)


def _dev(x: float) -> str:
    return "(defined in one run only)" if x == float("inf") else f"{x:.3g}"
