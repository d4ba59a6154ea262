"""Multi-leg option structures as traders write them (a short straddle at 09:20, an iron condor, a spread):
the spec (:class:`StructureSpec`, read from a plain mapping by :func:`parse_spec`), the strikes its legs
pick from a chain, the structure's greeks and its worst case for the governor.

A leg's stop and target are distances in premium, in points ("30") or percent of its entry ("25%"). The
strike is ``ATM``, ``OTMn`` / ``ITMn`` (n strikes away, per the option's type), or a mapping: ``{premium:
50}`` (the strike whose premium is nearest ₹50), ``{delta: 0.2}`` (nearest that |delta|), ``{spot_pct:
2}`` (nearest spot + 2 %, − for below). Pure: no I/O, no clock."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from tron.domain.charges import total_charges
from tron.domain.contracts import RATE, days_to_expiry, implied_vol, option_expiry
from tron.domain.models import Instrument, Side
from tron.domain.money import ZERO, dec, paise
from tron.domain.options import greeks

EXPIRIES = ("current", "next", "monthly")
_MOVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")
_STRIKE = re.compile(r"^(ATM)$|^(OTM|ITM)(\d{1,2})$")
MAX_LEGS = 6
MAX_LOTS = 100


@dataclass(frozen=True)
class Move:
    """A distance in premium: points, or percent of the leg's entry premium."""

    value: float
    pct: bool = False

    def of(self, entry: float) -> float:
        """The distance in rupees for a leg that entered at ``entry``."""
        return entry * self.value / 100 if self.pct else self.value


@dataclass(frozen=True)
class Amount:
    """An MTM amount over all legs: rupees, or percent of the structure's margin."""

    value: Decimal
    pct: bool = False

    def of(self, margin: Decimal) -> Decimal:
        return paise(margin * self.value / 100) if self.pct else self.value


@dataclass(frozen=True)
class StrikeRule:
    """How a leg picks its strike: ``atm`` (offset in strikes, + out of the money), ``premium`` (₹),
    ``delta`` (|delta|) or ``spot_pct`` (% from spot, + above)."""

    mode: str
    value: float = 0.0

    def to_doc(self) -> str | dict[str, float]:
        if self.mode == "atm":
            n = int(self.value)
            return "ATM" if n == 0 else f"{'OTM' if n > 0 else 'ITM'}{abs(n)}"
        return {self.mode: self.value}


@dataclass(frozen=True)
class Trail:
    """A leg's trailing stop: for every ``every`` its premium moves in the leg's favour, the stop moves
    ``by`` (both from the entry premium)."""

    every: Move
    by: Move


@dataclass(frozen=True)
class Wait:
    """Wait and trade: the leg enters once its premium has moved ``move`` up (or down) from where it was at
    the structure's entry time."""

    move: Move
    up: bool


@dataclass(frozen=True)
class LegSpec:
    side: Side
    option_type: str  # CE | PE
    strike: StrikeRule
    lots: int = 1
    expiry: str = "current"  # current | next | monthly
    sl: Move | None = None
    target: Move | None = None
    trail: Trail | None = None
    wait: Wait | None = None


@dataclass(frozen=True)
class Lock:
    """Profit lock: once the MTM reaches ``at``, the structure exits if it falls back to ``keep``; with
    ``every`` and ``by`` (lock and trail), each further ``every`` of MTM raises that floor by ``by``."""

    at: Amount
    keep: Amount
    every: Amount | None = None
    by: Amount | None = None


@dataclass(frozen=True)
class Reentry:
    """After a leg's stop (``on: sl``), target (``target``) or either (``any``): the leg enters again at
    once (``immediate``), when its premium is back at its last entry (``at_cost``), or the other way round
    (``reverse``: a sold leg bought back as a bought one), at most ``max`` times a leg, never after
    ``until``."""

    on: str
    mode: str
    max: int = 1
    until: time = time(14, 30)


@dataclass(frozen=True)
class StructureSpec:
    """A structure: its legs, the entry window and exit time, the combined MTM stop and target (gross, ₹ or
    % of margin), the profit lock, moving the other legs' stops to cost after a leg's stop, re-entry, and
    whether it trades on an expiry day (an option expiring today). ``source`` is the mapping it was read
    from (what :meth:`to_doc` gives back)."""

    name: str
    legs: tuple[LegSpec, ...]
    entry: time = time(9, 20)
    entry_until: time | None = None  # the entry window's end (default: five minutes after entry)
    exit: time = time(15, 15)
    mtm_sl: Amount | None = None
    mtm_target: Amount | None = None
    lock: Lock | None = None
    move_sl_to_cost: bool = False
    reentry: Reentry | None = None
    expiry_day: bool = False
    source: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def window_end(self) -> time:
        if self.entry_until is not None:
            return self.entry_until
        m = self.entry.hour * 60 + self.entry.minute + 5
        return time(m // 60, m % 60)

    def hedges(self) -> list[int]:
        """The bought legs, entered first and exited last."""
        return [i for i, leg in enumerate(self.legs) if leg.side is Side.BUY]

    def shorts(self) -> list[int]:
        """The sold legs, entered once the hedges filled and exited first."""
        return [i for i, leg in enumerate(self.legs) if leg.side is Side.SELL]

    def to_doc(self) -> dict[str, Any]:
        """The mapping it was read from, with its name (:func:`parse_spec` reads it back)."""
        return {**self.source, "name": self.name}


# ---------------------------------------------------------------------------------------------- parsing
KEYS = {
    "name", "legs", "entry", "entry_until", "exit", "mtm_sl", "mtm_target", "lock", "move_sl_to_cost",
    "reentry", "expiry_day",
}  # fmt: skip
LEG_KEYS = {"side", "type", "strike", "lots", "expiry", "sl", "target", "trail", "wait"}


def parse_spec(name: str, d: Mapping[str, Any]) -> StructureSpec:
    """A structure spec from a plain mapping (YAML, a plan document); ValueError naming the key."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{name}: a structure is a mapping with legs, got {type(d).__name__}")
    _known(name, d, KEYS)
    legs = d.get("legs")
    if not isinstance(legs, Sequence) or isinstance(legs, str) or not 1 <= len(legs) <= MAX_LEGS:
        raise ValueError(f"{name}.legs: 1 to {MAX_LEGS} legs, got {legs!r}")
    spec = StructureSpec(
        name=name,
        legs=tuple(_leg(f"{name}.legs.{i}", leg) for i, leg in enumerate(legs)),
        entry=_time(f"{name}.entry", d.get("entry", "09:20")),
        entry_until=None if d.get("entry_until") is None else _time(f"{name}.entry_until", d["entry_until"]),
        exit=_time(f"{name}.exit", d.get("exit", "15:15")),
        mtm_sl=_amount(f"{name}.mtm_sl", d.get("mtm_sl")),
        mtm_target=_amount(f"{name}.mtm_target", d.get("mtm_target")),
        lock=_lock(f"{name}.lock", d.get("lock")),
        move_sl_to_cost=_bool(f"{name}.move_sl_to_cost", d.get("move_sl_to_cost", False)),
        reentry=_reentry(f"{name}.reentry", d.get("reentry")),
        expiry_day=_bool(f"{name}.expiry_day", d.get("expiry_day", False)),
        source={k: v for k, v in d.items() if k != "name"},
    )
    if not time(9, 15) <= spec.entry < spec.window_end <= spec.exit <= time(15, 15):
        raise ValueError(
            f"{name}: needs 09:15 <= entry < entry_until <= exit <= 15:15 (TRON's F&O square-off starts then), got "
            f"entry {spec.entry:%H:%M}, until {spec.window_end:%H:%M}, exit {spec.exit:%H:%M}"
        )
    for n, leg in enumerate(spec.legs):
        sold = any(o.side is Side.SELL and o.option_type == leg.option_type for o in spec.legs)
        if leg.side is Side.BUY and sold and (leg.sl or leg.target or leg.trail):
            raise ValueError(
                f"{name}.legs.{n}: a bought {leg.option_type} covering a sold one has no stop or target of its "
                "own (it would leave the sold one naked): use the structure's mtm_sl / mtm_target"
            )
        if leg.trail is not None and leg.sl is None:
            raise ValueError(f"{name}.legs.{n}.trail: a trailing stop needs the leg's sl to start from")
    keys = [(leg.option_type, leg.expiry, leg.strike) for leg in spec.legs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name}.legs: two legs pick the same contract")
    return spec


def _known(key: str, d: Mapping[str, Any], known: set[str]) -> None:
    if unknown := sorted(str(k) for k in set(d) - known):
        raise ValueError(f"{key}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def _leg(key: str, d: Any) -> LegSpec:
    if not isinstance(d, Mapping):
        raise ValueError(f"{key}: a leg is a mapping (side, type, strike, lots, sl, target)")
    _known(key, d, LEG_KEYS)
    side = str(d.get("side", "")).upper()
    if side not in ("BUY", "SELL"):
        raise ValueError(f"{key}.side: BUY or SELL, got {d.get('side')!r}")
    kind = str(d.get("type", "")).upper()
    if kind not in ("CE", "PE"):
        raise ValueError(f"{key}.type: CE or PE, got {d.get('type')!r}")
    lots = d.get("lots", 1)
    if isinstance(lots, bool) or not isinstance(lots, int) or not 1 <= lots <= MAX_LOTS:
        raise ValueError(f"{key}.lots: a whole number 1–{MAX_LOTS}, got {lots!r}")
    expiry = str(d.get("expiry", "current"))
    if expiry not in EXPIRIES:
        raise ValueError(f"{key}.expiry: one of {', '.join(EXPIRIES)}, got {expiry!r}")
    return LegSpec(
        Side(side),
        kind,
        _strike(f"{key}.strike", d.get("strike", "ATM")),
        lots,
        expiry,
        _move(f"{key}.sl", d.get("sl")),
        _move(f"{key}.target", d.get("target")),
        _trail(f"{key}.trail", d.get("trail")),
        _wait(f"{key}.wait", d.get("wait")),
    )


def _trail(key: str, v: Any) -> Trail | None:
    if v is None:
        return None
    if not isinstance(v, Mapping) or set(v) != {"every", "by"}:
        raise ValueError(f'{key}: {{every: premium move, by: stop move}} ("10%" or points), got {v!r}')
    every, by = _move(f"{key}.every", v["every"]), _move(f"{key}.by", v["by"])
    assert every is not None and by is not None
    return Trail(every, by)


def _wait(key: str, v: Any) -> Wait | None:
    if v is None:
        return None
    text = str(v).strip() if isinstance(v, str | int | float) and not isinstance(v, bool) else ""
    if text[:1] not in ("+", "-"):
        raise ValueError(
            f'{key}: the premium\'s move up or down before the leg enters, "+10%" or "-20", got {v!r}'
        )
    move = _move(key, text[1:])
    assert move is not None
    return Wait(move, text[0] == "+")


def _amount(key: str, v: Any) -> Amount | None:
    if v is None:
        return None
    if isinstance(v, str) and v.strip().endswith("%"):
        m = _MOVE.match(v)
        if m is None or not 0 < float(m.group(1)) <= 100:
            raise ValueError(f'{key}: rupees, or percent of the structure\'s margin ("2%"), got {v!r}')
        return Amount(dec(m.group(1)), True)
    r = _rupees(key, v)
    assert r is not None
    return Amount(r)


def _lock(key: str, v: Any) -> Lock | None:
    if v is None:
        return None
    if not isinstance(v, Mapping) or not {"at", "keep"} <= set(v):
        raise ValueError(f"{key}: {{at: MTM, keep: MTM[, every: MTM, by: MTM]}}, got {v!r}")
    _known(key, v, {"at", "keep", "every", "by"})
    if ("every" in v) != ("by" in v):
        raise ValueError(f"{key}: every and by go together (lock and trail)")
    lock = Lock(*(_amount(f"{key}.{k}", v.get(k)) for k in ("at", "keep", "every", "by")))  # type: ignore[arg-type]
    if lock.at.pct != lock.keep.pct or lock.keep.value >= lock.at.value:
        raise ValueError(f"{key}.keep: below at, in the same unit, got at {v['at']!r}, keep {v['keep']!r}")
    return lock


def _reentry(key: str, v: Any) -> Reentry | None:
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise ValueError(
            f"{key}: {{on: sl|target|any, mode: immediate|at_cost|reverse, max: n, until: HH:MM}}"
        )
    v = {("on" if k is True else k): x for k, x in v.items()}  # YAML 1.1 reads a bare `on:` key as true
    _known(key, v, {"on", "mode", "max", "until"})
    on, mode, most = v.get("on", "sl"), v.get("mode", "immediate"), v.get("max", 1)
    if on not in ("sl", "target", "any"):
        raise ValueError(f"{key}.on: sl, target or any, got {on!r}")
    if mode not in ("immediate", "at_cost", "reverse"):
        raise ValueError(f"{key}.mode: immediate, at_cost or reverse, got {mode!r}")
    if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= 10:
        raise ValueError(f"{key}.max: 1–10 re-entries a leg, got {most!r}")
    return Reentry(on, mode, most, _time(f"{key}.until", v.get("until", "14:30")))


def _strike(key: str, v: Any) -> StrikeRule:
    if isinstance(v, str) and (m := _STRIKE.match(v.strip().upper())):
        if m.group(1):
            return StrikeRule("atm", 0)
        n = int(m.group(3))
        return StrikeRule("atm", n if m.group(2) == "OTM" else -n)
    if isinstance(v, Mapping) and len(v) == 1:
        ((mode, value),) = v.items()
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if mode == "premium" and ok and 0 < value <= 100_000:
            return StrikeRule("premium", float(value))
        if mode == "delta" and ok and 0 < value < 1:
            return StrikeRule("delta", float(value))
        if mode == "spot_pct" and ok and -30 <= value <= 30:
            return StrikeRule("spot_pct", float(value))
    raise ValueError(
        f"{key}: ATM, OTMn or ITMn (n up to 99), or one of {{premium: ₹}}, {{delta: 0–1}}, "
        f"{{spot_pct: −30…30}}, got {v!r}"
    )


def _move(key: str, v: Any) -> Move | None:
    if v is None:
        return None
    m = _MOVE.match(str(v)) if isinstance(v, str | int | float) and not isinstance(v, bool) else None
    if m is None or float(m.group(1)) <= 0 or (m.group(2) and float(m.group(1)) > 1000):
        raise ValueError(f'{key}: premium points (30) or percent of the entry ("25%"), positive, got {v!r}')
    return Move(float(m.group(1)), bool(m.group(2)))


def _time(key: str, v: Any) -> time:
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 24 * 60:  # YAML reads 09:20 as minutes
        return time(v // 60, v % 60)
    try:
        return time.fromisoformat(str(v))
    except ValueError:
        raise ValueError(f"{key}: a time HH:MM, got {v!r}") from None


def _rupees(key: str, v: Any) -> Decimal | None:
    if v is None:
        return None
    try:
        r = dec(v)
    except (ArithmeticError, TypeError, ValueError):
        raise ValueError(f"{key}: rupees, got {v!r}") from None
    if not r.is_finite() or r <= 0 or isinstance(v, bool):
        raise ValueError(f"{key}: positive rupees, got {v!r}")
    return paise(r)


def _bool(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{key}: true or false, got {v!r}")
    return v


# ---------------------------------------------------------------------------------------------- the chain
def expiry_for(
    choice: str, listed: Sequence[date], monthly: date | None, today: date, expiry_day: bool
) -> date:
    """The expiry a leg trades: the nearest listed (``current``), the one after (``next``), or the month's
    (``monthly``); an expiry of today only if the structure trades on expiry days (else the next one)."""
    usable = sorted(e for e in set(listed) if e > today or (e == today and expiry_day))
    if choice == "monthly":
        if monthly is None or monthly not in usable:
            raise ValueError(f"the monthly expiry {monthly} is not listed or not usable on {today}")
        return monthly
    n = 0 if choice == "current" else 1
    if len(usable) <= n:
        raise ValueError(f"no {choice} expiry listed on {today} (usable: {[str(e) for e in usable]})")
    return usable[n]


def options_chain(
    listed: Sequence[Instrument], day: date, skip_expiry_day: bool, spec: StructureSpec | None
) -> list[Instrument]:
    """The options the options tick follows on ``day``: for a structure, the chains of the two nearest
    usable expiries (and the monthly one when a leg asks for it); else the chain of the one expiry the
    contract rules pick (ValueError when none is usable)."""
    if spec is None:
        expiry = option_expiry(list(listed), day, skip_expiry_day)
        return [i for i in listed if i.expiry == expiry]
    expiries = sorted({i.expiry for i in listed if i.expiry and i.option_type in ("CE", "PE")})
    usable = [e for e in expiries if e > day or (e == day and spec.expiry_day)]
    wanted = set(usable[:2]) | {e for e in usable if any(leg.expiry == "monthly" for leg in spec.legs)}
    return [i for i in listed if i.expiry in wanted]


def pick_strike(
    leg: LegSpec,
    chain: Sequence[Instrument],
    premiums: Mapping[str, float],
    spot: float,
    now: datetime,
) -> Instrument | None:
    """The listed option of the leg's type (chain: one expiry) its strike rule picks (None: none listed, or
    no premium to read for a premium or delta rule). Ties go to the strike nearer the money."""
    options = sorted((i for i in chain if i.option_type == leg.option_type and i.strike), key=_strike_of)
    if not options:
        return None
    atm = min(options, key=lambda i: (abs(_strike_of(i) - spot), _strike_of(i)))
    rule = leg.strike
    if rule.mode == "atm":
        at = options.index(atm) + int(rule.value) * (1 if leg.option_type == "CE" else -1)
        return options[at] if 0 <= at < len(options) else None
    if rule.mode == "spot_pct":
        want = spot * (1 + rule.value / 100)
        return min(options, key=lambda i: (abs(_strike_of(i) - want), abs(_strike_of(i) - spot)))
    priced = [i for i in options if premiums.get(i.symbol, 0) > 0]
    if not priced:
        return None
    if rule.mode == "premium":
        return min(priced, key=lambda i: (abs(premiums[i.symbol] - rule.value), abs(_strike_of(i) - spot)))
    assert priced[0].expiry is not None
    days = days_to_expiry(now, priced[0].expiry)

    def delta_of(i: Instrument) -> float:
        k, p = _strike_of(i), premiums[i.symbol]
        return abs(
            greeks(leg.option_type, spot, k, days, RATE, implied_vol(leg.option_type, spot, k, days, p)).delta
        )

    return min(priced, key=lambda i: (abs(delta_of(i) - rule.value), abs(_strike_of(i) - spot)))


def _strike_of(i: Instrument) -> float:
    return float(i.strike or 0.0)


# ---------------------------------------------------------------------------------------------- greeks, risk
@dataclass(frozen=True)
class HeldLeg:
    """A leg as held: the instrument, signed quantity (short < 0), its premium now."""

    inst: Instrument
    qty: int
    premium: float


@dataclass(frozen=True)
class StructureGreeks:
    """The structure's greeks in rupees per unit of the move (delta per point of spot, gamma per point²,
    theta per calendar day, vega per volatility point): Σ signed quantity × the leg's Black–Scholes greek."""

    delta: float
    gamma: float
    theta: float
    vega: float

    def to_doc(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 4) for k in ("delta", "gamma", "theta", "vega")}


def structure_greeks(legs: Sequence[HeldLeg], spot: float, now: datetime) -> StructureGreeks:
    """Σ over the legs of qty × the Black–Scholes greek at the leg's implied volatility (read off its
    premium)."""
    total = {"delta": 0.0, "gamma": 0.0, "theta": 0.0, "vega": 0.0}
    for leg in legs:
        i = leg.inst
        if i.expiry is None or i.strike is None:
            continue
        days = days_to_expiry(now, i.expiry)
        g = greeks(
            i.option_type,
            spot,
            i.strike,
            days,
            RATE,
            implied_vol(i.option_type, spot, i.strike, days, leg.premium),
        )
        for k in total:
            total[k] += leg.qty * getattr(g, k)
    return StructureGreeks(**total)


@dataclass(frozen=True)
class PlannedLeg:
    """A leg about to enter: instrument, side, quantity, premium, and its stop price (None: no stop)."""

    inst: Instrument
    side: Side
    qty: int
    premium: float
    stop: float | None


def naked_short(legs: Sequence[PlannedLeg]) -> str | None:
    """Why the structure holds a short that loses without a bound: per option type and expiry, more sold
    without a stop than bought (None: every short is stopped or covered by a bought option of its type)."""
    for kind in ("CE", "PE"):
        for expiry in sorted({leg.inst.expiry for leg in legs if leg.inst.expiry}):
            mine = [leg for leg in legs if leg.inst.option_type == kind and leg.inst.expiry == expiry]
            bare = sum(leg.qty for leg in mine if leg.side is Side.SELL and leg.stop is None)
            bought = sum(leg.qty for leg in mine if leg.side is Side.BUY)
            if bare > bought:
                return f"{bare - bought} {kind} of {expiry} sold without a stop and without a bought {kind} covering them"
    return None


def structure_worst_loss(
    legs: Sequence[PlannedLeg], day: date, slip: Mapping[str, Decimal], charged: bool = True
) -> Decimal:
    """What the structure loses at worst, for the governor: the smaller of (a) each leg's loss at its stop
    plus the slippage band (``slip``: rupees per unit, by symbol) and both orders' charges, a bought leg
    without a stop losing its premium, and (b) for a structure of defined risk, its maximum loss at expiry
    (:func:`defined_risk`). ValueError for a naked short (:func:`naked_short`): the governor refuses it."""
    if why := naked_short(legs):
        raise ValueError(why)
    at_stops, bounded = ZERO, True
    for leg in legs:
        price = dec(leg.premium)
        charges = total_charges(leg.inst.segment, leg.side, price, leg.qty, day, charged)
        if leg.stop is None:
            bounded = bounded and leg.side is Side.BUY
            at_stops += price * leg.qty + charges  # a bought option loses at most its premium
            continue
        stop = dec(leg.stop)
        exit_charges = total_charges(leg.inst.segment, leg.side.opposite, stop, leg.qty, day, charged)
        at_stops += (abs(price - stop) + slip.get(leg.inst.symbol, ZERO)) * leg.qty + charges + exit_charges
    wings = defined_risk(legs, day, charged)
    if wings is None:
        if not bounded:
            raise ValueError("a short leg without a stop in a structure that is not of defined risk")
        return paise(at_stops)
    return paise(min(at_stops, wings) if bounded else wings)


def defined_risk(legs: Sequence[PlannedLeg], day: date, charged: bool = True) -> Decimal | None:
    """The maximum loss at expiry, with the charges of entering, of a one-expiry structure where, per
    option type, as much is bought as sold (spreads, condors, flies); None otherwise. The payoff is
    piecewise linear in the expiry price: its minimum is at zero, at a strike, or beyond the last strike."""
    expiries = {leg.inst.expiry for leg in legs}
    if len(expiries) != 1:
        return None
    for kind in ("CE", "PE"):
        sold = sum(leg.qty for leg in legs if leg.inst.option_type == kind and leg.side is Side.SELL)
        if sold > sum(leg.qty for leg in legs if leg.inst.option_type == kind and leg.side is Side.BUY):
            return None
    strikes = sorted({leg.inst.strike or 0.0 for leg in legs})
    points = [0.0, *strikes, 2 * strikes[-1] + 1]

    def value(s: float) -> Decimal:  # the structure's payoff at expiry price s, with the premiums
        total = ZERO
        for leg in legs:
            k = leg.inst.strike or 0.0
            intrinsic = max(s - k, 0.0) if leg.inst.option_type == "CE" else max(k - s, 0.0)
            total += (dec(intrinsic) - dec(leg.premium)) * leg.qty * leg.side.sign
        return total

    worst = -min(value(s) for s in points)
    charges = sum(
        (total_charges(leg.inst.segment, leg.side, dec(leg.premium), leg.qty, day, charged) for leg in legs),
        ZERO,
    )
    return paise(max(worst, ZERO) + charges)
