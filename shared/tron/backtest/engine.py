"""The intraday backtester: every session replayed snapshot by snapshot through the live decision.

:func:`run_intraday` runs a plan over sessions in the order of a paper day, calling the live ``decide()``,
``Book`` and square-off exits, so strategy, sizing, risk governor and exits are the live ones. A plan of
the options asset with a multi-leg structure (``AssetPlan.structure``) trades it as the live tick does
(tron.domain.structure_decide); :func:`structure_report` gives each day's structures with their legs.
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np

from tron.backtest.data import Session
from tron.backtest.fills import check_model, quote_price, slipped
from tron.backtest.replay import Member, SideBySide
from tron.backtest.result import BacktestResult, PriceSeries, Trade
from tron.domain import report
from tron.domain.book import Book
from tron.domain.charges import fill_charges
from tron.domain.context import Pending, TickContext
from tron.domain.contracts import ContractRules
from tron.domain.decide import decide, exits_for
from tron.domain.live import Guardrails
from tron.domain.models import Asset, Candle, Instrument, OrderIntent, Purpose, RestingStop, Snapshot
from tron.domain.money import ZERO, dec
from tron.domain.order_rules import MAX_MODIFICATIONS
from tron.domain.plan import AssetPlan
from tron.domain.protect import crossed, protect_intent
from tron.domain.session import SessionState
from tron.domain.stop_fill import StopOrder, StopSlippage, first_fill, half_spread, reaches
from tron.domain.strategies import new_session, opening_range_minutes, session_needs
from tron.domain.structures import StructureSpec

MINUTE = timedelta(minutes=1)
EQUITY_SQUARE_OFF = (time(15, 10), time(15, 12), time(15, 14))  # square-off-stocks in tron/data/jobs.yaml
FNO_SQUARE_OFF = (time(15, 15), time(15, 17), time(15, 19))  # square-off-fno-futures and -options
SQUARE_OFF = {Asset.STOCKS: EQUITY_SQUARE_OFF, Asset.FUTURES: FNO_SQUARE_OFF, Asset.OPTIONS: FNO_SQUARE_OFF}
SQUARE_OFF_REASON = "scheduled square-off"  # as tron.services.square_off
END_OF_DATA = "end of session data"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IntradayConfig:
    """How to backtest: the plan (its asset, strategies or multi-leg structure, and risk limits), the fill
    model (tron.backtest.fills), slippage in basis points, whether Zerodha charges apply, and the square-off
    stages (default: the plan's asset's square-off in tron/data/jobs.yaml, :data:`SQUARE_OFF`). An unknown
    fill model, a negative slippage or a structure that does not parse raises ValueError."""

    plan: AssetPlan
    fill: str = "next-open"
    slippage_bps: float = 0.0
    charges: bool = True
    square_off: tuple[time, ...] | None = None  # None: the asset's scheduled stages
    store_rounding: bool = False  # round-trip the session state through its stored form every tick
    # (SessionState.to_doc / from_doc), as the live tick does: bit-for-bit paper replays
    resting_stops: bool = True  # each position's stop rests at the broker from its entry's fill, worked
    # against the session's candles by tron.domain.stop_fill (as paper and the Kite simulator work it)
    stop_order: str = "SL-M"  # stocks and futures; options rest an SL
    stop_slippage: StopSlippage = field(default_factory=StopSlippage)
    guardrails: Guardrails | None = None  # the configured caps entries are sized under, as the live tick's

    def __post_init__(self) -> None:
        check_model(self.fill)
        if self.slippage_bps < 0:
            raise ValueError(f"slippage must be ≥ 0 bps, got {self.slippage_bps}")
        self.structure()  # a spec that does not parse is refused before any session runs

    @property
    def stages(self) -> tuple[time, ...]:
        """The square-off stages: ``square_off``, else the plan's asset's."""
        return self.square_off if self.square_off is not None else SQUARE_OFF[self.plan.asset]

    def structure(self) -> StructureSpec | None:
        """The plan's multi-leg structure, parsed as the live tick parses it (None: the strategies trade)."""
        return self.plan.structure_spec()


@dataclass
class _Order:
    intent: OrderIntent
    k: int  # the snapshot it was decided on


@dataclass
class SessionRecord:
    """One session's outcome: its day, its book's gross and net P&L and charges, its round trips, the
    slice of the run's fills it made (``fills[start:end]``), the entries the governor refused (time, symbol,
    reason), the day's halt and, for a structure, its state at the end of the day
    (tron.domain.structure_decide)."""

    day: date
    gross: Decimal
    charges: Decimal
    net: Decimal
    trades: int
    wins: int
    fills: tuple[int, int]
    refused: list[dict[str, str]] = field(default_factory=list)
    structures: list[dict[str, Any]] = field(default_factory=list)
    halted: str | None = None


@dataclass
class IntradayResult(BacktestResult):
    """An intraday backtest: the :class:`BacktestResult` plus one :class:`SessionRecord` per session and the
    structure spec the plan traded, if any."""

    sessions: list[SessionRecord] = field(default_factory=list)
    structure: dict[str, Any] | None = None


@dataclass
class _Run:
    cfg: IntradayConfig
    capital: Decimal
    spec: StructureSpec | None = None
    contract: ContractRules = field(default_factory=ContractRules)
    sessions: list[SessionRecord] = field(default_factory=list)
    carried: Decimal = ZERO  # net P&L of the finished sessions
    times: list[datetime] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    exposed: list[bool] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    intents: list[OrderIntent] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    prices: dict[str, tuple[array[int], array[float]]] = field(default_factory=dict)  # compact: a year of
    # fifty symbols is 4.7 million (bar, close) pairs
    refusals: int = 0


class _Day:
    """One session: its book, state, pending intents and the orders waiting for a fill."""

    def __init__(
        self, run: _Run, sess: Session, instruments: dict[str, Instrument], state: SessionState
    ) -> None:
        self.run, self.sess, self.cfg = run, sess, run.cfg
        self.asset = self.cfg.plan.asset
        self.instruments = instruments
        self.structures: list[dict[str, Any]] = []  # the day's structures (TickContext.structures)
        self.refused: list[dict[str, str]] = []
        self.state = state
        self.book = Book()
        self.pending: dict[str, Pending] = {}
        self.trail: dict[str, float] = {}
        self.waiting: list[_Order] = []
        self.day_halted: str | None = None
        self.squaring = False
        self.stages_done: set[time] = set()
        self.open_trades: dict[str, Trade] = {}
        self.filled_now = False
        self.protects: dict[str, OrderIntent] = {}  # symbol → the protect intent of its resting stop
        self.looked_from: dict[str, datetime] = {}  # symbol → candles from here on are still to be worked
        # symbol → its candles and their start times (None: not in order), read when first needed
        self.candle_index: dict[str, tuple[list[Candle], list[datetime] | None]] = {}
        # without minute candles (a replay recorded before they were) a stop cannot rest: TRON checks it
        self.resting = self.cfg.resting_stops and bool(sess.candles)

    @property
    def halted(self) -> str | None:
        """As tron.services.tick_state.halted_reason: the day's halt, else the square-off."""
        return self.day_halted or (f"{self.asset} squared off" if self.squaring else None)

    # ------------------------------------------------------------------ fills
    def _execute(self, order: _Order, raw: float, at: datetime) -> None:
        it = order.intent
        if it.purpose.opens and self.halted:
            self.book.record_rejection(it.intent_id)
            self.pending.pop(it.intent_id, None)
            return
        self._book_fill(it, slipped(raw, it.side, self.cfg.slippage_bps, it.tick_size), at)
        held = self.book.positions.get(it.symbol)
        if held is None:
            return
        if not it.purpose.opens:
            held.protect = None  # an exit turned the resting stop into itself; what is left is unprotected
        elif self.resting and (p := protect_intent(it, held, at, self.cfg.stop_order)) is not None:
            trigger, qty = float(p.trigger or 0), p.qty
            held.protect = RestingStop(
                p.intent_id, p.intent_id, p.order_type, trigger, qty, at.isoformat(), p.limit
            )
            self.protects[it.symbol] = p
            self.looked_from[it.symbol] = at
            self.run.intents.append(p)

    def _book_fill(self, it: OrderIntent, price: Decimal, at: datetime, by_stop: bool = False) -> None:
        charges = self._charges(it, price)  # (a stop fills its whole quantity: the protect intent's is the
        # position's)
        before = self.book.positions.get(it.symbol)
        prev_qty = before.qty if before else 0
        qty = min(it.qty, abs(prev_qty)) if before is not None and it.purpose is Purpose.PROTECT else it.qty
        bar = len(self.run.times)
        realized = self.book.apply_fill(it, qty, price, charges, at.isoformat())
        self.pending.pop(it.intent_id, None)
        self.filled_now = True
        self.run.fills.append(
            {
                "intent_id": it.intent_id,
                "symbol": it.symbol,
                "side": it.side.value,
                "qty": qty,
                "purpose": it.purpose.value,
                "price": str(price),
                "at": at.isoformat(),
                "bar": bar,
                "charges": str(charges),
                "realized": str(realized),
                "reason": it.reason,
                "by_stop": by_stop,  # the resting stop filled (under its protect intent, or an exit's)
            }
        )
        after = self.book.positions.get(it.symbol)
        if prev_qty == 0 and after is not None:
            self.open_trades[it.symbol] = Trade(
                it.symbol, "long" if after.qty > 0 else "short", abs(after.qty), at, price, bar,
                strategy=it.strategy,
            )  # fmt: skip
        elif after is None and before is not None and it.symbol in self.open_trades:
            t = self.open_trades.pop(it.symbol)
            t.exit_time, t.exit_price, t.exit_bar = at, price, bar
            t.pnl, t.charges, t.exit_reason = before.gross - before.charges, before.charges, it.reason
            self.run.trades.append(t)

    def _charges(self, it: OrderIntent, price: Decimal) -> Decimal:
        """What the broker charges for the order filled at ``price``: each of its slices an order of its own
        with its own brokerage, when it is above its underlying's freeze quantity (``cfg.guardrails``), as the
        executor books a fill sent in slices."""
        if not self.cfg.charges:
            return ZERO
        parts = self.cfg.guardrails.slices(it) if self.cfg.guardrails is not None else [it.qty]
        return fill_charges(it.segment, it.side, [(q, price) for q in parts], it.day).total

    def _fill_due(self, k: int) -> None:
        """Fill the orders decided before snapshot k that the model fills by now."""
        snaps, keep = self.sess.snapshots, []
        for order in self.waiting:
            it, d = order.intent, order.k
            if it.purpose is Purpose.TRAIL:
                self._trail(it, k)
                continue
            fills_at = snaps[d].ts if self.cfg.fill == "next-open" else None
            if not it.purpose.opens and self._stop_filled_first(it, k, fills_at):
                continue
            if self.cfg.fill == "next-open":
                opens = self.sess.next_open[d] if self.sess.next_open else {}
                q = snaps[k].quotes.get(it.symbol)
                raw = opens.get(it.symbol, q.last if q else None)
                if raw is None:
                    keep.append(order)
                    continue
                self._execute(order, raw, snaps[d].ts)
            else:  # next-quote (close orders never wait)
                q = snaps[k].quotes.get(it.symbol)
                if q is None:
                    self.book.record_rejection(it.intent_id)  # the paper broker: "no quote for …"
                    self.pending.pop(it.intent_id, None)
                    continue
                if q.ts <= it.decided_at:  # the paper broker: no snapshot after the decision yet
                    keep.append(order)
                    continue
                self._execute(order, quote_price(q, it.side), q.ts)
        self.waiting = keep

    # ------------------------------------------------------------------ resting stops
    def _work_stop(
        self, symbol: str, k: int, until: datetime | None = None
    ) -> tuple[Decimal, datetime] | None:
        """Work the symbol's resting stop against the candles completed by snapshot k (as the paper broker
        does each time it is asked), or only those starting before ``until``: its fill (price, the end of
        the candle that filled it), or None."""
        pos = self.book.positions.get(symbol)
        rest = pos.protect if pos is not None else None
        if rest is None:
            return None
        now = min(self.sess.nows[k], until) if until is not None else self.sess.nows[k]
        since = self.looked_from.get(symbol, now)
        candles = self._candles(symbol, since, now)
        if not candles:
            return None
        p = self.protects[symbol]
        if not rest.triggered and not reaches(p.side.value, rest.trigger, candles):
            self.looked_from[symbol] = now  # as below, when first_fill finds nothing (the usual minute)
            return None
        q = self.sess.snapshots[k].quotes.get(symbol)
        stop = StopOrder(
            p.side.value, rest.order_type, dec(rest.trigger), None if rest.limit is None else dec(rest.limit),
            is_option=p.segment == "options",
        )  # fmt: skip
        spread = half_spread(q.bid, q.ask) if q is not None else Decimal(0)
        outcome, candle = first_fill(
            stop, candles, p.tick_size, spread, self.cfg.stop_slippage, rest.triggered
        )
        self.looked_from[symbol] = now  # every candle starting before now has been worked
        rest.triggered = outcome.triggered
        if not outcome.filled or candle is None or outcome.price is None:
            return None
        return outcome.price, min(candle.start + MINUTE, now)

    def _candles(self, symbol: str, since: datetime, now: datetime) -> list[Candle]:
        """The symbol's candles starting at ``since`` or later and before ``now``, in order (found by
        bisection in the day's candles, which come oldest first; a list out of order is scanned)."""
        known = self.candle_index.get(symbol)
        if known is None:
            candles = self.sess.candles.get(symbol, [])
            times = [c.start for c in candles]
            in_order = all(a <= b for a, b in pairwise(times))
            known = self.candle_index[symbol] = (candles, times if in_order else None)
        day, starts = known
        if starts is None:
            return [c for c in day if since <= c.start < now]
        return day[bisect_left(starts, since) : bisect_left(starts, now)]

    def _sync_stops(self, k: int) -> None:
        """The tick's look at the resting stops: each that filled is booked under its protect intent."""
        for symbol in sorted(self.book.positions):
            if (fill := self._work_stop(symbol, k)) is not None:
                self._book_fill(self.protects[symbol], *fill, by_stop=True)

    def _stop_filled_first(self, it: OrderIntent, k: int, fills_at: datetime | None) -> bool:
        """An exit turns the resting stop into itself; if the stop filled in a candle before the exit's
        fill (``fills_at``: the next open's time; None, the snapshot k's quote), that fill is the exit's."""
        fill = self._work_stop(it.symbol, k, fills_at)
        if fill is None:
            return False
        self._book_fill(it, *fill, by_stop=True)
        return True

    def _trail(self, it: OrderIntent, k: int) -> None:
        """Move the resting stop as the executor does (after working it: a stop that filled is booked and
        the trail refused, as is one the last price is already through, or past 25 modifications)."""
        self.pending.pop(it.intent_id, None)
        pos = self.book.positions.get(it.symbol)
        rest = pos.protect if pos is not None else None
        if rest is None or (rest.trigger == it.trigger and rest.limit == it.limit):
            self.book.processed.append(it.intent_id)
            return
        if rest.modifications >= MAX_MODIFICATIONS:
            self.book.record_rejection(it.intent_id)
            return
        if (fill := self._work_stop(it.symbol, k)) is not None:
            self._book_fill(self.protects[it.symbol], *fill, by_stop=True)
            self.book.record_rejection(it.intent_id)
            return
        q = self.sess.snapshots[k].quotes.get(it.symbol)
        if it.trigger is None or (q is not None and crossed(it.side, it.trigger, q.last)):
            self.book.record_rejection(it.intent_id)
            return
        rest.trigger, rest.limit, rest.modifications = it.trigger, it.limit, rest.modifications + 1
        self.book.processed.append(it.intent_id)

    def _fill_at(self, snap: Snapshot, orders: list[_Order]) -> None:
        """Fill orders against this snapshot (the close model, and what is left at the end of the data)."""
        for order in orders:
            q = snap.quotes.get(order.intent.symbol)
            if q is None:
                self.book.record_rejection(order.intent.intent_id)
                self.pending.pop(order.intent.intent_id, None)
                continue
            raw = quote_price(q, order.intent.side) if self.cfg.fill == "next-quote" else q.last
            self._execute(order, raw, snap.ts)

    # ------------------------------------------------------------------ decisions
    def _claim(self, intents: list[OrderIntent], k: int) -> None:
        for it in intents:
            self.pending.setdefault(it.intent_id, Pending(it.intent_id, it.symbol, it.purpose))
            self.waiting.append(_Order(it, k))
        self.run.intents.extend(intents)

    def _context(
        self, now: datetime, plan: AssetPlan | None, halted: str | None, snap: Snapshot | None
    ) -> TickContext:
        if self.trail:
            self.trail = {s: v for s, v in self.trail.items() if s in self.book.positions}
        if self.pending:
            settled = set(self.book.processed)
            self.pending = {k: v for k, v in self.pending.items() if k not in settled}
        ticking = plan is not None and self.run.spec is not None  # as tron.services.tick._decide sets them
        return TickContext(
            asset=self.asset,
            day=now.date(),
            now=now,
            plan=plan,
            halted=halted,
            instruments=self.instruments,
            state=self.state,
            book=self.book,
            pending=self.pending,
            snapshot=snap,
            trail=self.trail,
            charged=self.cfg.charges,
            underlying=self.sess.roles.get("underlying"),
            spot_symbol=self.sess.roles.get("spot"),
            contract=self.run.contract,
            guardrails=self.cfg.guardrails if plan is not None else None,
            structure=self.run.spec if ticking else None,
            structures=self.structures if ticking else [],
        )

    def _square_off(self, now: datetime, k: int, reason: str) -> None:
        ctx = self._context(now, None, reason, None)
        intents = exits_for(ctx, {}, Purpose.SQUARE_OFF, only=set(self.book.positions), reason=reason)
        self._claim(intents, k)
        self.squaring = True

    def step(self, k: int) -> None:
        """Snapshot k: fill what is due, run decide(), claim its intents, start any square-off stage now due,
        fill at this snapshot under the close model, and record the equity."""
        snap, now = self.sess.snapshots[k], self.sess.nows[k]
        had = bool(self.book.positions)
        self.filled_now = False
        self._fill_due(k)
        self._sync_stops(k)
        if self.cfg.store_rounding:
            self.state = SessionState.from_doc(self.state.to_doc())
            if self.structures:  # stored as JSON in the asset's state document
                self.structures[:] = json.loads(json.dumps(self.structures))
        ctx = self._context(now, self.cfg.plan, self.halted, snap)
        decision = decide(ctx)
        self.trail = ctx.trail
        self._claim(decision.intents, k)
        at = None
        for e in decision.events:
            if e["event"] == "entry_refused":
                self.run.refusals += 1
                at = at or now.isoformat()  # one string for the minute's refusals (a year has 300,000)
                self.refused.append({"at": at, "symbol": e["symbol"], "reason": e["reason"]})
        if decision.halt and not self.day_halted:
            self.day_halted = decision.halt
        for stage in self.cfg.stages:
            if stage not in self.stages_done and now.time() >= stage:
                self.stages_done.add(stage)
                self._square_off(now, k, SQUARE_OFF_REASON)
        if self.cfg.fill == "close":
            orders, self.waiting = self.waiting, []
            self._fill_at(snap, orders)
        self._record(snap, had)

    def finish(self) -> None:
        """The data ended: fill what waits and close what is open at the last quote."""
        k = len(self.sess.snapshots) - 1
        snap = self.sess.snapshots[k]
        had = bool(self.book.positions)
        self.filled_now = False
        orders, self.waiting = self.waiting, []
        self._fill_at(snap, orders)
        if self.book.positions:
            ctx = self._context(self.sess.nows[k], None, END_OF_DATA, None)
            intents = exits_for(
                ctx, {}, Purpose.SQUARE_OFF, only=set(self.book.positions), reason=END_OF_DATA
            )
            self._claim(intents, k)
            orders, self.waiting = self.waiting, []
            self._fill_at(snap, orders)
        if self.filled_now:  # restate the session's last bar with these fills
            self.run.times.pop()
            self.run.equity.pop()
            was = self.run.exposed.pop()
            self._record(snap, had or was)
        self.run.carried += self.book.net

    def _record(self, snap: Snapshot, had: bool) -> None:
        quotes = snap.quotes
        marks = {s: quotes[s].last for s in self.book.positions if s in quotes}  # what unrealized() reads
        eq = self.run.capital + self.run.carried + self.book.net + self.book.unrealized(marks)
        self.run.times.append(snap.ts)
        self.run.equity.append(float(eq))
        self.run.exposed.append(had or self.filled_now or bool(self.book.positions))


def default_instruments(symbols: Sequence[str], asset: Asset = Asset.STOCKS) -> dict[str, Instrument]:
    """NSE cash instruments as the simulator lists them: lot 1, tick ₹0.05, equity intraday charges."""
    return {s: Instrument(s, "NSE", asset) for s in symbols}


def run_intraday(
    sessions: Iterable[Session],
    cfg: IntradayConfig,
    instruments: dict[str, Instrument] | None = None,
    progress: Progress | None = None,
) -> IntradayResult:
    """Backtest the plan over the sessions; ``progress(done, total)`` is called after each session.

    Per snapshot, in the order of a paper day (tron.runday.embedded: each minute the executor runs before
    the tick):

    1. orders decided on the previous snapshot fill (the fill model: tron.backtest.fills) and are booked in
       a ``Book`` exactly as the executor books them (``Book.apply_fill`` with ``fill_charges``); an entry
       that arrives after the day was halted or squared off is rejected, as the executor rejects it;
    2. the tick: ``decide()`` with the plan (one or more registry strategies, or a multi-leg structure, and
       the risk limits), the session state, the book, the pending intents and the trailing-stop memory —
       the same function the live tick calls; a structure's state (``TickContext.structures``) is kept from
       snapshot to snapshot of the session, as the tick keeps it in the asset's state document;
    3. the square-off at its scheduled stages (``cfg.stages``), after the tick of that minute, with
       ``exits_for`` as tron.services.square_off calls it; entries stop from then on.

    Each session starts flat with a fresh book, session state and structure state (the risk limits are
    daily, as live). Orders still unfilled when a session's data ends fill at its last quote, and positions
    still open then (data ending before the square-off) are closed there too, with the reason "end of
    session data".

    Equity = capital + the net P&L (realised − charges) of earlier sessions + today's net + today's
    unrealised P&L at each snapshot's last price. Sizing uses the configured capital (no compounding), as
    live. Instruments: ``instruments``, else the session's own (a simulated day's F&O contracts, with the
    roles of the future and the index), else :func:`default_instruments` of its symbols. The price series
    kept for the report are every symbol's, or for a session with its own instruments the index's, the
    future's and the traded symbols'.

    ``sessions`` may be built as they are iterated (tron.backtest.generated, data.sessions_from_bars); they
    are read in batches of up to BATCH_COLUMNS symbols, each batch's session states worked out ahead side by
    side (tron.backtest.replay: the same states and signals, bit for bit); ``total`` for the progress is
    their ``len()`` when they have one. Raises ValueError without sessions, or for the next-open fill on
    sessions without bars (recorded snapshots fill with next-quote or close).
    """
    if isinstance(sessions, list) and cfg.fill == "next-open" and any(s.next_open is None for s in sessions):
        raise ValueError(NEEDS_BARS)  # before any session runs (sessions made as they are read: when read)
    spec = cfg.structure()
    run = _Run(cfg, cfg.plan.risk.capital, spec, ContractRules.from_doc(cfg.plan.contract))
    total = len(sessions) if isinstance(sessions, Sized) else 0
    i = 0
    for batch in _batches(sessions):
        days = []
        for sess in batch:
            if cfg.fill == "next-open" and sess.next_open is None:
                raise ValueError(NEEDS_BARS)
            days.append(
                (sess, instruments or sess.instruments or default_instruments(sess.symbols, cfg.plan.asset))
            )
        states = _states(cfg, days)
        for (sess, insts), state in zip(days, states, strict=True):
            i += 1
            _run_session(run, sess, insts, state)
            if progress:
                progress(i, max(total, i))
    if i == 0:
        raise ValueError("no sessions to backtest")
    final = run.capital + run.carried
    return IntradayResult(
        mode="intraday",
        strategy=spec.name if spec is not None else "+".join(c.name for c in cfg.plan.strategies),
        params={k: v for c in cfg.plan.strategies for k, v in c.params.items()},
        capital=run.capital,
        times=run.times,
        equity=np.array(run.equity, dtype=np.float64),
        exposed=np.array(run.exposed, dtype=bool),
        final_equity=final,
        trades=run.trades,
        intents=run.intents,
        fills=run.fills,
        prices=[PriceSeries(s, np.array(b), np.array(c)) for s, (b, c) in run.prices.items()],
        refusals=run.refusals,
        settings={
            "fill": cfg.fill,
            "slippage_bps": cfg.slippage_bps,
            "charges": "zerodha-intraday" if cfg.charges else "none",
            "square_off": [t.strftime("%H:%M") for t in cfg.stages],
            "risk": cfg.plan.risk.to_doc(),
        },
        sessions=run.sessions,
        structure=cfg.plan.structure,
    )


NEEDS_BARS = "the next-open fill needs bars; recorded snapshots fill with next-quote or close"


BATCH_COLUMNS = 512  # sessions folded side by side (tron.backtest.replay) up to this many symbols in all


def _batches(sessions: Iterable[Session]) -> Iterator[list[Session]]:
    """The sessions in batches of up to BATCH_COLUMNS symbols in all (at least one session each)."""
    batch: list[Session] = []
    width = 0
    for sess in sessions:
        batch.append(sess)
        width += len(sess.symbols)
        if width >= BATCH_COLUMNS:
            yield batch
            batch, width = [], 0
    if batch:
        yield batch


def _states(cfg: IntradayConfig, days: list[tuple[Session, dict[str, Instrument]]]) -> list[SessionState]:
    """Each session's state before its first snapshot, keeping what the planned strategies read: folded
    ahead side by side with the strategies' signals (tron.backtest.replay), except when each tick
    round-trips it through its stored form. (The live tick keeps every default indicator, for a plan that
    may change during the day; the values the strategies read are the same either way.)"""
    plan = cfg.plan
    if cfg.store_rounding:
        return [new_session(list(insts), plan.strategies) for _, insts in days]
    choices = plan.strategies if plan.enabled and plan.structure is None else None  # else never asked
    batch = SideBySide(
        [Member(list(insts), sess.snapshots) for sess, insts in days],
        opening_range_minutes(plan.strategies),
        session_needs(plan.strategies),
        choices,
    )
    return [batch.state(i, list(insts)) for i, (_, insts) in enumerate(days)]


def _run_session(run: _Run, sess: Session, instruments: dict[str, Instrument], state: SessionState) -> None:
    day = _Day(run, sess, instruments, state)
    start, first_fill = len(run.times), len(run.fills)
    for k in range(len(sess.snapshots)):
        day.step(k)
    day.finish()
    book = day.book
    run.sessions.append(
        SessionRecord(
            sess.day,
            book.realized,
            book.charges,
            book.net,
            book.trades,
            book.wins,
            (first_fill, len(run.fills)),
            day.refused,
            day.structures,
            day.day_halted,
        )
    )
    kept: set[str] | None = None
    if sess.instruments:  # a chain of options: the index, the future and what was traded
        kept = set(sess.roles.values()) | {f["symbol"] for f in run.fills[first_fill:]}
    snaps = sess.snapshots
    order: dict[str, Any] = {}
    for snap in snaps:
        order.update(snap.quotes)  # the symbols in the order they first appear
    for s in order:
        if kept is not None and s not in kept:
            continue
        bars, closes = run.prices.setdefault(s, (array("q"), array("d")))
        quotes = [snap.quotes.get(s) for snap in snaps]
        bars.extend(start + k for k, q in enumerate(quotes) if q is not None)
        closes.extend(q.last for q in quotes if q is not None)


# ---------------------------------------------------------------------------------------------- structures
def structure_report(result: IntradayResult) -> dict[str, Any]:
    """A structure backtest day by day, JSON-ready.

    ``days``: per session its date, gross and net P&L and charges, its structures as the end-of-day report
    shows a paper day's (tron.domain.report.structures: template, entry and exit time, exit reason, net P&L,
    margin, worst case, greeks and each leg's contract, quantity, entry and exit; without the minute MTM
    path) and, when none entered, why the governor refused it (each distinct reason once). ``totals``: the
    days, those traded, refused and won (net P&L > 0), the net and gross P&L and charges, the best and worst
    day, the exit reasons counted, and the maximum drawdown in rupees from the running peak of the equity
    curve marked every minute and of the day-end equity (the capital being the first peak)."""
    intents = {it.intent_id: it for it in result.intents}
    days: list[dict[str, Any]] = []
    for rec in result.sessions:
        docs = [_fill_doc(f, intents[f["intent_id"]]) for f in result.fills[rec.fills[0] : rec.fills[1]]]
        structures = [
            {k: v for k, v in st.items() if k != "mtm_path"} for st in report.structures(rec.structures, docs)
        ]
        refused = list(dict.fromkeys(r["reason"] for r in rec.refused)) if not structures else []
        days.append(
            {
                "date": rec.day.isoformat(),
                "gross_pnl": float(rec.gross),
                "charges": float(rec.charges),
                "net_pnl": float(rec.net),
                "structures": structures,
                "refused": refused,
                **({"halted": rec.halted} if rec.halted else {}),
            }
        )
    nets = [float(rec.net) for rec in result.sessions]
    eod = np.concatenate([[0.0], np.cumsum(nets)]) if nets else np.zeros(1)
    curve = np.concatenate([[float(result.capital)], np.asarray(result.equity, dtype=np.float64)])
    reasons: dict[str, int] = {}
    for d in days:
        for st in d["structures"]:
            why = _reason_kind(st["exit_reason"])
            reasons[why] = reasons.get(why, 0) + 1
    traded = [d for d in days if d["structures"]]
    return {
        "template": result.strategy,
        "spec": result.structure,
        "days": days,
        "totals": {
            "days": len(days),
            "traded_days": len(traded),
            "refused_days": sum(1 for d in days if d["refused"]),
            "win_days": sum(1 for n in nets if n > 0),
            "loss_days": sum(1 for n in nets if n < 0),
            "win_rate": round(sum(1 for d in traded if d["net_pnl"] > 0) / len(traded), 6)
            if traded
            else None,
            "net_pnl": round(float(sum(rec.net for rec in result.sessions)), 2),
            "gross_pnl": round(float(sum(rec.gross for rec in result.sessions)), 2),
            "charges": round(float(sum(rec.charges for rec in result.sessions)), 2),
            "best_day": max(nets) if nets else None,
            "worst_day": min(nets) if nets else None,
            "max_drawdown": round(float(np.max(np.maximum.accumulate(curve) - curve)), 2),
            "max_drawdown_eod": round(float(np.max(np.maximum.accumulate(eod) - eod)), 2),
            "exit_reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        },
    }


def _fill_doc(f: dict[str, Any], it: OrderIntent) -> dict[str, Any]:
    """A backtest fill as the intent document the end-of-day report reads (tron.domain.report)."""
    return {
        "intent_id": f["intent_id"],
        "symbol": f["symbol"],
        "side": f["side"],
        "purpose": f["purpose"],
        "strategy": it.strategy,
        "reason": it.reason,
        "trigger": it.trigger,
        "fill": {
            "qty": f["qty"],
            "price": f["price"],
            "at": f["at"],
            "realized": f["realized"],
            "charges": {"total": f["charges"]},
        },
    }


def _reason_kind(why: str | None) -> str:
    """An exit reason without its figures ("MTM stop ₹6000.00 hit (MTM ₹-6012.50)" → "MTM stop hit")."""
    if not why:
        return "open"
    kinds = ("MTM stop", "MTM target", "exit time", "every leg closed", "not entered", "daily loss limit")
    for kind in kinds:
        if kind in why:
            return kind
    return why
