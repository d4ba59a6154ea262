"""Dry-run live ("shadow"): paper fills, with every order call built exactly as the Kite broker would send it,
checked against the rules Kite and the exchange apply, and recorded (:class:`ShadowBroker`; reference:
live-trading.md §1.4 "Dry-run live (shadow)")."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

from tron.adapters.kite.broker import (
    PROTECTED,
    RESTING,
    STOPS,
    TAG_RE,
    Slicer,
    cancel_kwargs,
    check_algo_id,
    convert_kwargs,
    marketable_limit,
    modify_kwargs,
    place_kwargs,
)
from tron.adapters.paper import PaperBroker
from tron.domain.models import OrderIntent, Side, quote_problem, slice_tag
from tron.domain.money import dec
from tron.domain.order_rules import check_market_protection, lpp_band, on_tick, sl_gap_limit
from tron.domain.protect import crossed
from tron.ports import (
    BrokerOrder,
    BrokerUnavailable,
    Clock,
    ExternalFill,
    OrderRejected,
    StateStore,
    WorkingOrder,
)

_T = TypeVar("_T", BrokerOrder, str)
Calls = list[tuple[int, dict[str, Any] | None]]  # each slice's call (its index, the kwargs; None: no call)
ORDER_TYPES = ("MARKET", "LIMIT", *STOPS)
CALLS = {
    "place": "place_order",
    "modify": "modify_order",
    "convert": "modify_order",
    "cancel": "cancel_order",
}
MARKET_PROTECTION_MISSING = (
    "Market orders without market protection are not allowed via API (MARKET and SL-M need market_protection)"
)


def shadow_path(day: date | str) -> str:
    """The collection of a day's shadow records: ``days/{day}/shadow/{seq}``."""
    return f"days/{day}/shadow"


def shadow_records(store: StateStore, day: date | str) -> list[dict[str, Any]]:
    """The day's shadow records in the order their calls were made: by the clock's time, then (for calls
    at the same instant, as a virtual clock's minute makes them) by the recording instance's own count;
    each with its document id as ``seq``."""
    docs = [{**d, "seq": seq} for seq, d in store.list(shadow_path(day))]
    return sorted(docs, key=lambda d: (d["at"], d.get("local_seq", 0), d["seq"]))


def slice_id(order_id: str, k: int) -> str:
    """The id a shadow record gives slice ``k`` of a paper order that Kite would take in slices."""
    return order_id if k == 0 else f"{order_id}.{k}"


def kite_problems(
    kw: dict[str, Any], side: str, tick: Decimal, segment: str, last: Decimal | None = None
) -> list[str]:
    """What Kite or the exchange would refuse in a ``place_order`` or ``modify_order`` call's keyword
    arguments (empty: nothing). ``side`` is the order's transaction type, ``tick`` its instrument's tick size
    and ``segment`` TRON's ("options", "futures", …); with the instrument's ``last`` price the market-state
    rules are checked too (a stop's trigger already crossed; a limit price outside NSE's F&O price band).

    The rules (sources: live-trading.md §1.1, §1.5; tron.domain.order_rules): a tag and an algo ID are 1–20
    letters or digits; the quantity is a positive whole number; a MARKET or SL-M order carries a valid
    market protection; options take no SL-M; a stop has a positive trigger, a LIMIT or SL a positive limit,
    both on the tick grid; an SL's limit sits at or beyond its trigger (below it for a sell) within the
    exchange's permissible gap."""
    out: list[str] = []
    for name in ("tag", "algo_id"):
        if name in kw and not (isinstance(kw[name], str) and TAG_RE.fullmatch(kw[name])):
            out.append(f"Invalid `{name}` {kw[name]!r}: Kite takes 1–20 letters or digits")
    if "quantity" in kw and not (isinstance(kw["quantity"], int) and kw["quantity"] > 0):
        out.append(f"Invalid `quantity` {kw['quantity']!r}: a positive whole number")
    order_type = kw.get("order_type")
    if order_type is not None and order_type not in ORDER_TYPES:
        out.append(f"Invalid `order_type` {order_type!r}")
    if order_type in PROTECTED:
        if kw.get("market_protection") is None:
            out.append(MARKET_PROTECTION_MISSING)
        else:
            try:
                check_market_protection(int(kw["market_protection"]))
            except (TypeError, ValueError) as e:
                out.append(str(e))
    is_option = segment == "options"
    if order_type == "SL-M" and is_option:
        out.append("SL-M orders are not allowed for option contracts: an option's stop is an SL")
    trigger = _price(kw, "trigger_price", tick, out, needed=order_type in STOPS)
    price = _price(kw, "price", tick, out, needed=order_type in ("LIMIT", "SL"))
    if order_type == "SL" and trigger is not None and price is not None:
        out.extend(_sl_gap(side, price, trigger, is_option))
    if last is not None and last > 0:
        if order_type in STOPS and trigger is not None and crossed(Side(side), float(trigger), float(last)):
            out.append(f"Trigger price {trigger} is already crossed by the last price {last}")
        band = lpp_band(last, is_option, segment == "futures")
        if order_type in ("LIMIT", "SL") and price is not None and band is not None:
            low, high = band
            if not low <= price <= high:
                out.append(
                    f"the limit {price} is outside the exchange's price band {low:.2f}–{high:.2f} around "
                    f"the last price {last}"
                )
    return out


def _price(kw: dict[str, Any], name: str, tick: Decimal, out: list[str], needed: bool) -> Decimal | None:
    """The call's price field as a Decimal (None when absent or not a number); a problem added to ``out``
    when a needed one is missing or not positive, or one given is off the tick grid."""
    raw = kw.get(name)
    if raw is None:
        if needed:
            out.append(f"Missing `{name}`: the order type {kw.get('order_type')} needs it")
        return None
    try:
        px = dec(raw)
    except (ArithmeticError, TypeError, ValueError):
        out.append(f"Invalid `{name}` {raw!r}: not a number")
        return None
    if not px.is_finite() or px <= 0:
        out.append(f"Invalid `{name}` {raw!r}: not a positive price")
        return None
    if on_tick(px, tick) != px:
        out.append(f"`{name}` {px} is not a multiple of the tick size {tick}")
    return px


def _sl_gap(side: str, price: Decimal, trigger: Decimal, is_option: bool) -> list[str]:
    """An SL's limit at or beyond its trigger (above it for a buy, below for a sell), and within the
    exchange's permissible range of it."""
    if price < trigger if side == "BUY" else price > trigger:
        where = "at or above" if side == "BUY" else "at or below"
        return [f"an SL {side}'s limit {price} must be {where} its trigger {trigger}"]
    gap = sl_gap_limit(trigger, is_option)
    if abs(price - trigger) > gap:
        return [
            f"the limit {price} is {abs(price - trigger)} from the trigger {trigger}: the exchange allows at "
            f"most {gap:.2f}"
        ]
    return []


class ShadowBroker:
    """The Broker port as dry-run live: fills on paper (the ``paper`` broker) what the Kite broker would
    send to Kite, configured as it would be (``market_protection``, ``algo_id``; ValueError for a bad one).

    Each order operation (place, modify, convert, cancel) first builds the exact kiteconnect call with the
    Kite broker's own functions (tron.adapters.kite.broker), checks it with :func:`kite_problems`, and records
    it in ``store`` at ``days/{day}/shadow/{seq}``::

        {"op": "place" | "modify" | "convert" | "cancel",
         "call": "place_order" | "modify_order" | "cancel_order" | None (no call: see below),
         "kwargs": {...} | None,   # exactly what the client would be called with (None: no call)
         "intent_id": str | None,  # None for a cancel
         "order_id": str | None,   # the paper order it maps to (None: no order placed)
         "at": ISO time,           # the clock's
         "local_seq": int,         # this instance's count: orders calls made at the same instant
         "problems": [str],        # the rules it breaks
         "refused": bool,          # refused here, as Kite would (never sent to paper)
         "outcome": str | None,    # the paper broker's answer: the order's status (None: no answer)
         "error": str | None}      # the refusal, or the error the paper broker raised (type: message)

    ``seq`` is the intent id (a cancel: the order id), the operation and a count, taken with create-if-absent
    so concurrent instances never overwrite one another. A call that breaks a rule is refused as live Kite
    would refuse it: OrderRejected with the reasons, recorded, and not sent to paper. A convert Kite would not
    be sent (the stop already filled or ended, or is no longer a stop) is recorded without a call, as is
    an operation the Kite broker itself refuses before calling (its OrderRejected: the problem). Reads
    go to the paper broker.
    """

    def __init__(
        self,
        paper: PaperBroker,
        store: StateStore,
        clock: Clock,
        market_protection: int = -1,
        algo_id: str | None = None,
        slices: Slicer | None = None,
    ) -> None:
        self.paper = paper
        self.slices: Slicer = slices or (lambda intent: [intent.qty])
        self.store = store
        self.clock = clock
        self.market_protection = check_market_protection(market_protection)
        self.algo_id = check_algo_id(algo_id)
        self._count = itertools.count(1)

    # ------------------------------------------------------------------ order operations
    def place(self, intent: OrderIntent) -> BrokerOrder:
        """Build place_order's arguments for the intent, check them (a stop's trigger against the last
        price too), record the call and place it on paper."""
        try:
            kw = place_kwargs(intent, self.market_protection, self.algo_id)
            parts = self.slices(intent)
        except (OrderRejected, ValueError) as e:
            self._refuse("place", intent.day, intent.intent_id, None, None, [str(e)])
        order = [*range(1, len(parts)), 0]  # as the Kite broker sends them: the first slice last
        calls: Calls = [(k, {**kw, "quantity": parts[k], "tag": slice_tag(intent.tag, k)}) for k in order]
        last = self._last(intent.symbol) if intent.order_type in STOPS else None
        problems = self._problems(calls, intent.side.value, intent, last)
        return self._send(
            "place", intent.day, intent.intent_id, None, calls, problems, self.paper.place, intent
        )

    def modify(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        """Build modify_order's arguments moving the stop to the trail intent, check them (against the
        last price too), record the call and move the paper stop."""
        try:
            calls: Calls = [
                (k, modify_kwargs(slice_id(order_id, k), replace(intent, qty=q), self.market_protection))
                for k, q in enumerate(self._paper_slices(intent.day, order_id, intent.qty))
            ]
        except OrderRejected as e:
            self._refuse("modify", intent.day, intent.intent_id, order_id, None, [str(e)])
        last = self._last(intent.symbol)
        problems = self._problems(calls, intent.side.value, intent, last)
        return self._send(
            "modify",
            intent.day,
            intent.intent_id,
            order_id,
            calls,
            problems,
            lambda it: self.paper.modify(order_id, it),
            intent,
        )

    def convert(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        """The paper stop is worked against the candles first, as the Kite broker reads the stop before
        converting it. One still resting is converted with modify_order's arguments (SL-M → MARKET with the
        market protection; SL → a LIMIT at :func:`marketable_limit` of the last price, BrokerUnavailable
        without one), checked and recorded; one that filled, ended or is no longer a stop is recorded
        without a call. Then the paper broker converts it (or answers it as it ended)."""
        calls: Calls = [(0, None)]
        problems: list[str] = []
        state = self.paper.order_states(intent.day, [order_id]).get(order_id)
        doc = self.paper.store.get(PaperBroker._path(intent.day, order_id)) if state is not None else None
        if state is not None and doc is not None and state.status in RESTING and doc["order_type"] in STOPS:
            limit = last = None
            if doc["order_type"] == "SL":
                last = self._last(intent.symbol)
                if last is None:
                    raise BrokerUnavailable(
                        f"no last price for {intent.symbol}: cannot price the exit's limit"
                    )
                limit = marketable_limit(str(doc["side"]), last, intent)
            calls = [
                (
                    k,
                    convert_kwargs(
                        slice_id(order_id, k), str(doc["order_type"]), self.market_protection, limit
                    ),
                )
                for k in range(len(doc.get("slices") or [1]))
            ]
            problems = self._problems(calls, str(doc["side"]), intent, last)
        return self._send(
            "convert",
            intent.day,
            intent.intent_id,
            order_id,
            calls,
            problems,
            lambda it: self.paper.convert(order_id, it),
            intent,
        )

    def cancel(self, order_id: str) -> str:
        """Record cancel_order's arguments and cancel the paper order (the day is the clock's, as paper's)."""
        day = self.clock.now().date()
        calls: Calls = [
            (k, cancel_kwargs(slice_id(order_id, k)))
            for k in range(len(self._paper_slices(day, order_id, 0)))
        ]
        return self._send("cancel", day, None, order_id, calls, [], self.paper.cancel, order_id)

    # ------------------------------------------------------------------ reads: the paper broker's
    def order_states(self, day: date, order_ids: list[str]) -> dict[str, BrokerOrder]:
        """The paper broker's."""
        return self.paper.order_states(day, order_ids)

    def find_by_tag(self, day: date, tag: str) -> BrokerOrder | None:
        """The paper broker's."""
        return self.paper.find_by_tag(day, tag)

    def net_positions(self, day: date) -> dict[str, int]:
        """The paper broker's."""
        return self.paper.net_positions(day)

    def orders_with_tag(self, day: date, tag: str) -> list[BrokerOrder]:
        """The paper broker's."""
        return self.paper.orders_with_tag(day, tag)

    def external_fills(self, day: date) -> list[ExternalFill]:
        """The paper broker's (none)."""
        return self.paper.external_fills(day)

    def working_orders(self) -> list[WorkingOrder]:
        """The paper broker's (none)."""
        return self.paper.working_orders()

    def preflight(self) -> str | None:
        """The paper broker's (its market data's)."""
        return self.paper.preflight()

    # ------------------------------------------------------------------ internals
    def _last(self, symbol: str) -> Decimal | None:
        """The symbol's last price from the paper broker's market data (None without a good quote: the
        market-state rules are then not checked)."""
        quote = self.paper.market.snapshot([symbol]).quotes.get(symbol)
        if quote is None or quote_problem(quote):
            return None
        return dec(quote.last)

    def _problems(
        self,
        calls: Calls,
        side: str,
        intent: OrderIntent,
        last: Decimal | None,
    ) -> list[str]:
        """What Kite would refuse in any of the calls (each problem once)."""
        found = [
            p
            for _, kw in calls
            if kw is not None
            for p in kite_problems(kw, side, intent.tick_size, intent.segment, last)
        ]
        return list(dict.fromkeys(found))

    def _paper_slices(self, day: date, order_id: str, qty: int) -> list[int]:
        """The slices the paper order stands for at Kite (one: the order itself)."""
        doc = self.paper.store.get(PaperBroker._path(day, order_id)) or {}
        return [int(q) for q in doc.get("slices") or [qty]]

    def _send(
        self,
        op: str,
        day: date,
        intent_id: str | None,
        order_id: str | None,
        calls: Calls,
        problems: list[str],
        act: Callable[[Any], _T],
        arg: Any,
    ) -> _T:
        """Refuse the calls if one breaks a rule; else make the operation on paper. Recorded either way, one
        record per call (an order in slices: one per slice, its id ``{paper id}.{k}`` from the second on),
        with the paper broker's answer (or the error it raised, raised again)."""
        if problems:
            self._refuse(op, day, intent_id, order_id, calls[0][1], problems)
        outcome = error = None
        try:
            out = act(arg)
            if isinstance(out, BrokerOrder):
                order_id, outcome = out.order_id, out.status
            else:
                outcome = "CANCELLED"
            return out
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
            raise
        finally:
            for k, kw in calls:
                sid = None if order_id is None else slice_id(order_id, k)
                self._record(op, day, intent_id, sid, kw, problems, outcome, error)

    def _refuse(
        self,
        op: str,
        day: date,
        intent_id: str | None,
        order_id: str | None,
        kw: dict[str, Any] | None,
        problems: list[str],
    ) -> NoReturn:
        """Record the call as refused and raise OrderRejected with its problems, as Kite answers it."""
        why = f"{CALLS[op]} refused (shadow): {'; '.join(problems)}"
        self._record(op, day, intent_id, order_id, kw, problems, None, f"OrderRejected: {why}")
        raise OrderRejected(why)

    def _record(
        self,
        op: str,
        day: date,
        intent_id: str | None,
        order_id: str | None,
        kw: dict[str, Any] | None,
        problems: list[str],
        outcome: str | None,
        error: str | None,
    ) -> str:
        """Write the record under the first free ``{intent id or order id}-{op}-{n}``; its seq."""
        doc = {
            "op": op,
            "call": CALLS[op] if kw is not None else None,
            "kwargs": kw,
            "intent_id": intent_id,
            "order_id": order_id,
            "at": self.clock.now().isoformat(),
            "local_seq": next(self._count),
            "problems": list(problems),
            "refused": bool(problems),
            "outcome": outcome,
            "error": error,
        }
        key, n = f"{intent_id or order_id}-{op}", 1
        while not self.store.create(f"{shadow_path(day)}/{key}-{n}", doc):
            n += 1
        return f"{key}-{n}"
