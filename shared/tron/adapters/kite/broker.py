"""KiteBroker: the Broker port on the official Kite client (through a KiteSession), plus the rest of Kite's
order and position calls that the CLI and tools use."""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn

from tron.adapters.kite.errors import Kind as ErrorKind
from tron.adapters.kite.errors import TokenExpired, classify
from tron.adapters.kite.limits import Sleep
from tron.adapters.kite.market import as_ist
from tron.adapters.kite.session import KiteSession
from tron.domain.models import OrderIntent
from tron.domain.money import dec, paise
from tron.domain.order_rules import check_market_protection
from tron.ports import BrokerOrder, BrokerUnavailable, Clock, OrderRejected

log = logging.getLogger("tron.kite")
TERMINAL = ("COMPLETE", "REJECTED", "CANCELLED")
VARIETY = "regular"


@dataclass(frozen=True)
class KitePosition:
    """One net position as Kite's `positions()` reports it; prices and P&L rounded to paise."""

    symbol: str
    exchange: str
    product: str
    quantity: int  # net, signed
    average_price: Decimal
    pnl: Decimal


class KiteBroker:
    """The Broker port on Kite: regular-variety MARKET orders followed to their final state.

    ``market_protection`` is -1 (Kite's automatic protection) or 1–100 %; 0 raises ValueError, as Kite
    rejects it since April 2026. An order is read at most ``follow_polls`` times (at least 1),
    ``poll_interval`` seconds apart, before what is still open is cancelled.

    Token expiry: the session calls its ``on_token_expired(reason)`` hook (one given here replaces the
    session's; bootstrap wires it to halt the day's entries with an ERROR log). An entry is then refused
    (OrderRejected, a recorded rejection); an exit raises TokenExpired (a BrokerUnavailable), so it is
    delivered again and goes through as soon as a new token is stored.
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
    ) -> None:
        self.session = session
        self.clock = clock
        self.market_protection = check_market_protection(market_protection)
        self.follow_polls = max(1, follow_polls)
        self.poll_interval = poll_interval
        self.sleep = sleep
        if on_token_expired is not None:
            session.on_token_expired = on_token_expired

    # ------------------------------------------------------------------ the Broker port
    def place(self, intent: OrderIntent) -> BrokerOrder:
        """Place the intent as a MARKET DAY order (its exchange, product and tag, the configured market
        protection) and follow its order_history to the final state.

        An order still open after ``follow_polls`` reads is cancelled (the rest of a market order the book
        could not fill within its protection band is not left working), and the result is:

        - everything filled → status COMPLETE;
        - part filled, the rest cancelled → CANCELLED with ``filled_qty < intent.qty``: the executor books
          what was filled, and the smaller position or the residue is closed later like any position;
        - nothing filled → REJECTED with the broker's reason, so the executor records a rejection.

        A transient failure (one that may have reached Kite, unlike a 429) is retried only after looking
        for the tag: an order found is adopted instead of placing another, and the result is marked
        ``ambiguous`` (a request held in the network may still arrive; the executor looks the tag up again).

        Raises OrderRejected for a non-MARKET intent, a refusal by Kite, or an entry placed while the token
        has expired; TokenExpired for such an exit; BrokerUnavailable when Kite stays unreachable or the
        order does not end after the cancel.
        """
        if intent.order_type != "MARKET":
            raise OrderRejected(f"TRON sends MARKET orders only, got {intent.order_type}")
        params: dict[str, Any] = {
            "variety": VARIETY,
            "exchange": intent.exchange,
            "tradingsymbol": intent.symbol,
            "transaction_type": intent.side.value,
            "quantity": intent.qty,
            "product": intent.product,
            "order_type": "MARKET",
            "validity": "DAY",
            "market_protection": self.market_protection,
            "tag": intent.tag,
        }

        unknown = False  # a try failed in a way that may have reached Kite (not a 429)

        def already_placed(e: BaseException) -> str | None:
            nonlocal unknown
            if classify(e) is ErrorKind.RATE_LIMITED:
                return None  # refused before it reached the order book: safe to send again
            unknown = True
            found = self._order_with_tag(intent.day, intent.tag)
            return None if found is None else str(found["order_id"])

        try:
            order_id = self.session.call(
                "orders", "place_order", lambda c: c.place_order(**params), before_retry=already_placed
            )
        except TokenExpired as e:
            return self._token_expired(intent, str(e))
        order = self._follow(str(order_id), intent.tag, intent.qty)
        # A request that timed out may still arrive after the retry that replaced it: the executor has the
        # tag looked up again (services/duplicates.py).
        return replace(order, ambiguous=unknown)

    def find_by_tag(self, day: date, tag: str) -> BrokerOrder | None:
        """The day's order carrying the tag, followed to its end as :meth:`place` does, or None.

        Recovery after a crash: a delivery adopts the order instead of placing another. If Kite holds two,
        the first placed is adopted and an ERROR is logged.
        """
        found = self._order_with_tag(day, tag)
        if found is None:
            return None
        return self._follow(str(found["order_id"]), tag, int(found.get("quantity") or 0))

    def orders_with_tag(self, day: date, tag: str) -> list[BrokerOrder]:
        """Every order of the day carrying the tag, as Kite reports it now (not followed; a CANCELLED order
        stays CANCELLED even with nothing filled)."""
        return [
            self._broker_order(o, tag, [o], cancelled_is_rejected=False)
            for o in self._orders_with_tag(day, tag)
        ]

    def preflight(self) -> str | None:
        """None if the Kite session works (a `profile` call), else why not."""
        return self.session.preflight()

    # ------------------------------------------------------------------ more of Kite
    def order_status(self, order_id: str) -> BrokerOrder:
        """The order's latest state from its history, without following or cancelling it."""
        history = self._history(order_id)
        last = history[-1]
        return self._broker_order(last, str(last.get("tag") or ""), history)

    def modify(
        self,
        order_id: str,
        quantity: int | None = None,
        price: Decimal | None = None,
        order_type: str | None = None,
        trigger_price: Decimal | None = None,
    ) -> str:
        """Modify a working order (only the fields given); returns the order id Kite answers with. A change
        to MARKET or SL-M sends the configured market protection."""
        kw: dict[str, Any] = {
            "quantity": quantity,
            "price": None if price is None else float(price),
            "order_type": order_type,
            "trigger_price": None if trigger_price is None else float(trigger_price),
        }
        if order_type in ("MARKET", "SL-M"):
            kw["market_protection"] = self.market_protection
        return str(
            self.session.call("orders", "modify_order", lambda c: c.modify_order(VARIETY, order_id, **kw))
        )

    def cancel(self, order_id: str) -> str:
        """Cancel a working order; returns the order id. OrderRejected if Kite refuses (already ended)."""
        return str(self.session.call("orders", "cancel_order", lambda c: c.cancel_order(VARIETY, order_id)))

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
    def _orders_with_tag(self, day: date, tag: str) -> list[dict[str, Any]]:
        matches = []
        for o in self.orders():
            tags = o.get("tags") or []
            if o.get("tag") != tag and tag not in tags:
                continue
            ts = as_ist(o.get("order_timestamp"))
            if ts is not None and ts.date() != day:
                continue
            matches.append(o)
        return matches

    def _order_with_tag(self, day: date, tag: str) -> dict[str, Any] | None:
        """The day's order carrying the tag (the first placed, if Kite somehow holds two)."""
        matches = self._orders_with_tag(day, tag)
        if len(matches) > 1:
            log.error(
                f"{len(matches)} Kite orders carry tag {tag}: adopting the first",
                extra={"component": "kite", "correlation_id": tag},
            )
        return matches[0] if matches else None

    def _history(self, order_id: str) -> list[dict[str, Any]]:
        history = self.session.call("other", "order_history", lambda c: c.order_history(order_id))
        if not history:
            raise BrokerUnavailable(f"Kite has no history for order {order_id} yet")
        return list(history)

    def _follow(self, order_id: str, tag: str, qty: int) -> BrokerOrder:
        """Read the order until it ends. One still OPEN (a protected market order partly filled) after the
        bound has the rest cancelled; Kite cancels asynchronously (CANCEL PENDING), so the order is read again
        until it ends. One whose end is still not known (still passing Kite's OMS, or the cancel pending) is a
        BrokerUnavailable: its outcome is read again later, by its tag."""
        history = self._read_until_ended(order_id)
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
            history = self._read_until_ended(order_id)
        if history[-1].get("status") not in TERMINAL:
            raise BrokerUnavailable(
                f"order {order_id} is still {history[-1].get('status')}: its outcome is read again by its tag"
            )
        return self._broker_order(history[-1], tag, history)

    def _read_until_ended(self, order_id: str) -> list[dict[str, Any]]:
        """The order's history, read up to `follow_polls` times until its last status is terminal."""
        history = self._history(order_id)
        for _ in range(self.follow_polls - 1):
            if history[-1].get("status") in TERMINAL:
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
