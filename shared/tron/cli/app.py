"""The `tron` command's parser and its one rule for errors: a command raises CommandError (or a
configuration or input error), and main prints `tron <command>: <message>` and exits with its code."""

from __future__ import annotations

import argparse
import sys

from tron.backtest.bars_csv import InputError
from tron.cli import (
    backtest,
    calculators,
    day,
    indicators,
    kill_switch,
    kite_login,
    kite_sim,
    live,
    ops,
    reconcile,
)
from tron.cli.errors import CommandError
from tron.config.settings import ConfigError


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
        ops,
        kill_switch,
        live,
        reconcile,
    ):
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CommandError, ConfigError, InputError) as e:
        print(f"tron {args.command}: {e}", file=sys.stderr)
        return e.code if isinstance(e, CommandError) else 2
