"""Argument types shared by the `tron` subcommands.

argparse turns an ArgumentTypeError into "argument --x: <message>" and exit code 2, so each type names
what it expected and what it got."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal, InvalidOperation

from tron.domain.timeutil import parse_hhmm


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


def integer(check: Callable[[int], bool], what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not check(v):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return v

    return parse


def number(check: Callable[[float], bool], what: str) -> Callable[[str], float]:
    """A finite float that passes `check`."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(v) or not check(v):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return v

    return parse


def decimal_nonneg(text: str) -> Decimal:
    try:
        v = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v.is_finite() or v < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return v


positive_int = integer(lambda v: v > 0, "a positive integer")
port = integer(lambda v: 0 <= v <= 65535, "0–65535")
positive = number(lambda v: v > 0, "a positive number")
nonneg = number(lambda v: v >= 0, "a non-negative number")
any_float = number(lambda v: True, "a number")
