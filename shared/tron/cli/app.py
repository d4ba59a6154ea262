"""The `tron` command's parser and its one rule for errors: a command raises CommandError (or a
configuration or input error), and main prints `tron <command>: <message>` and exits with its code.

Building the parser imports only light modules (argparse, the standard library, small tron.domain ones):
each command imports what it needs (pandas, numpy, pyarrow, the settings, the backtester, the services,
the Google and Kite clients) inside its function, so `tron --help` starts in well under 0.3 s
(tests/unit/cli/test_startup.py)."""

from __future__ import annotations

import argparse
import sys

from tron.backtest.errors import InputError
from tron.cli import (
    backtest,
    bias,
    calculators,
    data,
    day,
    indicators,
    kill_switch,
    kite_login,
    kite_sim,
    live,
    ops,
    optimize,
    reconcile,
    serve,
    sweep_task,
)
from tron.cli.errors import CommandError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tron", description="Automated intraday trading for NSE on Zerodha Kite."
    )
    sub = p.add_subparsers(dest="command", required=True)
    for group in (
        day,
        calculators,
        indicators,
        kite_sim,
        kite_login,
        backtest,
        bias,
        data,
        optimize,
        ops,
        kill_switch,
        live,
        reconcile,
        serve,
        sweep_task,
    ):
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as e:
        # the settings (pydantic) are imported here, not at the top: `tron --help` and the commands that
        # read no configuration start without them
        from tron.config.settings import ConfigError

        if not isinstance(e, CommandError | ConfigError | InputError):
            raise
        print(f"tron {args.command}: {e}", file=sys.stderr)
        return e.code if isinstance(e, CommandError) else 2
