"""Which F&O contract to trade: the futures month (with a roll N trading days before expiry), the options
expiry, and the option strike (ATM, n strikes out of the money, or the strike nearest a target delta).

Pure functions over the instruments list (lot sizes, expiries and strikes come from the instruments data,
never from constants here) and the trading calendar."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date, datetime, time

from tron.domain import options
from tron.domain.calendar import TradingCalendar
from tron.domain.expiries import futures_contract
from tron.domain.models import Instrument
from tron.domain.timeutil import ist

RATE = 0.065  # the rate used to read implied volatility and delta off option premiums
EXPIRY_TIME = time(15, 30)
STRIKE_MODES = ("atm", "otm", "delta")


@dataclass(frozen=True)
class ContractRules:
    """How the F&O ticks pick their contracts (from the plan's ``contract`` section; defaults otherwise)."""

    roll_days: int = 2  # roll the future when its expiry is within this many trading days (counting today)
    strike: str = "otm"  # atm | otm | delta
    otm_steps: int = 1
    target_delta: float = 0.4
    skip_expiry_day: bool = True  # on an expiry day, buy the next expiry's options

    @staticmethod
    def from_doc(d: dict[str, object] | None) -> ContractRules:
        """The rules a plan's ``contract`` section gives (defaults for what it leaves out); ValueError for
        an unknown key or a value out of range (roll_days and otm_steps 0–10, target_delta 0.05–0.95, strike
        one of ``STRIKE_MODES``)."""
        d = dict(d or {})
        unknown = set(d) - {"roll_days", "strike", "otm_steps", "target_delta", "skip_expiry_day"}
        if unknown:
            raise ValueError(f"unknown contract rule(s): {', '.join(sorted(unknown))}")
        r = ContractRules(
            roll_days=int(d.get("roll_days", 2)),  # type: ignore[call-overload]
            strike=str(d.get("strike", "otm")),
            otm_steps=int(d.get("otm_steps", 1)),  # type: ignore[call-overload]
            target_delta=float(d.get("target_delta", 0.4)),  # type: ignore[arg-type]
            skip_expiry_day=bool(d.get("skip_expiry_day", True)),
        )
        if r.strike not in STRIKE_MODES:
            raise ValueError(f"strike must be one of {', '.join(STRIKE_MODES)}, got {r.strike!r}")
        if not 0 <= r.roll_days <= 10:
            raise ValueError(f"roll_days must be in [0, 10], got {r.roll_days}")
        if not 0 <= r.otm_steps <= 10:
            raise ValueError(f"otm_steps must be in [0, 10], got {r.otm_steps}")
        if not 0.05 <= r.target_delta <= 0.95:
            raise ValueError(f"target_delta must be in [0.05, 0.95], got {r.target_delta}")
        return r

    def to_doc(self) -> dict[str, object]:
        """Every rule by name, as :meth:`from_doc` reads it."""
        return {
            "roll_days": self.roll_days,
            "strike": self.strike,
            "otm_steps": self.otm_steps,
            "target_delta": self.target_delta,
            "skip_expiry_day": self.skip_expiry_day,
        }


def select_future(
    instruments: list[Instrument],
    on: date,
    roll_days: int,
    calendar: TradingCalendar,
    underlying: str = "NIFTY",
) -> Instrument:
    """The listed future to trade on a date: the current month, or the next once the current one is within
    ``roll_days`` trading days of expiry (see ``expiries.futures_contract``)."""
    want = futures_contract(underlying, on, roll_days, calendar)
    for i in instruments:
        if i.option_type == "FUT" and i.expiry == want:
            return i
    listed = ", ".join(sorted(f"{i.symbol} ({i.expiry})" for i in instruments if i.option_type == "FUT"))
    raise ValueError(f"no listed {underlying} future expires on {want} (listed: {listed or 'none'})")


def option_expiry(instruments: list[Instrument], on: date, skip_expiry_day: bool) -> date:
    """The nearest listed options expiry on or after a date (after it, on an expiry day, if asked)."""
    found = sorted({i.expiry for i in instruments if i.option_type in ("CE", "PE") and i.expiry})
    usable = [e for e in found if e > on or (e == on and not skip_expiry_day)]
    if not usable:
        raise ValueError(f"no listed options expiry usable on {on} (listed: {[str(e) for e in found]})")
    return usable[0]


def days_to_expiry(now: datetime, expiry: date) -> float:
    """Calendar days (fractional) to the 15:30 IST expiry, at least one minute."""
    return max((ist(expiry, EXPIRY_TIME) - now).total_seconds() / 86400.0, 1.0 / 1440)


def implied_vol(option_type: str, spot: float, strike: float, days: float, premium: float) -> float:
    """The option's implied volatility, or 15 % when the premium says nothing (at its bounds)."""
    try:
        v = options.implied_volatility(option_type, spot, strike, days, RATE, premium)
    except ValueError:
        return 0.15
    return v if 0.01 < v < 3 and math.isfinite(v) else 0.15


def pick_option(
    chain: list[Instrument],
    option_type: str,
    spot: float,
    rules: ContractRules,
    days: float,
    vol: float,
) -> Instrument | None:
    """The option of one type and expiry to buy, by the rules' strike mode; None if it is not listed."""
    listed = {i.strike: i for i in chain if i.option_type == option_type and i.strike}
    if not listed:
        return None
    strikes = sorted(listed)
    step = min((b - a for a, b in itertools.pairwise(strikes)), default=50.0)
    if rules.strike == "atm":
        k = options.atm_strike(spot, step)
    elif rules.strike == "otm":
        k = options.otm_strike(spot, step, rules.otm_steps, option_type)
    else:
        k = options.strike_by_delta(spot, strikes, rules.target_delta, option_type, days, RATE, vol)
    return listed.get(k)


def option_delta(option_type: str, spot: float, strike: float, days: float, vol: float) -> float:
    """Black–Scholes delta of a CE or PE at ``RATE`` (tron.domain.options.delta)."""
    return options.delta(option_type, spot, strike, days, RATE, vol)
