"""What the tick's decision is given and what it answers: the context (plan, state, book, intents in
flight, snapshot, time) and the decision (intents, events, a halt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tron.domain.book import Book
from tron.domain.contracts import ContractRules
from tron.domain.live import Guardrails
from tron.domain.models import Asset, Instrument, OrderIntent, Snapshot
from tron.domain.money import ZERO
from tron.domain.plan import AssetPlan
from tron.domain.risk import KillSwitch
from tron.domain.session import SessionState
from tron.domain.sizing import StrategyStats
from tron.domain.structures import StructureSpec


@dataclass
class Pending:
    """An intent the tick claimed whose outcome is not yet in the book."""

    intent_id: str
    symbol: str
    purpose: str
    worst_loss: str = "0"
    exposure: str = "0"  # what the entry uses of the asset's capital
    margin: str = "0"
    sector: str = ""
    direction: int = 0  # options: +1 a call, −1 a put (a view on the underlying)

    def to_doc(self) -> dict[str, Any]:
        """Every field as stored in the asset's state document."""
        return {
            "intent_id": self.intent_id,
            "symbol": self.symbol,
            "purpose": self.purpose,
            "worst_loss": self.worst_loss,
            "exposure": self.exposure,
            "margin": self.margin,
            "sector": self.sector,
            "direction": self.direction,
        }


@dataclass
class TickContext:
    """Everything one decision of one asset reads: the plan (None outside a tick), the halt reason, the
    instruments, the session state, the book, the intents in flight, the snapshot, the trailing-stop
    memory, the account-wide figures of the other assets, and the broker's own positions with the drift
    from the book seen so far (tron.domain.drift). decide() updates ``state``, ``pending``, ``trail`` and
    ``drift`` in place."""

    asset: Asset
    day: date
    now: datetime
    plan: AssetPlan | None
    halted: str | None
    instruments: dict[str, Instrument]
    state: SessionState
    book: Book
    pending: dict[str, Pending]
    snapshot: Snapshot | None  # None outside a tick (the square-off)
    trail: dict[str, float] = field(default_factory=dict)  # best price since entry, per open position
    kill: KillSwitch | None = None  # the user's kill switch as the tick read it
    margin_elsewhere: Decimal = ZERO  # margin of the other assets' open positions
    others_net: Decimal = ZERO  # the other assets' realised net P&L today (the loss limit is account-wide)
    others_worst: Decimal = ZERO  # what the other assets' open positions lose at their stops
    stats: dict[str, StrategyStats] = field(default_factory=dict)  # realised statistics per strategy
    underlying: str | None = None  # options: the symbol whose signals pick calls or puts (the future)
    spot_symbol: str | None = None  # options: the index, for strikes
    contract: ContractRules = field(default_factory=ContractRules)
    broker_qty: dict[str, int] | None = (
        None  # the broker's net quantity per symbol this tick (None: not read)
    )
    drift: dict[str, tuple[int, int]] = field(
        default_factory=dict
    )  # symbol → (book, broker) where they differ
    frozen: dict[str, str] = field(
        default_factory=dict
    )  # symbol → why no entry today (plan_day's open check)
    working: dict[str, str] | None = (
        None  # orders TRON did not place, working now: symbol → what (None: not read)
    )
    foreign: dict[str, str] = field(default_factory=dict)  # those seen so far (each reported once)
    guardrails: Guardrails | None = None  # the quantity and value caps entries are sized under
    structure: StructureSpec | None = None  # options: the day's multi-leg structure, instead of signals
    structures: list[dict[str, Any]] = field(default_factory=list)  # its state (structure_decide)
    leg_stops: dict[str, float] = field(default_factory=dict)  # its legs' stops, trailed or moved to cost
    charged: bool = True  # the governor counts charges (a backtest with --charges none: never looked up)
    broker_margin: tuple[Decimal, Decimal] | None = None  # the broker's margin for the structure about
    # to enter and what the account has available (None: not asked: paper, or no structure to enter)


@dataclass
class TickDecision:
    """What a decision answers: the intents to claim, the events to log, and a reason to halt entries."""

    intents: list[OrderIntent] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    halt: str | None = None  # a reason to halt entries for the rest of the day
