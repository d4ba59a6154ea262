"""Every state-store document and archive object the services read or write, by name (readable in the
Firestore browser and the logs bucket)."""

from __future__ import annotations

KILL_SWITCH = "control/kill_switch"  # the user's kill switch (tron.domain.risk.KillSwitch)


def day_path(day: str) -> str:
    """The day: its plan, status and halt reason."""
    return f"days/{day}"


def state_path(day: str, asset: str) -> str:
    """An asset's rolling bars and indicators, its intents in flight and trailing memory."""
    return f"days/{day}/assets/{asset}"


def book_path(day: str, asset: str) -> str:
    """An asset's positions, P&L, charges and counters (written by the executor only)."""
    return f"days/{day}/books/{asset}"


def intents_path(day: str) -> str:
    """The day's order intents (a collection)."""
    return f"days/{day}/intents"


def intent_path(day: str, intent_id: str) -> str:
    """One order intent: its states, broker order id, fill and charges."""
    return f"{intents_path(day)}/{intent_id}"


def in_flight_path(day: str) -> str:
    """One small document a day, a field per asset: the worst case and margin of its entries in flight, so
    the other assets' ticks count them (and, in a transaction, conflict with a concurrent change)."""
    return f"days/{day}/risk/in_flight"


def orders_count_path(day: str) -> str:
    """The day's orders sent to the broker, across the account (the guardrail max_orders_per_day)."""
    return f"days/{day}/risk/orders"


def reconciliation_path(day: str) -> str:
    """The day's books against the broker's positions, as `tron reconcile` and the end of day found them."""
    return f"days/{day}/reconciliation/close"


def review_path(day: str) -> str:
    """The optional LLM review of the day (never applied)."""
    return f"days/{day}/reviews/llm"


def stats_path(asset: str) -> str:
    """Per strategy: closed trades, wins, sums of wins and losses (half-Kelly sizing reads them)."""
    return f"stats/{asset}"


def malformed_path(digest: str) -> str:
    """An order message refused as malformed: what arrived (truncated) and why."""
    return f"malformed/{digest}"


def replay_path(day: str, asset: str) -> str:
    """Archive: every snapshot an asset's ticks saw, one JSON line each (the day can be replayed)."""
    return f"replay/{day}/{asset}.jsonl"


def report_path(day: str, kind: str) -> str:
    """Archive: the day's report, kind json or html."""
    return f"reports/{day}/report.{kind}"


def chain_path(day: str, underlying: str = "NIFTY") -> str:
    """Archive: every option-chain snapshot the options ticks read that day, one Parquet row per minute and
    contract (tron.services.chain_archive; read back by tron.backtest.chains)."""
    return f"chains/{day}/{underlying}.parquet"


def updates_path(update_id: int) -> str:
    """Telegram: an update handled (created before it acts: a second delivery finds it)."""
    return f"telegram/webhook/updates/{update_id}"


def commands_path(update_id: int) -> str:
    """Telegram: a command: the chat, who sent it, its text and what it did."""
    return f"telegram/webhook/commands/{update_id}"


def confirm_path(chat_id: int) -> str:
    """Telegram: the square-off a chat asked for, waiting for its /confirm."""
    return f"telegram/webhook/confirm/{chat_id}"
