"""The risk governor: limits on entries. Exits are never blocked (nothing here is asked about an exit).

:class:`RiskLimits` holds an asset's limits, :class:`Exposure` the day so far, and :func:`entry_refusal`
answers whether one more entry may be placed; :class:`KillSwitch` is the user's stop for every asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any

from tron.domain.money import dec, paise
from tron.domain.timeutil import parse_hhmm

# Beyond-the-stop slippage reserved per segment, in basis points of the stop price: over 60 generated days
# (20 seeds × 3 dates), the 99th percentile of a closed trade's loss beyond what was reserved at its entry
# (entry fill beyond the decided price plus exit fill beyond the stop): stocks 23 bps, futures 9, options 647
# (the options' premium moves most in a minute); rounded up (bench/bench_loss_limit.py prints it again).
STOP_SLIPPAGE_BPS: Mapping[str, Decimal] = MappingProxyType(
    {"equity_intraday": Decimal("25"), "futures": Decimal("12"), "options": Decimal("650")}
)


@dataclass(frozen=True)
class RiskLimits:
    """The limits of one asset's day; a plan carries them (:meth:`to_doc`, :meth:`from_doc`).

    Capital is measured per asset as *exposure* (:func:`exposure_value`): the traded value for equity (no
    leverage is counted on), the margin for futures, the premium paid for bought options. ``capital`` (the
    asset's allocation, already ``assets.*.capital_pct`` of the account) caps the sum of its open and
    pending exposure; a sector may hold at most ``max_sector_pct`` of it; a position is between
    ``min_position_pct`` and ``max_position_pct`` of it. ``account_capital`` is the whole account, for the
    margin check and the percentage loss limit (None: ``capital``). ``stop_slippage_bps`` is the band
    reserved beyond a stop, per segment (``STOP_SLIPPAGE_BPS`` by default).
    """

    capital: Decimal = Decimal("1000000")
    daily_loss_limit: Decimal = Decimal("5000")  # rupees
    daily_loss_limit_pct: Decimal = Decimal("1.0")  # of capital; the smaller of the two applies
    max_trades_per_day: int = 40
    max_trades_per_symbol: int = 2
    max_open_positions: int = 10
    risk_per_trade_pct: Decimal = Decimal("0.25")
    max_position_pct: Decimal = Decimal("15")
    min_confidence: float = 0.5
    entry_cutoff: time = time(15, 0)
    min_position_pct: Decimal = Decimal("1")  # smallest position worth its charges, % of capital
    max_sector_pct: Decimal = Decimal("30")  # exposure in one sector, % of capital
    account_capital: Decimal | None = None  # the whole account (margin check); None: this capital
    mis_leverage: Decimal = Decimal("5")
    futures_margin_pct: Decimal = Decimal("12")
    kelly: bool = False  # size by half-Kelly from realised statistics (capped by risk_per_trade_pct)
    kelly_min_trades: int = 20  # closed trades of a strategy before its statistics are trusted
    loss_budget_pct: Decimal = Decimal("100")  # share of the account's loss limit this asset may put at risk
    stop_slippage_bps: Mapping[str, Decimal] = field(
        default_factory=lambda: STOP_SLIPPAGE_BPS
    )  # segment → bps of the stop price reserved beyond the stop

    def slippage(self, segment: str, stop: float | Decimal) -> Decimal:
        """Rupees per unit reserved beyond a stop at this price (0 for a segment without a band)."""
        return dec(stop) * self.stop_slippage_bps.get(segment, Decimal(0)) / 10000

    @cached_property  # (frozen limits: worked out once, the governor asks every tick)
    def loss_limit(self) -> Decimal:
        """The account's daily loss limit: the smaller of the rupee limit and the % of the account."""
        return min(self.daily_loss_limit, self.account * self.daily_loss_limit_pct / 100)

    @cached_property
    def loss_budget(self) -> Decimal:
        """What this asset's realised losses and open worst case may use of the account's loss limit."""
        return self.loss_limit * self.loss_budget_pct / 100

    @property
    def account(self) -> Decimal:
        """The whole account: ``account_capital``, or ``capital`` when it is not set."""
        return self.account_capital if self.account_capital is not None else self.capital

    def to_doc(self) -> dict[str, object]:
        """Every limit as a JSON-ready value: decimals as strings, the cut-off as HH:MM."""
        return {
            "capital": str(self.capital),
            "daily_loss_limit": str(self.daily_loss_limit),
            "daily_loss_limit_pct": str(self.daily_loss_limit_pct),
            "max_trades_per_day": self.max_trades_per_day,
            "max_trades_per_symbol": self.max_trades_per_symbol,
            "max_open_positions": self.max_open_positions,
            "risk_per_trade_pct": str(self.risk_per_trade_pct),
            "max_position_pct": str(self.max_position_pct),
            "min_confidence": self.min_confidence,
            "entry_cutoff": self.entry_cutoff.strftime("%H:%M"),
            "min_position_pct": str(self.min_position_pct),
            "max_sector_pct": str(self.max_sector_pct),
            "account_capital": None if self.account_capital is None else str(self.account_capital),
            "mis_leverage": str(self.mis_leverage),
            "futures_margin_pct": str(self.futures_margin_pct),
            "kelly": self.kelly,
            "kelly_min_trades": self.kelly_min_trades,
            "loss_budget_pct": str(self.loss_budget_pct),
            "stop_slippage_bps": {k: str(v) for k, v in self.stop_slippage_bps.items()},
        }

    @staticmethod
    def from_doc(d: dict[str, Any]) -> RiskLimits:
        """The limits a :meth:`to_doc` stored. Fields added later take their defaults when an older document
        lacks them; a missing original field raises KeyError."""
        return RiskLimits(
            capital=dec(str(d["capital"])),
            daily_loss_limit=dec(str(d["daily_loss_limit"])),
            daily_loss_limit_pct=dec(str(d["daily_loss_limit_pct"])),
            max_trades_per_day=int(d["max_trades_per_day"]),
            max_trades_per_symbol=int(d["max_trades_per_symbol"]),
            max_open_positions=int(d["max_open_positions"]),
            risk_per_trade_pct=dec(str(d["risk_per_trade_pct"])),
            max_position_pct=dec(str(d["max_position_pct"])),
            min_confidence=float(d["min_confidence"]),
            entry_cutoff=parse_hhmm(str(d["entry_cutoff"])),
            # added later: older plan documents lack them and get the defaults
            min_position_pct=dec(str(d.get("min_position_pct", "1"))),
            max_sector_pct=dec(str(d.get("max_sector_pct", "30"))),
            account_capital=None if d.get("account_capital") is None else dec(str(d["account_capital"])),
            mis_leverage=dec(str(d.get("mis_leverage", "5"))),
            futures_margin_pct=dec(str(d.get("futures_margin_pct", "12"))),
            kelly=bool(d.get("kelly", False)),
            kelly_min_trades=int(d.get("kelly_min_trades", 20)),
            loss_budget_pct=dec(str(d.get("loss_budget_pct", "100"))),
            stop_slippage_bps=_bps(d.get("stop_slippage_bps")),
        )


def _bps(stored: object) -> Mapping[str, Decimal]:
    """A stored slippage table (older plan documents have none: the defaults)."""
    if not isinstance(stored, dict):
        return STOP_SLIPPAGE_BPS
    return MappingProxyType({str(k): dec(str(v)) for k, v in stored.items()})


def margin_required(limits: RiskLimits, segment: str, side: str, qty: int, price: float | Decimal) -> Decimal:
    """Margin the broker blocks for a position, in rupees (documented approximations of Zerodha's).

    Equity MIS = value / ``mis_leverage`` (5×); futures = ``futures_margin_pct`` (12 %) of the contract
    value (SPAN + exposure margin); a sold option is priced as a future (TRON does not write options);
    bought options = the premium; anything else (equity delivery) = the full value.
    """
    value = dec(price) * abs(qty)
    if segment == "equity_intraday":
        return paise(value / limits.mis_leverage)
    if segment == "futures" or (segment == "options" and side == "SELL"):
        return paise(value * limits.futures_margin_pct / 100)  # option writing is not done; priced as futures
    return paise(value)  # equity delivery, bought options: the full value / premium


def exposure_value(limits: RiskLimits, segment: str, qty: int, price: float | Decimal) -> Decimal:
    """What a position uses of its asset's capital: value for equity, margin for futures, premium for options."""
    if segment == "futures":
        return margin_required(limits, segment, "BUY", qty, price)
    return paise(dec(price) * abs(qty))


@dataclass
class Exposure:
    """What the governor needs to know about the day so far (from the book and pending intents)."""

    realized_net: Decimal = Decimal("0")  # the account's (every asset)
    open_worst_loss: Decimal = Decimal("0")  # Σ loss at stop over open positions and pending entries
    others_net: Decimal = Decimal("0")  # the parts of the two above from the other assets
    others_worst: Decimal = Decimal("0")
    open_positions: int = 0  # open positions plus pending entries
    entries_today: int = 0
    entries_by_symbol: dict[str, int] = field(default_factory=dict)
    symbols_busy: set[str] = field(default_factory=set)  # open or with an order in flight
    capital_used: Decimal = Decimal("0")  # Σ exposure of open positions and pending entries (this asset)
    by_sector: dict[str, Decimal] = field(default_factory=dict)  # the same, per sector
    margin_used: Decimal = Decimal("0")  # Σ margin of open positions and pending entries, every asset


@dataclass(frozen=True)
class KillSwitch:
    """The user's kill switch (the document ``control/kill_switch``): engaged → no entries in any asset;
    with ``flatten`` (the default) every open position is also closed at the next tick. Exits still pass.
    ``at`` and ``by`` record when and by whom it was last set."""

    engaged: bool = False
    reason: str = ""
    flatten: bool = True
    at: str = ""
    by: str = ""

    @property
    def why(self) -> str:
        """The halt reason the tick logs and returns: "kill switch engaged: <reason>"."""
        return f"kill switch engaged: {self.reason or 'no reason given'}"

    def to_doc(self) -> dict[str, object]:
        """The stored form (the control/kill_switch document)."""
        return {
            "engaged": self.engaged,
            "reason": self.reason,
            "flatten": self.flatten,
            "at": self.at,
            "by": self.by,
        }

    @staticmethod
    def from_doc(d: dict[str, object] | None) -> KillSwitch:
        """A missing document is a released switch; a malformed one is treated as ENGAGED (fail safe)."""
        if not d:
            return KillSwitch()
        engaged = d.get("engaged", False)
        if not isinstance(engaged, bool):
            return KillSwitch(True, f"malformed kill switch document (engaged={engaged!r})", False)
        return KillSwitch(
            engaged,
            str(d.get("reason", "")),
            bool(d.get("flatten", True)),
            str(d.get("at", "")),
            str(d.get("by", "")),
        )


@dataclass(frozen=True)
class Candidate:
    """What the sizing produced for an entry, as far as the capital, sector and margin rules care."""

    sector: str = ""
    exposure: Decimal = Decimal("0")
    margin: Decimal = Decimal("0")


def entry_refusal(
    limits: RiskLimits,
    exposure: Exposure,
    *,
    symbol: str,
    confidence: float,
    worst_loss: Decimal,
    at: time,
    halted: str | None,
    candidate: Candidate | None = None,
) -> str | None:
    """Why this entry may not be placed, or None if it may; the first rule that fails is named.

    In order: entries halted (``halted``), at or after the entry cut-off, confidence below the minimum, the
    symbol already open or with an order in flight, the day's and the symbol's trade counts, the open
    positions, then (with a ``candidate``) the capital rules (the position between the minimum and maximum
    share of ``capital``, the asset's capital, the sector cap, and the account-wide margin: the candidate's
    plus every open position's in every asset must fit in the account), then the loss limits.

    The daily loss check is worst-case: the account's realised net P&L, minus what every open position and
    pending entry loses if its stop is hit, minus ``worst_loss`` (the candidate's loss at its stop, charges
    included), must stay above ``-limits.loss_limit``; and ``worst_loss`` must fit in
    :func:`asset_headroom`. "At its stop" includes the slippage band beyond the stop
    (``stop_slippage_bps`` of the stop price, per segment): exits fill at the next snapshot, beyond the
    stop, and entries beyond the price they were decided on; the band is the measured worst of the two
    together (bench/bench_loss_limit.py), so the limit holds when stops fill through their price.
    """
    return rule_refusal(
        limits, exposure, symbol=symbol, confidence=confidence, at=at, halted=halted, candidate=candidate
    ) or loss_refusal(limits, exposure, worst_loss)


def rule_refusal(
    limits: RiskLimits,
    exposure: Exposure,
    *,
    symbol: str,
    confidence: float,
    at: time,
    halted: str | None,
    candidate: Candidate | None = None,
) -> str | None:
    """The rules of :func:`entry_refusal` before the loss limits (which need the entry's worst case): the
    first that fails, or None."""
    if halted:
        return f"entries halted: {halted}"
    if at >= limits.entry_cutoff:
        return f"after the entry cut-off {limits.entry_cutoff:%H:%M}"
    if confidence < limits.min_confidence:
        return f"confidence {confidence:.2f} below {limits.min_confidence:.2f}"
    if symbol in exposure.symbols_busy:
        return "symbol already has a position or an order in flight"
    if exposure.entries_today >= limits.max_trades_per_day:
        return f"trades per day at {limits.max_trades_per_day}"
    if exposure.entries_by_symbol.get(symbol, 0) >= limits.max_trades_per_symbol:
        return f"trades on {symbol} at {limits.max_trades_per_symbol}"
    if exposure.open_positions >= limits.max_open_positions:
        return f"open positions at {limits.max_open_positions}"
    if candidate is not None:
        why = _capital_refusal(limits, exposure, candidate)
        if why:
            return why
    return None


def loss_refusal(limits: RiskLimits, exposure: Exposure, worst_loss: Decimal) -> str | None:
    """The loss limits of :func:`entry_refusal`: the account's daily loss limit at the worst case, then the
    asset's share of it; the first that fails, or None."""
    if exposure.realized_net - exposure.open_worst_loss - worst_loss < -limits.loss_limit:
        return f"worst case would breach the daily loss limit ₹{limits.loss_limit}"
    if asset_headroom(limits, exposure) - worst_loss < 0:
        return (
            f"worst case would use more than this asset's {limits.loss_budget_pct}% of the daily loss limit "
            f"(₹{limits.loss_budget})"
        )
    return None


def _capital_refusal(limits: RiskLimits, exposure: Exposure, c: Candidate) -> str | None:
    cap = limits.capital
    if c.exposure < cap * limits.min_position_pct / 100:
        return f"position ₹{c.exposure} below the minimum {limits.min_position_pct}% of ₹{cap}"
    if c.exposure > cap * limits.max_position_pct / 100:
        return f"position ₹{c.exposure} above the maximum {limits.max_position_pct}% of ₹{cap}"
    if exposure.capital_used + c.exposure > cap:
        return f"asset capital ₹{cap} would be exceeded (₹{exposure.capital_used} in use, ₹{c.exposure} more)"
    if c.sector:
        in_sector = exposure.by_sector.get(c.sector, Decimal("0"))
        sector_cap = cap * limits.max_sector_pct / 100
        if in_sector + c.exposure > sector_cap:
            return (
                f"sector {c.sector} would hold ₹{in_sector + c.exposure}, above "
                f"{limits.max_sector_pct}% of capital (₹{sector_cap})"
            )
    if exposure.margin_used + c.margin > limits.account:
        return (
            f"margin ₹{c.margin} needed, ₹{limits.account - exposure.margin_used} available "
            f"(₹{exposure.margin_used} of ₹{limits.account} in use)"
        )
    return None


def asset_headroom(limits: RiskLimits, exposure: Exposure) -> Decimal:
    """What is left of the asset's loss budget: its budget plus its realised net minus its open worst case."""
    own_net = exposure.realized_net - exposure.others_net
    own_worst = exposure.open_worst_loss - exposure.others_worst
    return limits.loss_budget + own_net - own_worst


def loss_limit_breached(limits: RiskLimits, net_pnl: Decimal) -> bool:
    """True when the net P&L has reached the account's daily loss limit (a loss at or beyond it)."""
    return net_pnl <= -limits.loss_limit
