"""Argument types and options shared by the `tron` subcommands.

argparse turns an ArgumentTypeError into "argument --x: <message>" and exit code 2, so each type names
what it expected and what it got."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from typing import Any, TypeVar

from tron.cli.errors import CommandError
from tron.domain.timeutil import parse_hhmm

T = TypeVar("T")


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def hhmm(text: str) -> time:
    try:
        return parse_hhmm(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def nonempty(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def checked(
    convert: Callable[[str], T], kind: str, check: Callable[[T], bool], what: str
) -> Callable[[str], T]:
    """A type that converts the text (else "not <kind>") and checks the value (else "must be <what>")."""

    def parse(text: str) -> T:
        try:
            v = convert(text)
        except (ValueError, ArithmeticError):  # Decimal raises InvalidOperation, an ArithmeticError
            raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
        if not check(v):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return v

    return parse


def number(check: Callable[[float], bool], what: str) -> Callable[[str], float]:
    """A finite float that passes `check`."""
    return checked(float, "a number", lambda v: math.isfinite(v) and check(v), what)


positive_int = checked(int, "an integer", lambda v: v > 0, "a positive integer")
port = checked(int, "an integer", lambda v: 0 <= v <= 65535, "0–65535")
decimal_nonneg = checked(Decimal, "a number", lambda v: v.is_finite() and v >= 0, "a non-negative number")
positive = number(lambda v: v > 0, "a positive number")
nonneg = number(lambda v: v >= 0, "a non-negative number")
any_float = number(lambda v: True, "a number")


def params_option(items: list[str]) -> dict[str, float]:
    """``--param K=V`` values (repeated) as a mapping of numbers; CommandError (exit 2) naming a bad one."""
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


def loopback_url(text: str) -> str:
    """An http(s) URL on this machine (127.0.0.1, localhost or ::1): a local Kite simulator."""
    from tron.config.settings import is_loopback

    if not is_loopback(text):
        raise argparse.ArgumentTypeError(f"not a loopback URL (http://127.0.0.1:PORT): {text!r}")
    return text.rstrip("/")


# ---------------------------------------------------------------------------------------------- shared options
def market_options(
    date_help: str = "IST trading date (default: today)", date_required: bool = False, dated: bool = True
) -> Any:
    """A parent parser: --date (unless not ``dated``), --symbols and --seed, the simulated market's day (the
    seed and the universe default to the configuration's)."""
    p = argparse.ArgumentParser(add_help=False)
    if dated:
        p.add_argument("--date", type=iso_date, required=date_required, help=date_help)
    p.add_argument("--symbols", type=positive_int, help="universe size (default: the NIFTY 50)")
    p.add_argument("--seed", type=int, help="market generator seed (default from config: 7)")
    return p


def json_option(text: str = "print one JSON object") -> Any:
    """A parent parser: --json."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", help=text)
    return p


def operator_store(state: str | None, must_exist: bool) -> Any:
    """The store an operator's command reads and writes: the configured backend's (Firestore for backend gcp,
    else the SQLite file ``state``, default <data_dir>/state.sqlite). ``must_exist``: a missing SQLite
    file is an error (a status, not a change)."""
    from pathlib import Path

    from tron.bootstrap import state_store
    from tron.cli.errors import CommandError
    from tron.config.settings import load_settings

    settings = load_settings()
    path = Path(state) if state else None
    if settings.backend != "gcp" and must_exist:
        where = path or settings.data_dir / "state.sqlite"
        if not where.exists():
            raise CommandError(f"no state store at {where}")
    return state_store(settings, path)
