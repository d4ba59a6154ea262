"""F&O helper subcommands for the ``tron`` CLI: charges, expiries, greeks, iv.

The main CLI calls ``register(subparsers)``; each subcommand sets ``func`` (args → exit code). Bad input
prints a message naming the argument on stderr and exits with code 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from tron.adapters.calendar import nse_calendar
from tron.domain import charges as charges_mod
from tron.domain import expiries as expiries_mod
from tron.domain import options

UNDERLYINGS = ("NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY")


# ---- argument types (argparse turns ArgumentTypeError into "argument --x: ..." and exit 2) ----


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def _decimal_nonneg(text: str) -> Decimal:
    try:
        v = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v.is_finite() or v < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return v


def _float_check(check: Callable[[float], bool], what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if v != v or v in (float("inf"), float("-inf")) or not check(v):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return v

    return parse


_positive = _float_check(lambda v: v > 0, "positive")
_nonneg = _float_check(lambda v: v >= 0, "non-negative")
_any_float = _float_check(lambda v: True, "a number")


def _fail(command: str, argument: str, message: str) -> int:
    print(f"tron {command}: error: argument {argument}: {message}", file=sys.stderr)
    return 2


# ---- charges ----


def _cmd_charges(args: argparse.Namespace) -> int:
    segment = args.segment
    on = args.date
    defaulted = on is None
    if defaulted:
        on = charges_mod.TABLE[segment][-1][0]
    try:
        c = charges_mod.trade_charges(segment, args.buy, args.sell, args.qty, on)
    except ValueError as e:
        return _fail("charges", "--date", str(e))
    values = {k: float(round(Decimal(v), 2)) for k, v in c.as_dict().items()}
    if defaulted:
        print(f"note: --date not given; using {on.isoformat()} (latest {segment} rates)", file=sys.stderr)
    if args.json:
        print(json.dumps({"segment": segment, "date": on.isoformat(), **values}))
    else:
        print(f"{'segment':<12}{segment}")
        print(f"{'date':<12}{on.isoformat()}{' (latest rates)' if defaulted else ''}")
        for k, v in values.items():
            print(f"{k:<12}{v:>14,.2f}")
    return 0


# ---- expiries ----


def _cmd_expiries(args: argparse.Namespace) -> int:
    start, end = args.from_, args.to
    if start < expiries_mod.RULES_START:
        return _fail("expiries", "--from", f"no expiry rules before {expiries_mod.RULES_START.isoformat()}")
    if end < start:
        return _fail("expiries", "--to", f"{end.isoformat()} is before --from {start.isoformat()}")
    if args.kind == "weekly" and not expiries_mod.UNDERLYINGS[args.underlying][0]:
        return _fail("expiries", "--kind", f"{args.underlying} has no weekly options (monthly only)")
    cal = nse_calendar(min(start.year - 1, 2024), max(end.year + 1, 2027))
    try:
        result = expiries_mod.expiries(args.underlying, start, end, args.kind, cal)
    except ValueError as e:
        return _fail("expiries", "--underlying", str(e))
    if args.json:
        print(json.dumps([d.isoformat() for d in result]))
    else:
        for d in result:
            print(f"{d.isoformat()} {d.strftime('%a')}")
    return 0


# ---- greeks and iv ----


def _cmd_greeks(args: argparse.Namespace) -> int:
    try:
        g = options.greeks(args.type, args.spot, args.strike, args.days, args.rate, args.vol)
    except ValueError as e:
        return _fail("greeks", "--spot/--strike/--days/--vol", str(e))
    values = {
        "price": g.price,
        "delta": g.delta,
        "gamma": g.gamma,
        "vega": g.vega,
        "theta": g.theta,
        "rho": g.rho,
    }
    if args.json:
        print(json.dumps(values))
    else:
        for k, v in values.items():
            print(f"{k:<6}{v:>16.6f}")
    return 0


def _cmd_iv(args: argparse.Namespace) -> int:
    if args.days <= 0:
        return _fail("iv", "--days", "must be positive for implied volatility")
    try:
        iv = options.implied_volatility(args.type, args.spot, args.strike, args.days, args.rate, args.premium)
    except ValueError as e:
        return _fail("iv", "--premium", str(e))
    if args.json:
        print(json.dumps({"iv": iv}))
    else:
        print(f"iv {iv:.6f}")
    return 0


def _option_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--type", required=True, choices=options.OPTION_TYPES, help="CE (call) or PE (put)")
    p.add_argument("--spot", required=True, type=_positive, help="underlying price")
    p.add_argument("--strike", required=True, type=_positive, help="strike price")
    p.add_argument("--days", required=True, type=_nonneg, help="calendar days to expiry (T = days/365)")
    p.add_argument("--rate", required=True, type=_any_float, help="risk-free rate as a decimal, e.g. 0.065")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the charges, expiries, greeks and iv subcommands to the tron CLI."""
    p = subparsers.add_parser("charges", help="Zerodha charges of a round trip (buy and sell of qty)")
    p.add_argument("--segment", required=True, choices=charges_mod.SEGMENTS)
    p.add_argument("--buy", required=True, type=_decimal_nonneg, help="buy price")
    p.add_argument("--sell", required=True, type=_decimal_nonneg, help="sell price")
    p.add_argument("--qty", required=True, type=_positive_int, help="quantity (units, not lots)")
    p.add_argument(
        "--date", type=_iso_date, default=None, help="trade date (default: start of the latest rates row)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_charges)

    p = subparsers.add_parser("expiries", help="NSE index derivative expiry dates")
    p.add_argument("--underlying", required=True, choices=UNDERLYINGS)
    p.add_argument("--from", dest="from_", required=True, type=_iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--to", required=True, type=_iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--kind", choices=expiries_mod.KINDS, default="all")
    p.add_argument("--json", action="store_true", help="print a JSON list of ISO dates")
    p.set_defaults(func=_cmd_expiries)

    p = subparsers.add_parser("greeks", help="Black-Scholes price and greeks")
    _option_args(p)
    p.add_argument("--vol", required=True, type=_nonneg, help="volatility as a decimal, e.g. 0.15")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_greeks)

    p = subparsers.add_parser("iv", help="Black-Scholes implied volatility of a premium")
    _option_args(p)
    p.add_argument("--premium", required=True, type=_nonneg, help="option premium")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_iv)
