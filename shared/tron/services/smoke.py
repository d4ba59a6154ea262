"""Smoke mode, for a first live day: the smallest orders that walk a resting stop's whole life at the broker,
through the same executor path as every trade, with every broker answer recorded.

For one liquid stock (quantity 1), then one lot of the nearest NIFTY call at the money: an entry at market;
its stop resting at the broker (SL-M for the stock, SL for the option); the stop moved once (a trail); the
stop turned into the exit (converted, never a second order beside it); and the broker's position checked
flat. Each broker call and its answer is stored under ``days/{date}/smoke/{nn}`` (what it was for, the
arguments TRON decided, the answer, the wall time it took), so the simulator can be compared with real
Kite's answers. Nothing else trades during a smoke run: it is not a trading day's tick."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from typing import Any

from tron.domain.book import Book
from tron.domain.models import Asset, Instrument, OrderIntent, Purpose, Side, intent_id
from tron.domain.protect import stop_prices
from tron.ports import Broker, BrokerOrder
from tron.services.claims import intent_doc
from tron.services.deps import Deps
from tron.services.execute_order import execute_order
from tron.services.messages import order_message
from tron.services.paths import book_path, intent_path

STRATEGY = "smoke"
STOP_DISTANCE = {Asset.STOCKS: 0.02, Asset.OPTIONS: 0.30}  # the stop below the entry, a share of its price


class SmokeFailed(RuntimeError):
    """A step of the smoke run did not end as it must; the message says which and what the broker said."""


def smoke_path(day: str, n: int) -> str:
    """One recorded broker call of a smoke run."""
    return f"days/{day}/smoke/{n:02d}"


class RecordingBroker:
    """The broker with every order call and read recorded in the store (smoke_path), answer and timing."""

    def __init__(self, inner: Broker, store: Any, day: date, clock: Any) -> None:
        self.inner, self.store, self.day, self.clock = inner, store, day, clock
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def recorded(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                answer = method(*args)
            except Exception as e:
                self._note(name, args, {"raised": f"{type(e).__name__}: {e}"}, start)
                raise
            self._note(name, args, _plain(answer), start)
            return answer

        return recorded

    def _note(self, name: str, args: tuple[Any, ...], answer: Any, start: float) -> None:
        self.calls += 1
        self.store.set(
            smoke_path(self.day.isoformat(), self.calls),
            {
                "call": name,
                "args": _plain(list(args)),
                "answer": answer,
                "seconds": round(time.perf_counter() - start, 4),
                "at": self.clock.now().isoformat(),
            },
        )


def _plain(v: Any) -> Any:
    """A broker answer or argument as JSON-ready data (intents and orders as their fields)."""
    if isinstance(v, OrderIntent):
        return v.to_dict()
    if isinstance(v, BrokerOrder):
        return {**asdict(v), "avg_price": str(v.avg_price), "ts": v.ts.isoformat()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return json.loads(json.dumps(v, default=str))


def run_smoke(deps: Deps, deliver: Callable[[], None], stock: str, option: bool = True) -> dict[str, Any]:
    """Run the smoke steps for ``stock`` (quantity 1) and, with ``option``, one NIFTY call lot; ``deliver``
    hands the bus's messages (the protect intents) to the executor. Returns, per leg, each step's outcome
    and the broker's final position; raises SmokeFailed at the first step that does not end as it must.
    The deps' broker is wrapped so that every call is recorded."""
    day = deps.clock.now().date()
    recorder = RecordingBroker(deps.broker, deps.store, day, deps.clock)
    deps.broker = recorder
    stocks = {i.symbol: i for i in deps.market.instruments(Asset.STOCKS)}
    if stock not in stocks:
        raise SmokeFailed(f"{stock} is not listed today")
    legs = [(Asset.STOCKS, stocks[stock], 1)]
    if option:
        call = _atm_call(deps)
        legs.append((Asset.OPTIONS, call, call.lot_size))
    return {
        "day": day.isoformat(),
        "legs": [_leg(deps, deliver, asset, inst, qty) for asset, inst, qty in legs],
        "broker_calls": recorder.calls,
    }


def _atm_call(deps: Deps) -> Instrument:
    """The nearest expiry's NIFTY call whose strike is nearest the index."""
    spot = deps.market.snapshot([deps.config.index_symbol]).quotes.get(deps.config.index_symbol)
    calls = [i for i in deps.market.instruments(Asset.OPTIONS) if i.option_type == "CE" and i.strike]
    if spot is None or not calls:
        raise SmokeFailed("no NIFTY quote or no NIFTY calls listed: the option leg cannot be chosen")
    expiry = min(i.expiry for i in calls if i.expiry)
    return min((i for i in calls if i.expiry == expiry), key=lambda i: abs((i.strike or 0) - spot.last))


def _leg(deps: Deps, deliver: Callable[[], None], asset: Asset, inst: Instrument, qty: int) -> dict[str, Any]:
    day = deps.clock.now().date()
    last = _last(deps, inst.symbol)
    stop, _ = stop_prices(Side.SELL, "SL-M", last * (1 - STOP_DISTANCE[asset]), inst.tick_size, inst.segment)
    entry = _intent(deps, asset, inst, Side.BUY, qty, Purpose.ENTRY, "smoke entry", price=last, stop=stop)
    steps = {"entry": _execute(deps, entry, "filled")}
    deliver()  # the protect intent the entry's fill claimed: the stop rests at the broker
    rest = _position(deps, asset, inst.symbol).protect
    if rest is None:
        raise SmokeFailed(f"{inst.symbol}: no stop rests at the broker after the entry")
    steps["stop"] = f"{rest.order_type} {rest.trigger} resting as {rest.order_id}"
    moved = rest.trigger + float(inst.tick_size) * max(1, round(0.002 * last / float(inst.tick_size)))
    trigger, limit = stop_prices(Side.SELL, rest.order_type, moved, inst.tick_size, inst.segment)
    trail = _intent(
        deps, asset, inst, Side.SELL, qty, Purpose.TRAIL, f"smoke trail {rest.trigger} → {trigger}",
        order_type=rest.order_type, trigger=trigger, limit=limit,
    )  # fmt: skip
    steps["trail"] = _execute(deps, trail, "resting")
    exit_ = _intent(deps, asset, inst, Side.SELL, qty, Purpose.EXIT, "smoke exit: the stop converted")
    steps["exit"] = _execute(deps, exit_, "filled")
    held = deps.broker.net_positions(day).get(inst.symbol, 0)
    if held or inst.symbol in Book.from_doc(deps.store.get(book_path(day.isoformat(), asset))).positions:
        raise SmokeFailed(f"{inst.symbol}: not flat after the exit (the broker holds {held})")
    return {"symbol": inst.symbol, "qty": qty, "steps": steps, "broker_position": held}


def _last(deps: Deps, symbol: str) -> float:
    q = deps.market.snapshot([symbol]).quotes.get(symbol)
    if q is None:
        raise SmokeFailed(f"no quote for {symbol}")
    return q.last


def _intent(
    deps: Deps, asset: Asset, inst: Instrument, side: Side, qty: int, purpose: Purpose, reason: str, **kw: Any
) -> OrderIntent:
    now = deps.clock.now()
    return OrderIntent(
        intent_id=intent_id(now.date(), asset, STRATEGY, inst.symbol, purpose, now),
        day=now.date(),
        asset=asset,
        symbol=inst.symbol,
        exchange=inst.exchange,
        side=side,
        qty=qty,
        purpose=purpose,
        strategy=STRATEGY,
        reason=reason,
        decided_at=now,
        segment=inst.segment,
        tick_size=inst.tick_size,
        lot=inst.lot_size,
        **kw,
    )


def _execute(deps: Deps, intent: OrderIntent, wanted: str) -> str:
    """Claim the intent as a tick would and hand it to the executor; its outcome, which must be ``wanted``."""
    day = intent.day.isoformat()
    if not deps.store.create(intent_path(day, intent.intent_id), intent_doc(intent, deps.clock.now())):
        raise SmokeFailed(f"{intent.intent_id} was already claimed: a smoke run is run once a minute at most")
    message = json.dumps(order_message(intent)).encode()
    outcome = execute_order(deps, message, {"intent_id": intent.intent_id})
    if outcome != wanted:
        doc = deps.store.get(intent_path(day, intent.intent_id)) or {}
        why = (doc.get("history") or [{}])[-1].get("reason", "")
        raise SmokeFailed(f"{intent.purpose} of {intent.symbol}: {outcome}, not {wanted} ({why})")
    return outcome


def _position(deps: Deps, asset: Asset, symbol: str) -> Any:
    pos = Book.from_doc(deps.store.get(book_path(deps.clock.now().date().isoformat(), asset))).positions.get(
        symbol
    )
    if pos is None:
        raise SmokeFailed(f"{symbol}: no position after the entry")
    return pos
