"""Resting stops in the intraday backtester: an entry's fill rests its stop at the (simulated) broker, worked
against the session's minute candles by the shared stop-fill model (tron.domain.stop_fill.first_fill).

The hand-made day (one symbol, ABC, orb only): 15 quiet minutes 09:15-09:29 (range 99.95-100.05, ATR 0.10),
then the 09:30 bar breaks out (close 100.50 on 3x volume; its low 99.90). The orb entry is decided at 09:31
with price 100.50, stop 100.50 - 0.4 % = 100.10 (the floor beats 2 ATR) and target 101.10, and the book moves
both with the fill (next-open fills at the 09:31 open 100.50: stop 100.10; next-quote at the 09:31 close).
What follows 09:30 is each test's own ``tail`` of bars, from 09:31 on.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.backtest import PLAN as SIM_PLAN
from tests.support.backtest import write_sim_csvs
from tron.backtest import data as bd
from tron.backtest.engine import END_OF_DATA, SQUARE_OFF_REASON, IntradayConfig, run_intraday
from tron.backtest.result import BacktestResult
from tron.domain.models import Asset, Candle, Side, Snapshot
from tron.domain.plan import AssetPlan, StrategyChoice
from tron.domain.risk import RiskLimits
from tron.domain.stop_fill import StopOrder, StopSlippage, first_fill
from tron.domain.timeutil import IST

DAY = date(2026, 11, 19)
SYM = "ABC"
TICK = Decimal("0.05")
PLAN = AssetPlan(Asset.STOCKS, True, (StrategyChoice("orb", {}),), RiskLimits(), "test")
QTY = 1492  # 15 % of ₹10 lakh at 100.50 (the position cap binds before the risk per trade)
ENTRY_ID = "20261119-stocks-orb-ABC-entry-0931"

OHLCV = tuple[float, float, float, float, int]
OPENING: list[OHLCV] = [(100.0, 100.05, 99.95, 100.0, 1000)] * 15 + [(100.0, 100.6, 99.9, 100.5, 3000)]
QUIET: OHLCV = (100.6, 100.7, 100.5, 100.6, 1000)  # never near a stop or target
ENTRY_BAR: OHLCV = (100.5, 100.7, 100.3, 100.6, 1500)  # 09:31: stays above the stop
THROUGH: OHLCV = (100.6, 100.65, 99.9, 100.0, 1500)  # closed down: open → high → low 99.90, through it
AFTER: OHLCV = (100.0, 100.1, 99.9, 100.0, 1000)

STOPPED = [ENTRY_BAR, THROUGH, AFTER, AFTER]  # 09:31 above the stop, 09:32 through it


def at(hh: int, mm: int) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=IST)


def session(folder: Path, tail: list[OHLCV]) -> bd.Session:
    """The hand-made day with ``tail`` from 09:31 on, written as ABC.csv and loaded as `tron backtest` does."""
    rows = [
        f"{at(9, 15) + timedelta(minutes=m):%Y-%m-%d %H:%M:%S},{o},{h},{lo},{c},{v}"
        for m, (o, h, lo, c, v) in enumerate(OPENING + tail)
    ]
    path = folder / f"{SYM}.csv"
    path.write_text("date,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    (sess,) = bd.sessions_from_bars([bd.read_csv(path)])
    return sess


def run(sess: bd.Session, **kw: Any) -> BacktestResult:
    return run_intraday([sess], IntradayConfig(PLAN, **kw))


def by_purpose(r: BacktestResult, purpose: str) -> list[dict[str, Any]]:
    return [f for f in r.fills if f["purpose"] == purpose]


def candle_at(sess: bd.Session, start: datetime) -> Candle:
    return next(c for c in sess.candles[SYM] if c.start == start)


def check_invariants(r: BacktestResult) -> None:
    """Every protect intent is its entry's ``-S1``; nothing fills twice; the ledger reconciles."""
    entries = {i.intent_id: i for i in r.intents if i.purpose == "entry"}
    filled = {f["intent_id"] for f in r.fills}
    protects = [i for i in r.intents if i.purpose == "protect"]
    for p in protects:
        entry_id = p.intent_id.removesuffix("-S1")
        assert p.intent_id == f"{entry_id}-S1" and entry_id in entries and entry_id in filled
        assert (p.symbol, p.side) == (entries[entry_id].symbol, entries[entry_id].side.opposite)
        assert (p.order_type, p.trigger is not None, p.limit) == ("SL-M", True, None)
    assert len({p.intent_id for p in protects}) == len(protects)
    counts = Counter(f["intent_id"] for f in r.fills)
    assert counts and max(counts.values()) == 1
    assert all(f["by_stop"] for f in r.fills if f["purpose"] == "protect")
    assert not any(f["by_stop"] for f in r.fills if f["purpose"] == "entry")
    assert all(t.closed for t in r.trades)
    assert r.final_equity - r.capital == sum(t.pnl for t in r.trades)
    assert sum(Decimal(f["charges"]) for f in r.fills) == sum(t.charges for t in r.trades)
    assert r.equity[-1] == pytest.approx(float(r.final_equity))


# ---------------------------------------------------------------------------------------- (1) the fill
@pytest.mark.parametrize(
    ("through", "slippage", "spread", "price"),
    [
        # trigger 100.10 less max(1 tick 0.05, half spread 0, 2 bps 0.02) = 100.05
        (THROUGH, StopSlippage(), 0.0, Decimal("100.05")),
        # 20 bps of 100.10 (0.2002) beats the tick: 99.8998, down to the tick grid 99.85
        (THROUGH, StopSlippage(bps=Decimal(20)), 0.0, Decimal("99.85")),
        # half of a ₹1.00 spread at 09:33 (0.50) beats both: 99.60 (inside the 1 % protection, 99.10)
        (THROUGH, StopSlippage(), 1.0, Decimal("99.60")),
        # gapped down through the trigger: triggered at the open 99.80, less the tick: 99.75
        ((99.8, 99.9, 99.6, 99.7, 1500), StopSlippage(), 0.0, Decimal("99.75")),
    ],
    ids=["tick", "bps", "half-spread", "gap"],
)
def test_a_later_candle_through_the_trigger_fills_the_resting_stop_inside_the_minute(
    tmp_path: Path, through: OHLCV, slippage: StopSlippage, spread: float, price: Decimal
) -> None:
    """A long's resting SL-M (SELL at trigger 100.10) fills in the 09:32 candle that goes through it, at
    what first_fill gives (trigger or gapped open less max(1 tick, half spread, bps)), at the candle's end
    (09:33), under its protect intent with by_stop; the trade closes there at that price."""
    sess = session(tmp_path, [ENTRY_BAR, through, AFTER, AFTER])
    if spread:  # the quote the stop is worked with (the 09:33 snapshot) shows a spread around its last
        k = sess.nows.index(at(9, 33))
        q = sess.snapshots[k].quotes[SYM]
        quotes = {SYM: replace(q, bid=q.last - spread / 2, ask=q.last + spread / 2)}
        sess.snapshots[k] = Snapshot(sess.snapshots[k].ts, quotes)
    r = run(sess, stop_slippage=slippage)

    (protect,) = [i for i in r.intents if i.purpose == "protect"]
    assert (protect.intent_id, protect.side, protect.qty, protect.trigger) == (
        f"{ENTRY_ID}-S1", Side.SELL, QTY, 100.10,
    )  # fmt: skip
    (stop,) = by_purpose(r, "protect")
    expected, candle = first_fill(
        StopOrder("SELL", "SL-M", Decimal("100.10")), [candle_at(sess, at(9, 32))], TICK,
        Decimal(str(spread)) / 2, slippage,
    )  # fmt: skip
    assert expected.price == price and candle is not None
    assert (stop["intent_id"], stop["by_stop"]) == (protect.intent_id, True)
    assert (stop["side"], stop["qty"]) == ("SELL", QTY)
    assert (Decimal(stop["price"]), stop["at"]) == (price, at(9, 33).isoformat())
    assert Decimal(stop["realized"]) == (price - Decimal("100.50")) * QTY

    (trade,) = r.trades
    assert (trade.entry_price, trade.exit_price, trade.exit_time) == (Decimal("100.50"), price, at(9, 33))
    assert trade.exit_reason == protect.reason == "stop 100.10 resting at the broker"
    assert [i.purpose for i in r.intents] == ["entry", "protect"]  # TRON itself never sent an exit
    check_invariants(r)


# ------------------------------------------------------------------------------- (2) when it is active
WICK: OHLCV = (100.5, 100.7, 99.8, 100.6, 1500)  # 09:31: dips to 99.80, through either stop, closes 100.60


@pytest.mark.parametrize(
    ("fill", "tail", "filled_at", "trigger"),
    [
        # fills at 09:31 at the 09:30 close 100.50 (stop 100.10): the 09:30 candle's low 99.90 is not worked
        ("close", [ENTRY_BAR, QUIET, QUIET], at(9, 31), 100.10),
        # fills at 09:32 at the 09:31 close 100.60 (stop 100.20): the 09:31 candle's low 99.80 is not worked
        ("next-quote", [WICK, QUIET, QUIET], at(9, 32), 100.20),
    ],
)
def test_the_stop_is_not_worked_against_the_candle_the_entry_filled_in(
    tmp_path: Path, fill: str, tail: list[OHLCV], filled_at: datetime, trigger: float
) -> None:
    """An entry filled at a candle's close rests its stop from the next candle on: that candle's low, though
    through the trigger, traded before the stop existed, so the stop never fills and the trade runs to the
    end of the data."""
    sess = session(tmp_path, tail)
    candle = candle_at(sess, filled_at - timedelta(minutes=1))
    assert candle.low < trigger  # the candle the entry filled in went through the stop
    r = run(sess, fill=fill)

    (entry,) = by_purpose(r, "entry")
    assert entry["at"] == filled_at.isoformat()
    (protect,) = [i for i in r.intents if i.purpose == "protect"]
    assert (protect.trigger, protect.decided_at) == (trigger, filled_at)
    assert by_purpose(r, "protect") == []
    (trade,) = r.trades
    assert trade.exit_reason == END_OF_DATA and not any(f["by_stop"] for f in r.fills)
    check_invariants(r)


def test_a_next_open_entry_rests_its_stop_from_the_open_it_filled_at(tmp_path: Path) -> None:
    """Next-open fills at a candle's first price, at its start (09:31:00): the rest of that candle trades
    after the fill, so the stop is worked against it (as the paper broker works a stop placed at 10:00:00
    sharp against the whole 10:00 candle) — but never against the candles before it."""
    sess = session(tmp_path, [WICK, QUIET, QUIET])
    r = run(sess)  # the 09:30 breakout candle (low 99.90) is before the fill
    (entry,) = by_purpose(r, "entry")
    assert (entry["price"], entry["at"]) == ("100.50", at(9, 31).isoformat())
    (stop,) = by_purpose(r, "protect")
    # closed up: open 100.50 → low 99.80 through 100.10: 100.10 - 0.05, at the end of the 09:31 candle
    assert (stop["price"], stop["at"], stop["by_stop"]) == ("100.05", at(9, 32).isoformat(), True)
    check_invariants(r)


# ------------------------------------------------------------------------------- (3) stops not resting
def test_without_resting_stops_tron_checks_the_stop_on_the_bar(tmp_path: Path) -> None:
    """resting_stops=False is the old behaviour: no protect (nor trail) intent; the tick sees the 09:32
    bar's low through the stop 100.10 and sends an exit at 09:33, which fills like any order (next-open:
    the 09:33 open, 100.00), not by a stop."""
    r = run(session(tmp_path, STOPPED), resting_stops=False)
    assert [i.purpose for i in r.intents] == ["entry", "exit"]
    (exit_,) = by_purpose(r, "exit")
    assert (exit_["price"], exit_["at"], exit_["by_stop"]) == ("100.00", at(9, 33).isoformat(), False)
    (trade,) = r.trades
    assert (trade.exit_price, trade.exit_reason) == (Decimal("100.00"), "stop 100.10 touched")
    check_invariants(r)


# ------------------------------------------------------------------- (4) an exit when the stop filled first
TARGET_THEN_CRASH = [
    ENTRY_BAR,
    (100.6, 101.3, 100.5, 101.0, 1500),  # 09:32: high 101.30 reaches the target (low 100.50 above the stop)
    (101.0, 101.05, 100.0, 100.1, 1000),  # 09:33: opens 101.00, then falls through the stop
    (100.1, 100.2, 100.0, 100.1, 1000),
]
QUIET_THEN_CRASH = [ENTRY_BAR, QUIET, TARGET_THEN_CRASH[2], TARGET_THEN_CRASH[3]]


@pytest.mark.parametrize(
    ("tail", "square_off", "purpose", "reason"),
    [
        (TARGET_THEN_CRASH, (time(15, 10),), "exit", "target 101.20 reached"),
        (QUIET_THEN_CRASH, (time(9, 33),), "squareoff", SQUARE_OFF_REASON),
    ],
    ids=["target", "square-off"],
)
def test_an_exit_whose_stop_filled_first_is_booked_as_the_stops_fill(
    tmp_path: Path, tail: list[OHLCV], square_off: tuple[time, ...], purpose: str, reason: str
) -> None:
    """Next-quote (the paper broker's fill): the entry fills at 09:32 at 100.60 (stop 100.20); an exit decided
    at 09:33 (the target, or the square-off) goes at 09:34, turning the resting stop into itself — but the
    09:33 candle went through the stop first, so the exit is booked at the stop's fill (100.20 - 0.05 =
    100.15, at 09:34, by_stop) under the exit's intent; the protect intent never fills, nothing twice."""
    r = run(session(tmp_path, tail), fill="next-quote", square_off=square_off)
    (protect,) = [i for i in r.intents if i.purpose == "protect"]
    (exit_intent,) = [i for i in r.intents if i.purpose == purpose]
    assert (exit_intent.decided_at, exit_intent.reason) == (at(9, 33), reason)
    assert [f["purpose"] for f in r.fills] == ["entry", purpose]
    (exit_,) = by_purpose(r, purpose)
    assert exit_["intent_id"] == exit_intent.intent_id != protect.intent_id
    assert (exit_["price"], exit_["at"], exit_["by_stop"]) == ("100.15", at(9, 34).isoformat(), True)
    (trade,) = r.trades
    assert (trade.exit_price, trade.exit_time, trade.exit_reason) == (Decimal("100.15"), at(9, 34), reason)
    check_invariants(r)


def test_an_exit_filled_at_the_close_needs_no_stop_first(tmp_path: Path) -> None:
    """Close fills the exit at the bar it was decided on (09:33 at 101.00): every candle before it has been
    worked without reaching the stop, so it fills as an order, not by the stop."""
    r = run(session(tmp_path, TARGET_THEN_CRASH), fill="close")
    (exit_,) = by_purpose(r, "exit")
    assert (exit_["price"], exit_["at"], exit_["by_stop"]) == ("101.00", at(9, 33).isoformat(), False)
    assert by_purpose(r, "protect") == []
    check_invariants(r)


def test_a_next_open_exit_fills_at_the_open_before_the_candle_reaches_the_stop(tmp_path: Path) -> None:
    """Next-open: the target exit decided at 09:33 fills at the 09:33 open (101.00, at 09:33:00); the stop
    (100.10) was worked against every candle before 09:33 without filling, and the 09:33 candle falls
    through it only after that open — after the position was closed."""
    r = run(session(tmp_path, TARGET_THEN_CRASH))
    (exit_,) = by_purpose(r, "exit")
    assert (exit_["price"], exit_["at"], exit_["by_stop"]) == ("101.00", at(9, 33).isoformat(), False)


# ------------------------------------------------------------------------------------------ replays
def test_a_replays_recorded_candles_work_the_stop_as_bars_do(tmp_path: Path) -> None:
    """A replay carries the candle just closed under "bars": replayed with the paper broker's fill
    (next-quote), the stop fills exactly as on the same day's CSV bars."""
    sess = session(tmp_path, STOPPED)
    lines = []
    for k, (snap, now) in enumerate(zip(sess.snapshots, sess.nows, strict=True)):
        line: dict[str, Any] = {
            "ts": snap.ts.isoformat(),
            "now": now.isoformat(),
            "quotes": {s: q.to_row() for s, q in snap.quotes.items()},
        }
        if k:
            c = sess.candles[SYM][k - 1]
            line["bars"] = {SYM: [c.start.isoformat(), c.open, c.high, c.low, c.close, c.volume]}
        lines.append(json.dumps(line, default=str))
    path = tmp_path / "stocks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    (replayed,) = bd.read_replay(path)
    assert replayed.candles == sess.candles

    from_bars, from_replay = run(sess, fill="next-quote"), run(replayed, fill="next-quote")
    (stop,) = by_purpose(from_replay, "protect")
    assert (stop["price"], stop["at"]) == ("100.15", at(9, 33).isoformat())  # 100.20 less the tick
    assert from_replay.fills == from_bars.fills
    check_invariants(from_replay)


# ------------------------------------------------------------------- (5), (6) over a simulated market
@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> list[bd.Session]:
    folder = write_sim_csvs(tmp_path_factory.mktemp("bars"), symbols=4)
    return bd.sessions_from_bars(bd.load(folder))


@pytest.mark.parametrize("fill", ["next-open", "next-quote", "close"])
def test_on_a_simulated_market_stops_rest_fill_once_and_the_ledger_reconciles(
    sim: list[bd.Session], fill: str
) -> None:
    """Over two simulated days of orb and vwap: every protect intent is its entry's ``-S1``, every intent
    fills at most once, stops do fill (by_stop), every trade closes, and final equity − capital is the
    sum of the trades' P&L."""
    r = run_intraday(sim, IntradayConfig(SIM_PLAN, fill=fill))
    protects = [i for i in r.intents if i.purpose == "protect"]
    assert len(protects) == len(by_purpose(r, "entry"))  # every filled entry rested a stop
    assert any(f["by_stop"] for f in r.fills)
    check_invariants(r)


def test_on_a_simulated_market_without_resting_stops_nothing_rests(sim: list[bd.Session]) -> None:
    """resting_stops=False: no protect or trail intents and no fill by a stop; the ledger still reconciles."""
    r = run_intraday(sim, IntradayConfig(SIM_PLAN, resting_stops=False))
    assert r.trades and {i.purpose for i in r.intents} <= {"entry", "exit", "squareoff"}
    assert not any(f["by_stop"] for f in r.fills)
    check_invariants(r)


def test_a_replay_without_candles_checks_its_stops_as_tron_does(tmp_path: Path) -> None:
    """A replay recorded before the minute candles were (no "bars"): a stop cannot rest, so the position
    is not left without one: TRON's own check on the bar exits it, as with resting stops off."""
    sess = replace(session(tmp_path, STOPPED), candles={})
    r = run(sess)
    assert [i.purpose for i in r.intents] == ["entry", "exit"]
    assert r.fills == run(sess, resting_stops=False).fills
    (trade,) = r.trades
    assert trade.exit_reason == "stop 100.10 touched"
    check_invariants(r)
