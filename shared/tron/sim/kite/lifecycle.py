"""Kite's asynchronous order lifecycle: an order moves through its statuses after the request that placed,
modified or cancelled it has been answered, over wall time, as it passes Kite's OMS, RMS and the exchange.

    place:  PUT ORDER REQ RECEIVED (answered) → VALIDATION PENDING (RMS) → OPEN PENDING → OPEN / TRIGGER PENDING
    modify: MODIFY VALIDATION PENDING (answered) → MODIFY PENDING → MODIFIED → OPEN / TRIGGER PENDING
    cancel: CANCEL PENDING (answered) → CANCELLED, unless the order filled in between

Each arrow is one stage of `stage_s` wall seconds, taken lazily when a request arrives. A new order is
missing from GET /orders for its first `visible_after_s`. `synchronous=True` takes every stage inside the
request, for fast replays."""

from __future__ import annotations

import heapq
import itertools
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tron.sim.kite import engine
from tron.sim.kite.exchange import Exchange
from tron.sim.kite.order_book import OrderBook
from tron.sim.kite.order_entry import OrderEntry
from tron.sim.kite.order_params import OrderParams


@dataclass(frozen=True)
class LifecycleSettings:
    """How asynchronous the simulator's orders are (the strict default), or `synchronous` for replays."""

    synchronous: bool = False
    stage_s: float = 0.01  # wall seconds a status stage takes
    visible_after_s: float = 0.02  # a new order is missing from GET /orders this long


@dataclass(order=True)
class _Step:
    due: float
    seq: int
    run: Callable[[], None] = field(compare=False)


class Lifecycle:
    """Places, modifies and cancels orders in stages (see the module docstring). `minute_seen` reports the
    last minute the trading day has walked, so an order that reaches the exchange after later minutes were
    walked meets them too."""

    def __init__(
        self,
        settings: LifecycleSettings,
        entry: OrderEntry,
        exchange: Exchange,
        book: OrderBook,
        minute_seen: Callable[[], int],
        timer: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.entry = entry
        self.exchange = exchange
        self.book = book
        self.minute_seen = minute_seen
        self.timer = timer or _time.monotonic
        self._steps: list[_Step] = []
        self._seq = itertools.count()
        self._received: dict[str, float] = {}  # order id → wall time it was received

    # ------------------------------------------------------------------ the three requests
    def place(self, variety: str, p: OrderParams, now: datetime, at: tuple[date, int]) -> engine.Order:
        """Receive the order (the request's answer carries its id); validation and the exchange follow."""
        if self.settings.synchronous:
            return self.entry.place(variety, p, now, at)
        o = self.entry.receive(variety, p, now)
        self._received[o.order_id] = self.timer()

        def validate() -> None:
            if self.entry.validate(o, now):
                self._after(lambda: self._send(o, now, at))

        self._after(validate)
        return o

    def modify(
        self, o: engine.Order, apply: Callable[[], None], resume: Callable[[], None], now: datetime
    ) -> None:
        """MODIFY VALIDATION PENDING now; the changes (`apply`: MODIFY PENDING → MODIFIED) and the order working
        again (`resume`) follow."""
        o.status = engine.MODIFY_VALIDATION_PENDING
        self.book.record(o, now)
        if self.settings.synchronous:
            apply()
            resume()
            return

        def then() -> None:
            apply()
            self._after(resume)

        self._after(then)

    def cancel(self, o: engine.Order, now: datetime) -> None:
        """CANCEL PENDING now; CANCELLED a stage later if it has not filled meanwhile (the order keeps working
        at the exchange until then: a cancel can lose the race to a fill)."""
        o.cancel_requested = True
        self.book.record(o, now)

        def done() -> None:
            o.cancel_requested = False
            if o.status in engine.TERMINAL:
                return  # it completed while the cancel was pending: Kite keeps the fill
            o.cancelled_quantity = o.quantity - o.filled_quantity
            o.status = engine.CANCELLED
            o.exchange_update_timestamp = now
            self.book.record(o, now)

        if self.settings.synchronous:
            done()
        else:
            self._after(done)

    # ------------------------------------------------------------------ time
    def advance(self) -> None:
        """Take every stage that is due by now (each may schedule the next)."""
        while self._steps and self._steps[0].due <= self.timer():
            heapq.heappop(self._steps).run()

    def visible(self, o: engine.Order) -> bool:
        """Whether GET /orders lists the order yet."""
        received = self._received.get(o.order_id)
        return received is None or self.timer() - received >= self.settings.visible_after_s

    def _after(self, run: Callable[[], Any]) -> None:
        heapq.heappush(self._steps, _Step(self.timer() + self.settings.stage_s, next(self._seq), run))

    def _send(self, o: engine.Order, now: datetime, at: tuple[date, int]) -> None:
        """To the exchange at the minute it was placed in, then through the minutes walked since."""
        self.entry.send(o, now, at)
        d, j = at
        for minute in range(j + 1, self.minute_seen() + 1):
            if o.working and o.last_minute < minute:
                self.exchange.match(o, d, minute, resting=True)
