"""What every service is given: the ports and the settings they need (built by bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tron.domain.calendar import TradingCalendar
from tron.domain.live import Guardrails
from tron.domain.models import Asset
from tron.domain.risk import RiskLimits
from tron.domain.structures import StructureSpec
from tron.ports import (
    Archive,
    Broker,
    Bus,
    Clock,
    Margins,
    MarketData,
    Notifier,
    Planner,
    Reviewer,
    Secrets,
    StateStore,
    TokenExchange,
)


@dataclass
class ServiceConfig:
    """The settings services read: the risk envelope and enabled flag per asset, the trading mode, the
    orders topic, the index, the universe size, the daily history plan_day needs, the executor's placing
    lease, whether each position's stop rests at the broker (and as which order type), and the guardrails
    every entry is checked against before it is placed, and the options asset's structure."""

    envelope: dict[Asset, RiskLimits]
    enabled: dict[Asset, bool]
    mode: str = "paper"
    orders_topic: str = "orders"
    index_symbol: str = "NIFTY 50"
    universe_size: int | None = None
    history_days: int = 10
    placing_lease_seconds: int = 20
    resting_stops: bool = True
    stop_order: str = "SL-M"  # stocks and futures; options rest an SL
    guardrails: Guardrails = field(default_factory=Guardrails)
    structure: StructureSpec | None = None  # the options asset's multi-leg structure (instead of signals)
    telegram_chats: frozenset[int] = frozenset()  # the chats the Telegram webhook obeys (none: it obeys none)


@dataclass
class Deps:
    """Every port a service uses, and its configuration; bootstrap builds one per backend."""

    store: StateStore
    bus: Bus
    archive: Archive
    secrets: Secrets
    clock: Clock
    market: MarketData
    broker: Broker
    planner: Planner
    fallback_planner: Planner
    calendar: TradingCalendar
    config: ServiceConfig
    reviewer: Reviewer | None = None  # an optional LLM review of the day
    login: TokenExchange | None = None  # the daily Kite login (None: no Kite app configured here)
    margins: Margins | None = None  # the broker's margin calculator (None: paper, the domain's estimate)
    notifier: Notifier | None = None  # tells the operator (bootstrap: logs, or Telegram); None: nothing
