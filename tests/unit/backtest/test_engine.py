"""The intraday backtester on simulator bars written as CSV: fill models, ledger, square-off, end of data."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest

from tests.support.backtest import DAYS, PLAN, write_sim_csvs
from tron.backtest import data as bd
from tron.backtest.engine import END_OF_DATA, SQUARE_OFF_REASON, IntradayConfig, run_intraday
from tron.backtest.fills import slipped
from tron.domain.models import Side
from tron.domain.risk import RiskLimits


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory):
    folder = write_sim_csvs(tmp_path_factory.mktemp("bars"))
    bars = bd.load(folder)
    return bars, bd.sessions_from_bars(bars)


@pytest.fixture(scope="module")
def next_open(market):
    return run_intraday(market[1], IntradayConfig(PLAN))


def bar_at(bars: list[bd.Bars], symbol: str, start: datetime) -> int:
    b = next(x for x in bars if x.symbol == symbol)
    return b.times.index(start)


def test_it_trades_both_days_through_decide(next_open) -> None:
    r = next_open
    assert len(r.trades) >= 6
    assert {t.entry_time.date() for t in r.trades} == set(DAYS)
    entries = [i for i in r.intents if i.purpose == "entry"]
    assert entries and all(i.stop and i.target and i.decided_at.time() < time(15, 0) for i in entries)
    assert {i.strategy for i in entries} <= {"orb", "vwap"}


def test_every_intent_fills_once_and_every_trade_closes(next_open) -> None:
    r = next_open
    ids = [f["intent_id"] for f in r.fills]
    assert len(set(ids)) == len(ids)
    stops = {f["intent_id"] for f in r.fills if f["purpose"] == "protect"}
    assert stops and all(f["by_stop"] for f in r.fills if f["intent_id"] in stops)  # resting stops filled
    # a trail moves a stop and fills nothing; a protect fills only when its stop is hit
    orders = {i.intent_id for i in r.intents if i.purpose not in ("trail", "protect")}
    assert set(ids) - stops == orders
    assert stops <= {i.intent_id for i in r.intents if i.purpose == "protect"}
    assert all(t.closed for t in r.trades)
    assert max(datetime.fromisoformat(f["at"]).time() for f in r.fills) <= time(15, 14)


def test_the_ledger_reconciles(next_open) -> None:
    r = next_open
    assert r.final_equity - r.capital == sum(t.pnl for t in r.trades)
    charges = sum(Decimal(f["charges"]) for f in r.fills)
    assert charges > 0 and sum(t.charges for t in r.trades) == charges
    assert r.equity[-1] == pytest.approx(float(r.final_equity))


def test_next_open_fills_at_the_open_of_the_bar_after_the_decision(market, next_open) -> None:
    bars, _ = market
    by_id = {i.intent_id: i for i in next_open.intents}
    for f in next_open.fills:
        if f["by_stop"]:
            continue  # a resting stop fills where the bar reaches it (tests/unit/backtest/test_stops.py)
        it = by_id[f["intent_id"]]
        b = next(x for x in bars if x.symbol == f["symbol"])
        k = b.times.index(it.decided_at)  # the bar that starts when the decision is taken
        assert Decimal(f["price"]) == Decimal(str(b.open[k]))
        assert f["at"] == it.decided_at.isoformat()


def test_the_square_off_closes_at_15_10_and_stops_entries(market) -> None:
    risk = replace(RiskLimits(), entry_cutoff=time(15, 10))  # entries allowed right up to the square-off
    r = run_intraday(market[1], IntradayConfig(replace(PLAN, risk=risk)))
    squared = [f for f in r.fills if f["reason"] == SQUARE_OFF_REASON]
    assert squared and all(datetime.fromisoformat(f["at"]).time() == time(15, 10) for f in squared)
    late = [i for i in r.intents if i.purpose == "entry" and i.decided_at.time() >= time(15, 10)]
    assert late == []


def test_close_fills_at_the_decision_bars_close(market) -> None:
    bars, sessions = market
    r = run_intraday(sessions, IntradayConfig(PLAN, fill="close"))
    by_id = {i.intent_id: i for i in r.intents}
    assert r.fills
    for f in r.fills:
        if f["by_stop"]:
            continue
        it = by_id[f["intent_id"]]
        b = next(x for x in bars if x.symbol == f["symbol"])
        k = b.times.index(it.decided_at - timedelta(minutes=1))  # the bar that just closed
        assert Decimal(f["price"]) == Decimal(str(b.close[k])) and f["at"] == it.decided_at.isoformat()


def test_no_charges(market) -> None:
    r = run_intraday(market[1], IntradayConfig(PLAN, charges=False))
    assert r.fills and all(f["charges"] == "0" for f in r.fills)
    assert r.final_equity - r.capital == sum(Decimal(f["realized"]) for f in r.fills)


def test_slippage_moves_fills_against_the_trader(market, next_open) -> None:
    r = run_intraday(market[1], IntradayConfig(PLAN, slippage_bps=20))
    first_plain, first_slipped = next_open.fills[0], r.fills[0]
    assert first_plain["intent_id"] == first_slipped["intent_id"]
    diff = Decimal(first_slipped["price"]) - Decimal(first_plain["price"])
    assert diff > 0 if first_plain["side"] == "BUY" else diff < 0


def test_slipped_prices_sit_on_the_tick_grid() -> None:
    tick = Decimal("0.05")
    assert slipped(100.0, Side.BUY, 10, tick) == Decimal("100.10")
    assert slipped(100.0, Side.SELL, 10, tick) == Decimal("99.90")
    assert slipped(100.0, Side.BUY, 1, tick) == Decimal("100.05")  # 100.01 → the next tick up
    assert slipped(100.0, Side.SELL, 1, tick) == Decimal("99.95")
    assert slipped(100.02, Side.BUY, 0, tick) == Decimal("100.00")  # no slippage: nearest, as paper
    with pytest.raises(ValueError, match="slippage"):
        slipped(100.0, Side.BUY, -1, tick)


def test_data_ending_with_a_position_open_closes_it_there(market, next_open) -> None:
    bars, _ = market
    t = next(t for t in next_open.trades if t.exit_time - t.entry_time > timedelta(minutes=10))
    cut = t.entry_time + timedelta(minutes=3)
    day = t.entry_time.date()
    short = []
    for b in bars:
        keep = [i for i, ts in enumerate(b.times) if ts.date() == day and ts < cut]
        short.append(
            bd.Bars(
                b.symbol,
                [b.times[i] for i in keep],
                *(getattr(b, c)[keep] for c in ("open", "high", "low", "close", "volume")),
            )
        )
    r = run_intraday(bd.sessions_from_bars(short), IntradayConfig(PLAN))
    last = [x for x in r.trades if x.symbol == t.symbol][-1]
    assert last.exit_reason == END_OF_DATA and last.entry_time == t.entry_time
    assert all(x.closed for x in r.trades)


def test_deterministic_and_reports_progress(market, next_open) -> None:
    seen: list[tuple[int, int]] = []
    again = run_intraday(market[1], IntradayConfig(PLAN), progress=lambda d, n: seen.append((d, n)))
    assert seen == [(1, 2), (2, 2)]
    assert [f["intent_id"] for f in again.fills] == [f["intent_id"] for f in next_open.fills]
    assert again.final_equity == next_open.final_equity


def test_bad_configuration_is_refused(market) -> None:
    with pytest.raises(ValueError, match="unknown fill model"):
        IntradayConfig(PLAN, fill="mid")
    with pytest.raises(ValueError, match="slippage"):
        IntradayConfig(PLAN, slippage_bps=-1)
    replayed = [replace(s, next_open=None) for s in market[1]]
    with pytest.raises(ValueError, match="next-open fill needs bars"):
        run_intraday(replayed, IntradayConfig(PLAN))
    with pytest.raises(ValueError, match="no sessions"):
        run_intraday([], IntradayConfig(PLAN))
