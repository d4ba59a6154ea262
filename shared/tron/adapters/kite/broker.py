"""KiteBroker: the Broker port on the official Kite client (through a KiteSession), plus the rest of Kite's
order and position calls that the CLI and tools use."""

from __future__ import annotations

import functools
import logging
import re
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar

from tron.adapters.kite.errors import Kind as ErrorKind
from tron.adapters.kite.errors import TokenExpired, classify
from tron.adapters.kite.limits import Sleep
from tron.adapters.kite.market import as_ist
from tron.adapters.kite.session import KiteSession
from tron.domain.live import MOST_SLICES
from tron.domain.models import OrderIntent, Side, slice_tag
from tron.domain.money import dec, paise
from tron.domain.order_rules import (
    auto_protection_pct,
    check_market_protection,
    lpp_band,
    on_tick,
    protection_price,
)
from tron.ports import (
    ENDED_STATUSES,
    SLICE_SEP,
    BrokerOrder,
    BrokerUnavailable,
    Clock,
    ExternalFill,
    OrderRejected,
    WorkingOrder,
)
from tron.ports import (
    order_ids as split_ids,
)

log = logging.getLogger("tron.kite")
RESTING = ("TRIGGER PENDING", "OPEN")  # a stop waiting for its trigger, or triggered and working
MODIFYING = ("MODIFY VALIDATION PENDING", "MODIFY PENDING", "MODIFIED")
STOPS = ("SL-M", "SL")
P = ParamSpec("P")
R = TypeVar("R")
_T = TypeVar("_T")
PROTECTED = ("MARKET", "SL-M")  # the order types Kite takes only with market protection
VARIETY = "regular"
TAG_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")  # Kite's rule for an order's tag (and the exchange's algo ID)
Order = dict[str, Any]  # one order (or one state of its history) as the client returns it
Slicer = Callable[[OrderIntent], list[int]]  # an order's quantities under the freeze quantity


@dataclass(frozen=True)
class KitePosition:
    """One net position as Kite's `positions()` reports it; prices and P&L rounded to paise."""

    symbol: str
    exchange: str
    product: str
    quantity: int  # net, signed
    average_price: Decimal
    pnl: Decimal


def _budgeted(op: Callable[Concatenate[KiteBroker, P], R]) -> Callable[Concatenate[KiteBroker, P], R]:
    """One order operation under the broker's ``order_budget`` (KiteSession.budget): over by that budget
    plus one call's timeout, however Kite hangs."""

    @functools.wraps(op)
    def run(self: KiteBroker, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.session.budget(self.order_budget):
            return op(self, *args, **kwargs)

    return run


def _text(v: Any) -> str:
    """A field that must hold something: its text (ValueError when it is missing or empty)."""
    if v is None or v == "":
        raise ValueError("a required field is empty")
    return str(v)


def _parsed(rows: Any, parse: Callable[[Order], _T | None]) -> list[_T]:
    """What `parse` makes of each row Kite sent (None: not wanted); a row it cannot read is left out and
    named in a WARNING, so one bad row never fails the caller."""
    out = []
    for row in rows or []:
        try:
            got = parse(row)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            log.warning(f"a malformed row from Kite left out ({type(e).__name__}: {e}): {str(row)[:200]}")
            continue
        if got is not None:
            out.append(got)
    return out


class KiteBroker:
    """The Broker port on Kite: regular-variety DAY orders. A MARKET order is followed to its final state; a
    stop (SL-M or SL) is rested at Kite (TRIGGER PENDING), moved by :meth:`modify` and turned into the exit by
    :meth:`convert`, and what the day's stops did is read in one call by :meth:`order_states`.

    ``market_protection`` is -1 (Kite's automatic protection) or 1–100 %; 0 raises ValueError, as Kite
    rejects it since April 2026. Every MARKET or SL-M order, and every modification of one, carries it.
    ``algo_id`` (SEBI's retail algo framework: the exchange's id of the registered strategy, 1–20 letters or
    digits, else ValueError) is sent with every order placed when given. The call arguments are built by the
    module's pure functions (:func:`place_kwargs`, :func:`modify_kwargs`, :func:`convert_kwargs`,
    :func:`cancel_kwargs`), which the shadow broker checks without sending. An
    order is read at most ``follow_polls`` times (at least 1), ``poll_interval`` seconds apart, before what is
    still open of a market order is cancelled (a resting stop is never cancelled by reading it). Each order
    operation (place, modify, convert, find_by_tag) starts no call after ``order_budget`` seconds: it then
    raises BrokerUnavailable and its outcome is read again by its tag (the executor's placing lease is sized
    from this bound: `KiteSettings.placing_lease_s`).

    Token expiry: the session calls its ``on_token_expired(reason)`` hook (one given here replaces the
    session's; bootstrap wires it to halt the day's entries with an ERROR log). An entry is then refused
    (OrderRejected, a recorded rejection); anything else (an exit, a protect, a trail, a convert) raises
    TokenExpired (a BrokerUnavailable), so it is delivered again and goes through as soon as a new token is
    stored.
    """

    def __init__(
        self,
        session: KiteSession,
        clock: Clock,
        market_protection: int = -1,
        follow_polls: int = 10,
        poll_interval: float = 0.2,
        sleep: Sleep = _time.sleep,
        on_token_expired: Callable[[str], None] | None = None,
        order_budget: float = 5.0,
        algo_id: str | None = None,
        slices: Slicer | None = None,
    ) -> None:
        self.session = session
        self.slices: Slicer = slices or (lambda intent: [intent.qty])
        self.order_budget = order_budget
        self.clock = clock
        self.market_protection = check_market_protection(market_protection)
        self.algo_id = check_algo_id(algo_id)
        self.follow_polls = max(1, follow_polls)
        self.poll_interval = poll_interval
        self.sleep = sleep
        if on_token_expired is not None:
            session.on_token_expired = on_token_expired

    # ------------------------------------------------------------------ the Broker port
    @_budgeted
    def place(self, intent: OrderIntent) -> BrokerOrder:
        """Place the intent as a DAY order with its exchange, product and tag, and read its order_history.

        A MARKET order carries the configured market protection and is followed to its final state. One
        still open after ``follow_polls`` reads is cancelled (the rest of a market order the book could not
        fill within its protection band is not left working), and the result is:

        - everything filled → status COMPLETE;
        - part filled, the rest cancelled → CANCELLED with ``filled_qty < intent.qty``: the executor books
          what was filled, and the smaller position or the residue is closed later like any position;
        - nothing filled → REJECTED with the broker's reason, so the executor records a rejection.

        A stop (a protect intent: order_type SL-M with the market protection, or SL with its limit as the
        price; both with ``intent.trigger`` as the trigger price) is followed only until it rests: normally
        TRIGGER PENDING, OPEN if it already triggered, or its end (REJECTED by Kite's RMS, COMPLETE). It is
        never cancelled here.

        A transient failure (one that may have reached Kite, unlike a 429) is retried only after looking
        for the tag: an order found is adopted instead of placing another, and the result is marked
        ``ambiguous`` (a request held in the network may still arrive; the executor looks the tag up again).

        Above the exchange's freeze quantity (``slices``: tron.domain.live.Guardrails.slices) the order goes
        in slices, each its own order with its own tag (:func:`tron.domain.models.slice_tag`), and is
        answered as one: :meth:`_place_sliced`.

        Raises OrderRejected for another order type, a stop without its trigger (an SL without its limit), a
        refusal by Kite, or an entry placed while the token has expired; TokenExpired for anything else
        placed then (an exit, a protect); BrokerUnavailable when Kite stays unreachable, the order does not
        reach its end (a MARKET order after the cancel) or does not rest (a stop), or Kite accepted it and
        reading its state failed, whatever the error (an order at the broker is never reported refused).
        """
        try:
            parts = self.slices(intent)
        except ValueError as e:
            raise OrderRejected(str(e)) from None
        if len(parts) > 1:
            return self._place_sliced(intent, parts)
        order_id, unknown = self._send(intent, place_kwargs(intent, self.market_protection, self.algo_id))
        try:
            order = self._follow_any(order_id, intent.tag, intent.qty, intent.order_type)
        except (OrderRejected, TokenExpired) as e:  # Kite has the order: its fate is unknown, not refused
            raise BrokerUnavailable(
                f"order {order_id} was accepted but its state could not be read ({e}): resolved by its tag"
            ) from None
        # A request that timed out may still arrive after the retry that replaced it: the executor has the
        # tag looked up again (services/duplicates.py).
        return replace(order, ambiguous=unknown)

    @_budgeted
    def modify(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        """Move a resting stop to a trail intent's trigger (and, for an SL, its limit as the price), with the
        intent's order type and quantity, and the configured market protection whenever that order type is
        SL-M or MARKET. Kite modifies asynchronously (MODIFY VALIDATION PENDING → MODIFY PENDING → MODIFIED):
        the order is read until it rests again at the new trigger (TRIGGER PENDING, or OPEN once triggered)
        or has ended, and returned as it now stands (tagged as Kite holds it: the protect intent's tag).

        A transient failure is retried only after reading the order: a modification that did reach Kite is
        not sent again (Kite would refuse the second while the first is pending).

        Raises OrderRejected when Kite refuses (the order has ended, the trigger is already crossed by the
        last price, its 25 modifications are spent; or an intent without its trigger or limit);
        TokenExpired when the session is gone; BrokerUnavailable when Kite stays unreachable or the
        modification is not seen through within ``follow_polls`` reads (read the order again later).
        """
        ids = split_ids(order_id)
        if len(ids) > 1:
            return self._modify_sliced(ids, intent)
        return self._modify_one(order_id, intent)

    def _modify_one(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        kw = modify_kwargs(order_id, intent, self.market_protection)
        trigger = kw.get("trigger_price")

        def at_new_trigger(o: Order) -> bool:
            return trigger is None or abs(float(o.get("trigger_price") or 0) - trigger) < 0.005

        self._modify(kw, applied=at_new_trigger)
        history = self._read_until(
            order_id, lambda o: _ended(o) or (o.get("status") in RESTING and at_new_trigger(o))
        )
        last = history[-1]
        if not (_ended(last) or (last.get("status") in RESTING and at_new_trigger(last))):
            raise BrokerUnavailable(
                f"order {order_id} is {last.get('status')} at trigger {last.get('trigger_price')} after its "
                f"modification to {trigger}: read it again later"
            )
        return self._broker_order(last, str(last.get("tag") or intent.tag), history)

    @_budgeted
    def convert(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        """Turn the resting stop ``order_id`` into the exit now, and follow it to its end as :meth:`place`
        follows a MARKET order (what is still OPEN after the reads is cancelled).

        The stop is read first (until it is done passing Kite's OMS):

        - COMPLETE: it filled at the broker; it is returned as it filled, and the caller books that fill as
          the exit;
        - CANCELLED or REJECTED: returned as it ended (REJECTED when nothing filled), so the caller places a
          fresh exit;
        - TRIGGER PENDING, or OPEN after its trigger: an SL-M is modified to MARKET with the market
          protection; an SL (options) to a LIMIT at a marketable price: the last price (one `ltp` call) less
          (a sell) or plus (a buy) Kite's automatic protection percentage, on ``intent.tick_size``'s grid and
          inside NSE's price band (options when ``intent.segment`` is "options", futures when "futures").
          The stop's quantity is kept. An order that is already no longer a stop (a convert delivered again)
          is only followed. If Kite refuses the modification because the order ended meanwhile, it is read
          again and returned as it ended.

        A stop rested in slices is converted slice by slice and answered as one.

        The result carries the order's tag as Kite holds it (the protect intent's). Raises OrderRejected when
        Kite refuses the modification of an order still working; TokenExpired when the session is gone;
        BrokerUnavailable when Kite stays unreachable, no last price can be had, or the order does not end.
        """
        ids = split_ids(order_id)
        if len(ids) > 1:
            return _combine([self._convert_one(i, intent) for i in ids])
        return self._convert_one(order_id, intent)

    def _convert_one(self, order_id: str, intent: OrderIntent) -> BrokerOrder:
        history = self._read_until(order_id, _settled)
        last = history[-1]
        tag = str(last.get("tag") or intent.tag)
        if _ended(last):
            return self._broker_order(last, tag, history)
        if last.get("status") not in RESTING:
            raise BrokerUnavailable(f"order {order_id} is still {last.get('status')}: convert it again later")
        qty = int(last.get("quantity") or intent.qty)
        order_type = str(last.get("order_type"))
        if order_type in STOPS:
            limit = None
            if order_type == "SL":
                limit = self._marketable_limit(str(last.get("transaction_type") or intent.side.value), intent)
            kw = convert_kwargs(order_id, order_type, self.market_protection, limit)
            log.info(
                f"converting stop {order_id} ({order_type}) to {kw['order_type']}: {intent.reason}",
                extra={"component": "kite", "correlation_id": tag},
            )
            try:
                self._modify(kw, applied=lambda o: o.get("order_type") not in STOPS or _ended(o))
            except OrderRejected:
                history = self._read_until(order_id, _settled)
                if _ended(history[-1]):  # it filled (or ended) meanwhile: that is the outcome
                    return self._broker_order(history[-1], tag, history)
                raise
        return self._follow(order_id, tag, qty)

    def order_states(self, day: date, order_ids: list[str]) -> dict[str, BrokerOrder]:
        """These orders as Kite's order book shows them now, from one `orders()` call: each with Kite's status
        as is (TRIGGER PENDING, OPEN, COMPLETE, CANCELLED, REJECTED, or a passing one such as MODIFY
        PENDING), its tag, filled quantity, average price (to paise) and exchange time (IST); an order in
        slices as one. Ids Kite does not list (another day's, or placed a moment ago) are left out. Raises TokenExpired or
        BrokerUnavailable."""
        wanted = {i for oid in order_ids for i in split_ids(oid)}
        listed: dict[str, BrokerOrder] = {}
        for o in self.orders():
            oid = str(o.get("order_id"))
            if oid in wanted:
                listed[oid] = self._broker_order(o, str(o.get("tag") or ""), [o], cancelled_is_rejected=False)
        out: dict[str, BrokerOrder] = {}
        for oid in order_ids:
            parts = [listed.get(i) for i in split_ids(oid)]
            if all(p is not None for p in parts):
                out[oid] = _combine([p for p in parts if p is not None])
        return out

    @_budgeted
    def find_by_tag(self, day: date, tag: str) -> BrokerOrder | None:
        """The day's order carrying the tag, followed as :meth:`place` does (a MARKET order to its end, a
        stop until it rests), or None.

        Recovery after a crash: a delivery adopts the order instead of placing another. If Kite holds two,
        the first placed is adopted and an ERROR is logged. An order in slices is found once its first
        slice, placed last, is at Kite (until then :meth:`place` adopts the slices already there).
        """
        groups = self._tagged(day, tag)
        if not groups:
            return None
        if len(groups) > 1:
            log.error(
                f"{len(groups)} Kite orders carry tag {tag}: adopting the first",
                extra={"component": "kite", "correlation_id": tag},
            )
        rows = groups[0]
        return _combine(
            [
                self._follow_any(
                    str(o["order_id"]),
                    str(o.get("tag")),
                    int(o.get("quantity") or 0),
                    str(o.get("order_type")),
                )
                for o in rows
            ]
        )

    def orders_with_tag(self, day: date, tag: str) -> list[BrokerOrder]:
        """Every order of the day carrying the tag, as Kite reports it now (not followed; a CANCELLED order
        stays CANCELLED even with nothing filled): an order in slices as one, its slices found under their
        own tags (also those of one whose first slice never reached Kite)."""
        return [
            _combine([self._broker_order(o, tag, [o], cancelled_is_rejected=False) for o in rows])
            for rows in self._tagged(day, tag, whole=False)
        ]

    def preflight(self) -> str | None:
        """None if the Kite session works (a `profile` call), else why not."""
        return self.session.preflight()

    # ------------------------------------------------------------------ more of Kite
    def order_status(self, order_id: str) -> BrokerOrder:
        """The order's latest state from its history, without following or cancelling it (CANCELLED with
        nothing filled shows as REJECTED). Raises TokenExpired or BrokerUnavailable."""
        parts = []
        for i in split_ids(order_id):
            history = self._history(i)
            parts.append(self._broker_order(history[-1], str(history[-1].get("tag") or ""), history))
        return _combine(parts)

    def modify_order(
        self,
        order_id: str,
        quantity: int | None = None,
        price: Decimal | None = None,
        order_type: str | None = None,
        trigger_price: Decimal | None = None,
    ) -> str:
        """Modify a working order (only the fields given); returns the order id Kite answers with. The
        configured market protection is sent whenever the order is or becomes MARKET or SL-M (without
        ``order_type`` its current type is read from its history first). Raises OrderRejected when Kite
        refuses, TokenExpired or BrokerUnavailable."""
        fields: dict[str, Any] = {
            "quantity": quantity,
            "price": None if price is None else float(price),
            "order_type": order_type,
            "trigger_price": None if trigger_price is None else float(trigger_price),
        }
        kw: dict[str, Any] = {"variety": VARIETY, "order_id": order_id}
        kw.update((k, v) for k, v in fields.items() if v is not None)
        kind = order_type or self._history(order_id)[-1].get("order_type")
        if kind in PROTECTED:
            kw["market_protection"] = self.market_protection
        return self._modify(kw)

    def cancel(self, order_id: str) -> str:
        """Cancel a working order (every slice of one in slices); returns the order id. OrderRejected if
        Kite refuses (already ended; every slice)."""
        refused: list[OrderRejected] = []
        ids = split_ids(order_id)
        for i in ids:  # an order in slices: each slice still working
            try:
                self._cancel_one(i)
            except OrderRejected as e:
                refused.append(e)
        if len(refused) == len(ids):
            raise refused[0]
        return order_id

    def _cancel_one(self, order_id: str) -> str:
        kw = cancel_kwargs(order_id)
        return str(self.session.call("orders", "cancel_order", lambda c: c.cancel_order(**kw)))

    def net_positions(self, day: date) -> dict[str, int]:
        """Today's net quantity per tradingsymbol from one `positions` call (every product summed: a manual
        CNC trade on a TRON symbol counts too)."""
        out: dict[str, int] = {}
        for p in self.positions():
            out[p.symbol] = out.get(p.symbol, 0) + p.quantity
        return {s: q for s, q in out.items() if q}

    def external_fills(self, day: date) -> list[ExternalFill]:
        """Today's COMPLETE orders without a tag (from the Kite app, or the broker's ADMINSQF square-off),
        from one `orders` call, oldest first; a malformed row is left out with a WARNING."""

        def fill(o: Order) -> ExternalFill | None:
            ts = as_ist(o.get("exchange_timestamp")) or as_ist(o.get("order_timestamp"))
            if o.get("tag") or o.get("status") != "COMPLETE" or ts is None or ts.date() != day:
                return None
            qty, price = int(o.get("filled_quantity") or 0), paise(dec(float(o.get("average_price") or 0)))
            if qty <= 0 or price <= 0:
                raise ValueError(f"a COMPLETE order filled {qty} at {price}")
            return ExternalFill(
                _text(o["order_id"]),
                _text(o["tradingsymbol"]),
                Side(o["transaction_type"]),
                qty,
                price,
                ts,
                str(o.get("placed_by") or ""),
            )

        return sorted(_parsed(self.orders(), fill), key=lambda f: f.ts)

    def working_orders(self) -> list[WorkingOrder]:
        """The orders Kite still works (any status but COMPLETE, REJECTED, CANCELLED) and the active GTTs; a
        malformed row is left out with a WARNING."""

        def working(o: Order) -> WorkingOrder | None:
            if o.get("status") in ENDED_STATUSES:
                return None
            tag = str(o.get("tag") or "")
            return WorkingOrder(_text(o["order_id"]), _text(o["tradingsymbol"]), tag, _text(o["status"]))

        def gtt(g: Order) -> WorkingOrder | None:
            if g.get("status") != "active":
                return None
            return WorkingOrder(
                _text(g["id"]), _text(g["condition"]["tradingsymbol"]), "", "active", kind="gtt"
            )

        gtts = self.session.call("other", "get_gtts", lambda c: c.get_gtts())
        return _parsed(self.orders(), working) + _parsed(gtts, gtt)

    def positions(self) -> list[KitePosition]:
        """Today's net positions (MIS and others) as Kite reports them."""
        data = self.session.call("other", "positions", lambda c: c.positions())
        return [
            KitePosition(
                p["tradingsymbol"],
                p["exchange"],
                p.get("product", ""),
                int(p.get("quantity") or 0),
                paise(dec(float(p.get("average_price") or 0))),
                paise(dec(float(p.get("pnl") or 0))),
            )
            for p in data.get("net", [])
        ]

    def orders(self) -> list[dict[str, Any]]:
        """The day's orders as Kite's `orders()` returns them."""
        return list(self.session.call("other", "orders", lambda c: c.orders()))

    def trades(self) -> list[dict[str, Any]]:
        """The day's trades (executions) as Kite's `trades()` returns them."""
        return list(self.session.call("other", "trades", lambda c: c.trades()))

    # ------------------------------------------------------------------ internals
    def _day_orders(self, day: date) -> list[Order]:
        """The day's orders as Kite lists them (placed oldest first)."""
        out = []
        for o in self.orders():
            ts = as_ist(o.get("order_timestamp"))
            if ts is None or ts.date() == day:
                out.append(o)
        return out

    def _tagged(self, day: date, tag: str, whole: bool = True) -> list[list[Order]]:
        """The day's orders under the tag, each as its rows: one row, or an order's slices (under their own
        tags: :func:`slice_tag`), first slice first. Two orders under one tag (a duplicate) are two groups,
        the first placed first. ``whole``: only orders whose first slice is at Kite (it is placed last)."""
        by_tag: dict[str, list[Order]] = {}
        for o in self._day_orders(day):
            for t in {str(o.get("tag") or ""), *[str(x) for x in o.get("tags") or []]}:
                by_tag.setdefault(t, []).append(o)
        slices = [by_tag.get(slice_tag(tag, k), []) for k in range(MOST_SLICES)]
        if whole and not slices[0]:
            return []
        found = [k for k, rows in enumerate(slices) if rows]
        n = max((len(rows) for rows in slices), default=0)
        return [[slices[k][j] for k in found if j < len(slices[k])] for j in range(n)]

    def _send(self, intent: OrderIntent, params: dict[str, Any]) -> tuple[str, bool]:
        """place_order with these arguments: the order id Kite answers, and whether a try failed in a way
        that may have reached Kite (a transient failure is retried only after looking for the tag: an order
        found is adopted instead of placing another). A refusal is an OrderRejected; an expired token
        :meth:`_token_expired`."""
        unknown = False

        def already_placed(e: BaseException) -> str | None:
            nonlocal unknown
            if classify(e) is ErrorKind.RATE_LIMITED:
                return None  # refused before it reached the order book: safe to send again
            unknown = True
            found = self._tagged(intent.day, str(params["tag"]))
            return str(found[0][0]["order_id"]) if found else None

        try:
            order_id = self.session.call(
                "orders", "place_order", lambda c: c.place_order(**params), before_retry=already_placed
            )
        except TokenExpired as e:
            self._token_expired(intent, str(e))
        return str(order_id), unknown

    def _follow_any(self, order_id: str, tag: str, qty: int, order_type: str) -> BrokerOrder:
        """A stop followed until it rests, any other order to its end."""
        if order_type in STOPS:
            return self._follow_stop(order_id, tag)
        return self._follow(order_id, tag, qty)

    def _place_sliced(self, intent: OrderIntent, parts: list[int]) -> BrokerOrder:
        """The intent in slices (``parts``: their quantities), each a place_order of its own under its own
        tag, the first slice (the intent's own tag) placed last, so that finding the intent's tag means
        every slice reached Kite; a slice already at Kite (an earlier delivery placed it) is adopted, not
        placed again. Then all are followed (a MARKET slice to its end, a stop until it rests) and answered
        as one order: ids joined by ``+``, the fills summed at their average price, each slice's fill in
        ``parts`` (brokerage is charged per order).

        A slice Kite refuses ends the placing: what the slices placed filled is the order's fill (CANCELLED:
        the rest is closed later like any partial fill); a stop's placed slices are cancelled, so no
        position is half protected while the book counts it protected (REJECTED unless one filled at
        once). Nothing placed at all is an OrderRejected."""
        base = place_kwargs(intent, self.market_protection, self.algo_id)
        first = {str(o.get("tag") or ""): o for o in reversed(self._day_orders(intent.day))}  # one read
        sent: dict[int, str] = {}
        unsure, refused = False, ""
        for k in [*range(1, len(parts)), 0]:
            tag = slice_tag(intent.tag, k)
            if tag in first:
                sent[k] = str(first[tag]["order_id"])
                continue
            try:
                sent[k], unknown = self._send(intent, {**base, "quantity": parts[k], "tag": tag})
            except OrderRejected as e:
                refused = f"slice {k + 1} of {len(parts)} refused: {e}"
                break
            unsure |= unknown
        if not sent:
            raise OrderRejected(refused)
        try:
            got = [
                self._follow_any(sent[k], slice_tag(intent.tag, k), parts[k], intent.order_type)
                for k in sorted(sent)
            ]
            if intent.order_type in STOPS and not refused:
                dead = next((o for o in got if o.ended and o.filled_qty == 0), None)
                if dead is not None:  # Kite's RMS rejected a slice: the stop does not rest in part
                    refused = f"a slice was {dead.status.lower()}: {dead.message}".rstrip(": ")
            if refused and intent.order_type in STOPS:
                got = [self._cancelled(o) for o in got]
        except (OrderRejected, TokenExpired) as e:
            raise BrokerUnavailable(
                f"slices {SLICE_SEP.join(sent.values())} were accepted but their state could not be read ({e}): "
                "resolved by their tags"
            ) from None
        order = _combine(got, placed_all=not refused)
        if refused:
            log.error(
                f"{intent.symbol}: {refused}; {order.filled_qty} of {intent.qty} filled",
                extra={"component": "kite", "correlation_id": intent.tag},
            )
            order = replace(order, message="; ".join(m for m in (refused, order.message) if m))
        return replace(order, ambiguous=unsure)

    def _cancelled(self, order: BrokerOrder) -> BrokerOrder:
        """A working order cancelled and read until it ends (one that ended meanwhile, as it ended)."""
        if order.ended:
            return order
        try:
            self.cancel(order.order_id)
        except OrderRejected:
            pass  # it ended meanwhile: its history says how
        history = self._read_until(order.order_id, _ended)
        return self._broker_order(history[-1], order.tag, history)

    def _modify_sliced(self, ids: list[str], intent: OrderIntent) -> BrokerOrder:
        """A stop resting in slices moved slice by slice, each with its own quantity (a slice that has
        ended is left as it ended), and answered as one. OrderRejected when Kite refuses a slice still
        working (the others already moved stay moved: the trail is decided again)."""
        parts, refused = [], None
        for i in ids:
            last = self._history(i)[-1]
            if _ended(last):
                parts.append(self._broker_order(last, str(last.get("tag") or ""), [last]))
                continue
            try:
                parts.append(
                    self._modify_one(i, replace(intent, qty=int(last.get("quantity") or intent.qty)))
                )
            except OrderRejected as e:
                refused = refused or e
        if refused is not None:
            raise refused
        return _combine(parts)

    def _history(self, order_id: str) -> list[dict[str, Any]]:
        history = self.session.call("other", "order_history", lambda c: c.order_history(order_id))
        if not history:
            raise BrokerUnavailable(f"Kite has no history for order {order_id} yet")
        return list(history)

    def _modify(self, kw: dict[str, Any], applied: Callable[[Order], bool] | None = None) -> str:
        """modify_order with these keyword arguments (variety and order_id included). A transient failure is
        retried only after reading the order: one that shows the modification under way (or ``applied`` to
        it) answers instead of a second request."""
        order_id = str(kw["order_id"])

        def already_modified(e: BaseException) -> str | None:
            if classify(e) is ErrorKind.RATE_LIMITED:
                return None  # refused before it reached Kite: safe to send again
            last = self._history(order_id)[-1]
            if last.get("status") in MODIFYING or (applied is not None and applied(last)):
                return order_id
            return None

        return str(
            self.session.call(
                "orders",
                "modify_order",
                lambda c: c.modify_order(**kw),
                before_retry=already_modified,
            )
        )

    def _marketable_limit(self, side: str, intent: OrderIntent) -> Decimal:
        """:func:`marketable_limit` at the last price (one `ltp` call); BrokerUnavailable without one."""
        key = f"{intent.exchange}:{intent.symbol}"
        data = self.session.call("quote", "ltp", lambda c: c.ltp([key]))
        last = float((data or {}).get(key, {}).get("last_price") or 0)
        if last <= 0:
            raise BrokerUnavailable(f"no last price for {key}: cannot price the exit's limit")
        return marketable_limit(side, dec(last), intent)

    def _follow(self, order_id: str, tag: str, qty: int) -> BrokerOrder:
        """Read the order until it ends. One still OPEN (a protected market order partly filled) after the
        bound has the rest cancelled; Kite cancels asynchronously (CANCEL PENDING), so the order is read again
        until it ends. One whose end is still not known (still passing Kite's OMS, or the cancel pending) is a
        BrokerUnavailable: its outcome is read again later, by its tag."""
        history = self._read_until(order_id, _ended)
        if history[-1].get("status") == "OPEN":
            last = history[-1]
            log.warning(
                f"order {order_id} still OPEN after {self.follow_polls} reads "
                f"({last.get('filled_quantity', 0)} of {last.get('quantity', qty)} filled): cancelling the rest",
                extra={"component": "kite", "correlation_id": tag},
            )
            try:
                self.cancel(order_id)
            except OrderRejected:
                pass  # it completed or was cancelled meanwhile: the history says which
            history = self._read_until(order_id, _ended)
        if history[-1].get("status") not in ENDED_STATUSES:
            raise BrokerUnavailable(
                f"order {order_id} is still {history[-1].get('status')}: its outcome is read again by its tag"
            )
        return self._broker_order(history[-1], tag, history)

    def _follow_stop(self, order_id: str, tag: str) -> BrokerOrder:
        """Read a stop until it rests (TRIGGER PENDING, or OPEN once triggered) or has ended; never cancel
        it. One still passing Kite's OMS after the bound is a BrokerUnavailable (read again by its tag)."""
        history = self._read_until(order_id, _settled)
        if not _settled(history[-1]):
            raise BrokerUnavailable(
                f"stop {order_id} is still {history[-1].get('status')}: its state is read again by its tag"
            )
        return self._broker_order(history[-1], tag, history)

    def _read_until(self, order_id: str, done: Callable[[Order], bool]) -> list[Order]:
        """The order's history, read up to `follow_polls` times until its last state is ``done``."""
        history = self._history(order_id)
        for _ in range(self.follow_polls - 1):
            if done(history[-1]):
                break
            self.sleep(self.poll_interval)
            history = self._history(order_id)
        return history

    def _broker_order(
        self,
        last: dict[str, Any],
        tag: str,
        history: list[dict[str, Any]],
        cancelled_is_rejected: bool = True,
    ) -> BrokerOrder:
        status = str(last.get("status"))
        filled = int(last.get("filled_quantity") or 0)
        avg = paise(dec(float(last.get("average_price") or 0)))
        ts = as_ist(last.get("exchange_timestamp")) or as_ist(last.get("order_timestamp")) or self.clock.now()
        message = str(last.get("status_message") or "")
        if cancelled_is_rejected and status == "CANCELLED" and filled == 0:
            status, message = "REJECTED", f"cancelled with nothing filled: {message}".rstrip(": ")
        return BrokerOrder(str(last["order_id"]), tag, status, filled, avg, ts, message)

    def _token_expired(self, intent: OrderIntent, reason: str) -> NoReturn:
        """The session has already called its on_token_expired hook (the day's entries halt)."""
        if intent.purpose.opens:
            raise OrderRejected(f"entry refused, the Kite session expired: {reason}")
        raise TokenExpired(reason)


def _combine(parts: list[BrokerOrder], placed_all: bool = True) -> BrokerOrder:
    """Orders (an order's slices, first slice first) as one: ids joined by ``+``, the first slice's tag,
    fills summed at their average price (to paise), each slice's fill in ``parts``, the latest time. Its
    status: a working slice's (OPEN before TRIGGER PENDING: a triggered slice is what matters); COMPLETE
    when every slice completed and all were placed; one status all share; else CANCELLED when something
    filled (a partial fill), REJECTED when nothing did. One order is itself."""
    if len(parts) == 1 and placed_all:
        return parts[0]
    filled = sum(p.filled_qty for p in parts)
    value = sum((p.avg_price * p.filled_qty for p in parts), Decimal(0))
    statuses = [p.status for p in parts]
    working = [s for s in statuses if s not in ENDED_STATUSES]
    if working:
        status = "OPEN" if "OPEN" in working else working[0]
    elif len(set(statuses)) == 1 and (placed_all or statuses[0] != "COMPLETE"):
        status = statuses[0]
    else:
        status = "CANCELLED" if filled else "REJECTED"
    return BrokerOrder(
        SLICE_SEP.join(p.order_id for p in parts),
        parts[0].tag,
        status,
        filled,
        paise(value / filled) if filled else Decimal(0),
        max(p.ts for p in parts),
        "; ".join(dict.fromkeys(p.message for p in parts if p.message)),
        any(p.ambiguous for p in parts),
        tuple((p.filled_qty, p.avg_price) for p in parts),
    )


def _ended(o: Order) -> bool:
    return o.get("status") in ENDED_STATUSES


def _settled(o: Order) -> bool:
    """Done passing Kite's OMS: resting (a stop TRIGGER PENDING, an order OPEN) or ended."""
    return o.get("status") in RESTING or o.get("status") in ENDED_STATUSES


def _px(x: float) -> float:
    """A price as sent to Kite: to paise (the intent's prices are already on the tick grid)."""
    return round(float(x), 2)


# ---------------------------------------------------------------------- the kiteconnect call arguments
# Pure: KiteBroker sends exactly these, and the shadow broker (tron.adapters.kite.shadow) builds and checks
# the same without sending them.


def check_algo_id(value: str | None) -> str | None:
    """The exchange's algo ID sent with each order placed (SEBI's retail algo framework): None, or 1–20
    letters and digits (ValueError otherwise)."""
    if value is None or TAG_RE.fullmatch(value):
        return value
    raise ValueError(f"algo_id must be 1–20 letters or digits, got {value!r}")


def place_kwargs(intent: OrderIntent, market_protection: int, algo_id: str | None = None) -> dict[str, Any]:
    """kiteconnect ``place_order``'s keyword arguments for the intent: a regular-variety DAY order on its
    exchange and product, with its tag; a stop's trigger_price (and an SL's limit as the price); the market
    protection on a MARKET or SL-M order; ``algo_id`` when one is given. Raises OrderRejected for an order
    type TRON does not send, or a stop without its trigger (an SL without its limit)."""
    if intent.order_type not in ("MARKET", *STOPS):
        raise OrderRejected(f"TRON sends MARKET, SL-M and SL orders only, got {intent.order_type}")
    kw: dict[str, Any] = {
        "variety": VARIETY,
        "exchange": intent.exchange,
        "tradingsymbol": intent.symbol,
        "transaction_type": intent.side.value,
        "quantity": intent.qty,
        "product": intent.product,
        "order_type": intent.order_type,
        "validity": "DAY",
        "tag": intent.tag,
    }
    if intent.order_type in STOPS:
        kw.update(_stop_prices(intent))
    if intent.order_type in PROTECTED:
        kw["market_protection"] = market_protection
    if algo_id is not None:
        kw["algo_id"] = algo_id
    return kw


def modify_kwargs(order_id: str, intent: OrderIntent, market_protection: int) -> dict[str, Any]:
    """kiteconnect ``modify_order``'s keyword arguments moving the resting stop ``order_id`` to a trail
    intent: its order type and quantity, a stop's trigger_price (and an SL's limit as the price), a LIMIT's
    price, and the market protection whenever the order type is MARKET or SL-M. Raises OrderRejected for
    another order type, or a price the intent lacks."""
    kw: dict[str, Any] = {
        "variety": VARIETY,
        "order_id": order_id,
        "order_type": intent.order_type,
        "quantity": intent.qty,
    }
    if intent.order_type in STOPS:
        kw.update(_stop_prices(intent))
    elif intent.order_type == "LIMIT":
        if intent.limit is None:
            raise OrderRejected("a LIMIT modification needs its limit price")
        kw["price"] = _px(intent.limit)
    elif intent.order_type != "MARKET":
        raise OrderRejected(f"cannot modify an order to {intent.order_type}")
    if intent.order_type in PROTECTED:
        kw["market_protection"] = market_protection
    return kw


def convert_kwargs(
    order_id: str, order_type: str, market_protection: int, limit: Decimal | None = None
) -> dict[str, Any]:
    """kiteconnect ``modify_order``'s keyword arguments turning the resting stop ``order_id`` (of
    ``order_type`` as Kite holds it) into the exit: an SL-M into a MARKET order with the market protection
    (mandatory when an order becomes MARKET), an SL into a LIMIT at ``limit`` (:func:`marketable_limit`).
    The quantity is left as it is. Raises OrderRejected for an order that is not a stop, or an SL without
    its limit."""
    if order_type == "SL-M":
        return {
            "variety": VARIETY,
            "order_id": order_id,
            "order_type": "MARKET",
            "market_protection": market_protection,
        }
    if order_type != "SL":
        raise OrderRejected(f"only a resting stop (SL-M or SL) is converted, not {order_type}")
    if limit is None:
        raise OrderRejected("an SL is converted to a LIMIT order at a marketable price: none given")
    return {"variety": VARIETY, "order_id": order_id, "order_type": "LIMIT", "price": float(limit)}


def cancel_kwargs(order_id: str) -> dict[str, Any]:
    """kiteconnect ``cancel_order``'s keyword arguments for a regular order."""
    return {"variety": VARIETY, "order_id": order_id}


def marketable_limit(side: str, ltp: Decimal, intent: OrderIntent) -> Decimal:
    """A limit price that trades at once: ``ltp`` moved against ``side`` by Kite's automatic protection
    percentage, on ``intent.tick_size``'s grid, inside NSE's band for F&O limit prices (options when
    ``intent.segment`` is "options", futures when "futures"), and at least one tick."""
    is_option = intent.segment == "options"
    tick = intent.tick_size
    price = protection_price(side, ltp, auto_protection_pct(ltp, is_option), tick)
    band = lpp_band(ltp, is_option, intent.segment == "futures")
    if band is not None:
        low, high = on_tick(band[0], tick, ROUND_CEILING), on_tick(band[1], tick, ROUND_FLOOR)
        price = min(max(price, low), high)
    return max(price, tick if tick > 0 else Decimal("0.05"))


def _stop_prices(intent: OrderIntent) -> dict[str, Any]:
    """A stop's trigger_price, and for an SL its limit as the price; OrderRejected if the intent lacks one."""
    if intent.trigger is None:
        raise OrderRejected(f"an {intent.order_type} order needs its trigger price")
    fields: dict[str, Any] = {"trigger_price": _px(intent.trigger)}
    if intent.order_type == "SL":
        if intent.limit is None:
            raise OrderRejected("an SL order needs its limit price")
        fields["price"] = _px(intent.limit)
    return fields
