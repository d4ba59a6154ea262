"""Sessions folded side by side (tron.backtest.replay) hold, bit for bit, what their own session states hold
after each snapshot, and give the signals the strategies give on those states; a day that stops asking for
the signals (a tick that only flattens) gets them from the strategies again, on the flags it had."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import numpy as np
import pytest

from tests.support.backtest import PLAN, write_sim_csvs
from tron.backtest import data as bd
from tron.backtest.engine import IntradayConfig, run_intraday
from tron.backtest.replay import Member, Replayed, SideBySide
from tron.domain.models import Quote, Snapshot
from tron.domain.plan import StrategyChoice
from tron.domain.session import Bar, SessionState
from tron.domain.strategies import REGISTRY, opening_range_minutes, raw_signals, session_needs

DAYS = (date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20))
EVERY = tuple(StrategyChoice(name, {}) for name in REGISTRY)  # the ten strategies, default parameters


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> list[bd.Session]:
    folder = write_sim_csvs(tmp_path_factory.mktemp("bars"), symbols=6, days=DAYS)
    return list(bd.sessions_from_bars(bd.load(folder)))


def bad_quotes(snaps: list[Snapshot], symbol: str) -> list[Snapshot]:
    """Every 7th snapshot quotes ``symbol`` at a last price of 0 (left out by Snapshot.usable)."""
    return [
        Snapshot(s.ts, {**s.quotes, symbol: replace(s.quotes[symbol], last=0.0)}) if k % 7 == 3 else s
        for k, s in enumerate(snaps)
    ]


def members(sessions: list[bd.Session]) -> list[Member]:
    a, b, c = sessions
    syms = list(a.symbols)
    return [
        Member(syms, a.snapshots),
        Member(syms[2:5], b.snapshots[:200]),  # fewer symbols, a shorter day
        Member(syms, [Snapshot(c.snapshots[0].ts, {}), *c.snapshots[1:]]),  # opens without a quote: plain
        Member(syms[::-1], bad_quotes(c.snapshots, syms[1])),  # another order, bad quotes
    ]


def same(x: np.ndarray, y: np.ndarray) -> bool:
    return x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")


def same_bar(x: Bar | None, y: Bar | None) -> bool:
    if x is None or y is None:
        return x is y
    return all(
        same(getattr(x, f), getattr(y, f)) for f in ("open", "high", "low", "close", "volume", "fresh")
    )


def test_each_session_folded_side_by_side_is_its_own_state_and_signals(sessions) -> None:
    ms = members(sessions)
    or_minutes, needs = opening_range_minutes(EVERY), session_needs(EVERY)
    batch = SideBySide(ms, or_minutes, needs, EVERY)
    fired = 0
    for i, m in enumerate(ms):
        plain = SessionState.new(m.symbols, or_minutes, needs)
        ahead = batch.state(i, m.symbols)
        assert isinstance(ahead, Replayed) is (i != 2)
        for snap in m.snapshots:
            usable = snap.usable()[0]  # as decide() folds it
            bar, got = plain.apply(usable), ahead.apply(usable)
            assert same_bar(bar, got), (i, snap.ts)
            assert (ahead.bars, ahead.t, ahead.last_ts) == (plain.bars, plain.t, plain.last_ts)
            kept = {k: v for k, v in plain.arrays.items() if not k.endswith("_acc")}  # seed sums: the batch's
            assert kept.keys() == {k for k in ahead.arrays if not k.endswith("_acc")}
            assert all(same(v, ahead.arrays[k]) for k, v in kept.items()), (i, snap.ts)
            assert all(same(plain.rings[k], ahead.rings[k]) for k in plain.rings)
            if bar is not None:
                want = raw_signals(EVERY, plain, bar)
                got_signals = ahead.signals_ahead(EVERY)
                if got_signals is None:  # the plain state of member 2
                    got_signals = raw_signals(EVERY, ahead, bar)
                assert got_signals == want, (i, snap.ts)
                fired += len(want)
    assert fired > 20


def test_a_day_that_skips_the_strategies_runs_them_again_on_its_own_flags(sessions) -> None:
    m = Member(list(sessions[0].symbols), sessions[0].snapshots)
    or_minutes, needs = opening_range_minutes(EVERY), session_needs(EVERY)
    ahead = SideBySide([m], or_minutes, needs, EVERY).state(0, m.symbols)
    plain = SessionState.new(m.symbols, or_minutes, needs)
    asked_ahead = 0
    for k, snap in enumerate(m.snapshots):
        bar, _ = plain.apply(snap), ahead.apply(snap)
        if bar is None or 120 <= k < 125:  # five bars on which the tick only flattened
            continue
        got = ahead.signals_ahead(EVERY)
        if got is None:
            assert k >= 125 and ahead.flags == plain.flags
            got = raw_signals(EVERY, ahead, bar)
        else:
            asked_ahead += 1
        assert got == raw_signals(EVERY, plain, bar), snap.ts
    assert asked_ahead == 119  # bars 1 to 119, then from the strategies


def test_a_replayed_state_refuses_what_it_cannot_do(sessions) -> None:
    m = Member(list(sessions[0].symbols), sessions[0].snapshots)
    state = SideBySide([m], 15, ["ema_5"], None).state(0, m.symbols)
    assert state.signals_ahead(EVERY) is None  # not run ahead: the strategies run
    with pytest.raises(ValueError, match="not the one of"):
        state.apply(m.snapshots[1])  # out of turn
    state.apply(m.snapshots[0])
    with pytest.raises(ValueError, match="keeps only ema_5: not rsi_7"):
        state.require(["ema_5", "rsi_7"])
    with pytest.raises(ValueError, match="not stored"):
        state.to_doc()


def crashed(sess: bd.Session, symbol: str, after: datetime, factor: float) -> bd.Session:
    """The session with ``symbol``'s quotes after ``after`` at ``factor`` times their prices."""

    def moved(q: Quote) -> Quote:
        return replace(
            q, **{f: round(getattr(q, f) * factor, 2) for f in ("last", "bid", "ask", "high", "low")}
        )

    snaps = [
        Snapshot(s.ts, {**s.quotes, symbol: moved(s.quotes[symbol])}) if s.ts > after else s
        for s in sess.snapshots
    ]
    return replace(sess, snapshots=snaps)


def test_a_backtest_halting_at_its_loss_limit_is_the_one_of_plain_states(sessions) -> None:
    """A day at its loss limit flattens without asking the strategies: the replayed backtest equals the one
    whose states are plain (stored and read back every tick)."""
    first = run_intraday(sessions, IntradayConfig(PLAN, fill="close")).trades[0]
    day = first.entry_time.date()
    factor = 0.5 if first.direction == "long" else 1.5  # the first position's price halves against it
    days = [crashed(s, first.symbol, first.entry_time, factor) if s.day == day else s for s in sessions]
    ahead = run_intraday(days, IntradayConfig(PLAN, fill="close"))
    plain = run_intraday(days, IntradayConfig(PLAN, fill="close", store_rounding=True))
    halted = [s.halted for s in ahead.sessions if s.day == day]
    assert halted[0] is not None and halted[0].startswith("daily loss limit")
    assert ahead.fills == plain.fills and ahead.trades == plain.trades and ahead.refusals == plain.refusals
    assert [s.refused for s in ahead.sessions] == [s.refused for s in plain.sessions]
    assert same(ahead.equity, plain.equity) and ahead.final_equity == plain.final_equity


def ragged(sessions: list[bd.Session], seed: int) -> list[bd.Session]:
    """The sessions on a bad day: a symbol's quote missing or glitched (last 0, NaN, crossed) at random
    minutes, a symbol quoted only from mid-morning, and a day cut short."""
    rng = np.random.default_rng(seed)
    out = []
    for n, sess in enumerate(sessions):
        syms = list(sess.symbols)
        late = syms[n % len(syms)]
        snaps = []
        for k, snap in enumerate(sess.snapshots[: 250 if n == 1 else None]):
            quotes = dict(snap.quotes)
            if k < 60:
                quotes.pop(late, None)
            for s in list(quotes):
                roll = rng.random()
                if roll < 0.03:
                    quotes.pop(s)
                elif roll < 0.05:
                    bad = {"last": 0.0} if roll < 0.04 else {"bid": quotes[s].ask + 1, "last": float("nan")}
                    quotes[s] = replace(quotes[s], **bad)
            snaps.append(Snapshot(snap.ts, quotes))
        out.append(replace(sess, snapshots=snaps, nows=[s.ts for s in snaps], next_open=None))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_a_ragged_backtest_of_every_strategy_is_the_one_of_plain_states(sessions, seed: int) -> None:
    """Missing and bad quotes, a symbol arriving late, a short day, the ten strategies at once: the sessions
    folded side by side give the backtest the plain states give, fill for fill and refusal for refusal."""
    plan = replace(PLAN, strategies=EVERY)
    days = ragged(sessions, seed)
    ahead = run_intraday(days, IntradayConfig(plan, fill="next-quote"))
    plain = run_intraday(days, IntradayConfig(plan, fill="next-quote", store_rounding=True))
    assert len(ahead.fills) > 10 and ahead.refusals > 10
    assert ahead.fills == plain.fills and ahead.trades == plain.trades and ahead.refusals == plain.refusals
    assert [s.refused for s in ahead.sessions] == [s.refused for s in plain.sessions]
    assert same(ahead.equity, plain.equity) and ahead.final_equity == plain.final_equity
