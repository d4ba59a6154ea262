"""Session states worked out ahead: a batch of sessions folded side by side, then replayed bar by bar.

The live tick folds each snapshot into its :class:`~tron.domain.session.SessionState` as it comes, a few
dozen small numpy operations a minute, and runs the planned strategies on it. A backtest knows every
snapshot in advance and its sessions are independent (each starts from a fresh state), so
:class:`SideBySide` folds a batch of them at once: one wide state whose symbols are every session's symbols
one after another, stepped once per minute of the longest session, the strategies run on it after each
step. The fold and the strategies work symbol by symbol (the same float64 arithmetic on one element or on
thousands; a strategy's once-a-day flags are per symbol), so every session's columns hold, bit for bit,
what its own state would hold, and its signals are the ones its own state would give.

:meth:`SideBySide.state` gives a session a :class:`Replayed` state that ``decide()`` uses as any other:
each ``apply`` hands over the next minute folded ahead, and ``signals_ahead`` the strategies' signals on it.
The signals hold while the strategies are asked every bar, as they were ahead; a day that skips them (a
tick that only flattens, at the loss limit) has them run from there on, on the state's own flags as they
stood when last asked.

A session whose first snapshot has no usable quote (its state would wait for the next one to open) is not
replayed: it gets a plain state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tron.domain import strategies
from tron.domain.models import Snapshot
from tron.domain.session import Bar, SessionState, quote_rows
from tron.domain.strategies import Signal


@dataclass
class Member:
    """One session of a batch: its symbols and its snapshots."""

    symbols: list[str]
    snapshots: Sequence[Snapshot]


class SideBySide:
    """The states of a batch of sessions after each of their snapshots, folded side by side, and the
    signals of ``choices`` (the plan's strategies; None: not run ahead) on each bar."""

    def __init__(
        self, members: Sequence[Member], or_minutes: int, needs: Sequence[str], choices: Sequence[Any] | None
    ) -> None:
        self.or_minutes, self.needs, self.choices = or_minutes, list(needs), choices
        self.times = [[s.ts for s in m.snapshots] for m in members]
        self.columns: list[tuple[int, int] | None] = []  # each member's columns, None: not replayed
        width, rows, owner = 0, [], []
        for i, m in enumerate(members):
            r = quote_rows(m.symbols, [s.usable()[0] for s in m.snapshots], None)
            if not m.snapshots or not m.symbols or np.all(np.isnan(r.last[0])):
                self.columns.append(None)
                continue
            self.columns.append((width, width + len(m.symbols)))
            owner += [(i, s) for s in m.symbols]
            width += len(m.symbols)
            rows.append(r)
        steps = max((len(r.last) for r in rows), default=0)
        quotes = [np.full((steps, width), np.nan) for _ in range(4)]
        fresh = np.zeros((steps, width), dtype=bool)
        for r, cols in zip(rows, [c for c in self.columns if c is not None], strict=True):
            n, (lo, hi) = len(r.last), cols
            for whole, part in zip(quotes, (r.last, r.volume, r.high, r.low), strict=True):
                whole[:n, lo:hi] = part
            fresh[:n, lo:hi] = r.fresh
        state = SessionState.new([str(c) for c in range(width)], or_minutes, needs)
        self.ring = state.ring
        after: list[dict[str, np.ndarray]] = []  # the arrays after each step (the fold never writes in place)
        bars = np.full((5, steps, width), np.nan)  # open, high, low, close, volume
        self.fresh = np.zeros((steps, width), dtype=bool)
        self.signals: list[dict[int, list[Signal]]] = [{} for _ in members]  # member → step → its signals
        self.fired: dict[tuple[str, int], int] = {}  # (flag, column) → the step it was set
        self.flagged: dict[str, int] = {}  # flag → the first step it was kept (possibly with no symbol)
        for k in range(steps):
            at = max(t[k] for t in self.times if k < len(t))  # the latest snapshot folded
            bar = state.fold((quotes[0][k], quotes[1][k], quotes[2][k], quotes[3][k], fresh[k]), at)
            after.append(dict(state.arrays))
            if bar is None:
                continue
            bars[:, k] = (bar.open, bar.high, bar.low, bar.close, bar.volume)
            self.fresh[k] = bar.fresh
            if choices is not None:
                for sig in strategies.raw_signals(choices, state, bar):
                    i, symbol = owner[int(sig.symbol)]
                    self.signals[i].setdefault(k, []).append(replace(sig, symbol=symbol))
                self._note_flags(state.flags, k)
        # a seed sum (key_acc) lives only while its unit warms up and is read by the fold alone
        keys = [key for key in state.arrays if not key.endswith("_acc")]
        self.arrays = {key: np.stack([a[key] for a in after]) for key in keys}
        self.bars = bars
        self.owner = owner

    def _note_flags(self, flags: dict[str, list[str]], k: int) -> None:
        for flag, names in flags.items():
            self.flagged.setdefault(flag, k)
            for name in names:
                self.fired.setdefault((flag, int(name)), k)

    def flags_until(self, i: int, k: int) -> dict[str, list[str]]:
        """Member i's strategy flags as they stood after step k (as its own state would keep them)."""
        lo, hi = self.columns[i] or (0, 0)
        out: dict[str, list[str]] = {f: [] for f, first in self.flagged.items() if first <= k}
        for (flag, col), when in self.fired.items():
            if lo <= col < hi and when <= k:
                out[flag].append(self.owner[col][1])
        return {f: sorted(names) for f, names in out.items()}

    def state(self, i: int, symbols: list[str]) -> SessionState:
        """Member i's state before its first snapshot: a :class:`Replayed` one, or a plain one."""
        if self.columns[i] is None:
            return SessionState.new(symbols, self.or_minutes, self.needs)
        return Replayed(self, i, symbols)


class Replayed(SessionState):
    """A session's state whose minutes were folded ahead (:class:`SideBySide`): ``apply`` moves it to the
    next one. It reads as a plain state does (arrays, ring, indicators, flags once the strategies run on
    it); it cannot keep more indicators than it was folded with, be applied a snapshot out of turn, or be
    stored."""

    def __init__(self, batch: SideBySide, i: int, symbols: list[str]) -> None:
        start = SessionState.new(symbols, batch.or_minutes, batch.needs)
        super().__init__(
            symbols=start.symbols,
            arrays=start.arrays,
            or_minutes=start.or_minutes,
            needs=start.needs,
            rings=start.rings,
        )
        cols = batch.columns[i]
        assert cols is not None
        lo, hi = cols
        self._batch, self._i, self._times = batch, i, batch.times[i]
        self._rows = {key: m[:, lo:hi] for key, m in batch.arrays.items()}
        self._bar = [m[:, lo:hi] for m in batch.bars]
        self._fresh = batch.fresh[:, lo:hi]
        self._asked = 0  # the last bar the strategies' signals were asked for, every bar before it too
        self._ahead = batch.choices is not None  # the signals come from the batch

    # The snapshot last applied, by its index (its time as text only when asked: a backtest never asks).
    _k = -1

    @property
    def last_ts(self) -> str | None:
        return None if self._k < 0 else self._times[self._k].isoformat()

    @last_ts.setter
    def last_ts(self, value: str | None) -> None:
        if value is not None:  # SessionState's constructor sets None; apply moves _k
            raise ValueError("a replayed session moves by apply() alone")

    @property
    def t(self) -> int:
        return self._k

    def require(self, needs: Any) -> None:
        missing = sorted(set(needs) - set(self.needs))
        if missing:
            raise ValueError(
                f"a replayed session keeps only {', '.join(self.needs)}: not {', '.join(missing)}"
            )

    def to_doc(self) -> dict[str, Any]:
        raise ValueError("a replayed session state is not stored (its seed sums live in its batch)")

    def apply(self, snap: Snapshot) -> Bar | None:
        k = self._k + 1
        if k >= len(self._times) or snap.ts != self._times[k]:
            raise ValueError(f"snapshot {k} of the replayed session is not the one of {snap.ts.isoformat()}")
        self._k = k
        self.arrays = {key: m[k] for key, m in self._rows.items()}
        row, rings = k % self.ring, self.rings
        if k == 0:
            last = self.arrays["last"]
            rings["c"][row] = rings["h"][row] = rings["lo"][row] = last
            return None
        o, h, low, c, v = self._bar
        self.bars = k
        rings["c"][row], rings["h"][row], rings["lo"][row] = c[k], h[k], low[k]
        return Bar(o[k], h[k], low[k], c[k], v[k], self._fresh[k])

    def signals_ahead(self, choices: Sequence[Any]) -> list[Signal] | None:
        k, batch = self.bars, self._batch
        if self._ahead and choices is batch.choices and self._asked == k - 1:
            self._asked = k
            return list(batch.signals[self._i].get(k, ()))
        if self._ahead:  # from here on the strategies run on this state, from its flags as they stood
            self._ahead = False
            self.flags = batch.flags_until(self._i, self._asked)
        return None
