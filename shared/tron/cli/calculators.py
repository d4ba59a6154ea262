"""F&O helper subcommands for the ``tron`` CLI: charges, expiries, greeks, iv.

Bad input is a CommandError naming the argument (exit code 2)."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from typing import Any

from tron.cli.args import any_float, decimal_nonneg, iso_date, json_option, nonneg, positive, positive_int
from tron.cli.errors import CommandError
from tron.domain import charges as charges_mod
from tron.domain import expiries as expiries_mod
from tron.domain import options

UNDERLYINGS = ("NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY")


def _bad(argument: str, message: str) -> CommandError:
    return CommandError(f"error: argument {argument}: {message}")


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
        raise _bad("--date", str(e)) from None
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
    from tron.adapters.calendar import nse_calendar

    start, end = args.from_, args.to
    if start < expiries_mod.RULES_START:
        raise _bad("--from", f"no expiry rules before {expiries_mod.RULES_START.isoformat()}")
    if end < start:
        raise _bad("--to", f"{end.isoformat()} is before --from {start.isoformat()}")
    if args.kind == "weekly" and not expiries_mod.UNDERLYINGS[args.underlying][0]:
        raise _bad("--kind", f"{args.underlying} has no weekly options (monthly only)")
    cal = nse_calendar(min(start.year - 1, 2024), max(end.year + 1, 2027))
    try:
        result = expiries_mod.expiries(args.underlying, start, end, args.kind, cal)
    except ValueError as e:
        raise _bad("--underlying", str(e)) from None
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
        raise _bad("--spot/--strike/--days/--vol", str(e)) from None
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
        raise _bad("--days", "must be positive for implied volatility")
    try:
        iv = options.implied_volatility(args.type, args.spot, args.strike, args.days, args.rate, args.premium)
    except ValueError as e:
        raise _bad("--premium", str(e)) from None
    if args.json:
        print(json.dumps({"iv": iv}))
    else:
        print(f"iv {iv:.6f}")
    return 0


def _option_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--type", required=True, choices=options.OPTION_TYPES, help="CE (call) or PE (put)")
    p.add_argument("--spot", required=True, type=positive, help="underlying price")
    p.add_argument("--strike", required=True, type=positive, help="strike price")
    p.add_argument("--days", required=True, type=nonneg, help="calendar days to expiry (T = days/365)")
    p.add_argument("--rate", required=True, type=any_float, help="risk-free rate as a decimal, e.g. 0.065")


def register(subparsers: Any) -> None:
    """Add the charges, expiries, greeks and iv subcommands to the tron CLI."""
    p = subparsers.add_parser(
        "charges", parents=[json_option()], help="Zerodha charges of a round trip (buy and sell of qty)"
    )
    p.add_argument("--segment", required=True, choices=charges_mod.SEGMENTS)
    p.add_argument("--buy", required=True, type=decimal_nonneg, help="buy price")
    p.add_argument("--sell", required=True, type=decimal_nonneg, help="sell price")
    p.add_argument("--qty", required=True, type=positive_int, help="quantity (units, not lots)")
    p.add_argument(
        "--date", type=iso_date, default=None, help="trade date (default: start of the latest rates row)"
    )
    p.set_defaults(func=_cmd_charges)

    p = subparsers.add_parser(
        "expiries",
        parents=[json_option("print a JSON list of ISO dates")],
        help="NSE index derivative expiry dates",
    )
    p.add_argument("--underlying", required=True, choices=UNDERLYINGS)
    p.add_argument("--from", dest="from_", required=True, type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--to", required=True, type=iso_date, metavar="YYYY-MM-DD")
    p.add_argument("--kind", choices=expiries_mod.KINDS, default="all")
    p.set_defaults(func=_cmd_expiries)

    p = subparsers.add_parser("greeks", parents=[json_option()], help="Black-Scholes price and greeks")
    _option_args(p)
    p.add_argument("--vol", required=True, type=nonneg, help="volatility as a decimal, e.g. 0.15")
    p.set_defaults(func=_cmd_greeks)

    p = subparsers.add_parser(
        "iv", parents=[json_option()], help="Black-Scholes implied volatility of a premium"
    )
    _option_args(p)
    p.add_argument("--premium", required=True, type=nonneg, help="option premium")
    p.set_defaults(func=_cmd_iv)
