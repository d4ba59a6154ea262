"""The bias checks: every registered strategy is clean on the simulator's minute bars, and two deliberately
biased toys are each caught by the right check (one reads the next bar's close, one averages all history)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from tests.support.backtest import write_sim_csvs
from tron.backtest import bias
from tron.backtest.bias import (
    RECURSIVE_TOLERANCE,
    SessionStrategy,
    Subject,
    VectorStrategy,
    check,
    check_lookahead,
    check_recursive,
    registered,
)
from tron.backtest.data import Bars, Session, load, sessions_from_bars
from tron.backtest.peer import crossings
from tron.domain.models import Snapshot

MORNING = 100  # minutes of each session the intraday strategies are checked on (the replays are the cost)


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[Bars]:
    """Two simulated days of minute bars, three symbols."""
    return load(write_sim_csvs(tmp_path_factory.mktemp("bias") / "bars", symbols=3))


@pytest.fixture(scope="module")
def mornings(days: list[Bars]) -> list[Bars]:
    """The first MORNING minutes of each day: two sessions, enough for every strategy to signal."""
    out = []
    for b in days:
        keep = np.array([(t.hour * 60 + t.minute) - (9 * 60 + 15) < MORNING for t in b.times])
        out.append(
            Bars(b.symbol, [t for t, k in zip(b.times, keep, strict=True) if k], b.open[keep], b.high[keep],
                 b.low[keep], b.close[keep], b.volume[keep])
        )  # fmt: skip
    return out


@pytest.mark.parametrize("subject", registered(), ids=lambda s: f"{s.mode}-{s.name}")
def test_every_registered_strategy_is_clean(subject: Subject, days: list[Bars], mornings: list[Bars]) -> None:
    bars = mornings if subject.mode == "intraday" else days  # peer: 750 bars, past ema_cross's 220 of warm-up
    report = check(subject, bars, cuts=6)
    assert report.clean, report.to_dict()
    for result in (report.lookahead, report.recursive):
        assert result.bars_compared > 0 and result.signals_compared > 0, result.to_dict()
        assert result.first is None and result.signals_differing == 0
    # values equal within the tolerance; the intraday ones bit for bit (each session starts afresh)
    worst = max(d.deviation for d in report.recursive.deviations.values())
    assert worst <= RECURSIVE_TOLERANCE
    if subject.mode == "intraday":
        assert worst == 0.0 and len(report.recursive.runs) == 4


def test_intraday_values_past_the_first_session_are_compared(mornings: list[Bars]) -> None:
    """An intraday run started later is compared on its complete sessions only, every one of their bars."""
    result = check_recursive(SessionStrategy("ema_cross"), mornings, offsets=[1, 50])
    assert result.runs == ["1 bars later", "50 bars later"]
    assert result.bars_compared == 2 * MORNING * len(mornings)  # the second session, twice


# ---------------------------------------------------------------------------------------------- biased toys
def _next_close(b: Bars) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Buys when the next bar closes higher: the next bar's close, read at this bar."""
    nxt = np.append(b.close[1:], np.nan)
    with np.errstate(invalid="ignore"):
        side = np.where(nxt > b.close, 1, np.where(nxt < b.close, -1, 0))
    return side, {"next_close": nxt}


def _cumulative_mean(b: Bars) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The close crossing the mean of every close so far: an anchor that never forgets the first bar."""
    mean = np.cumsum(b.close) / np.arange(1, len(b) + 1)
    up, down = crossings(b.close, mean)
    return up.astype(np.int8) - down.astype(np.int8), {"cum_mean": mean}


PEEKS = VectorStrategy("peeks_next_close", "toy", 0, _next_close)
ANCHORED = VectorStrategy("cumulative_mean", "toy", 20, _cumulative_mean)


def test_a_strategy_reading_the_next_bar_is_caught_by_the_lookahead_check(days: list[Bars]) -> None:
    result = check_lookahead(PEEKS, days, cuts=6)
    assert not result.clean
    first = result.first
    assert first is not None
    # on the earliest cut's last bar: the next close is known with all the bars, undefined without them
    cut_at = min(result.runs)
    assert first.bar.isoformat() == cut_at and first.run == cut_at
    assert first.what in ("next_close", "signal")
    assert result.deviations["next_close"].deviation == float("inf")
    assert check_recursive(PEEKS, days).clean  # it does not depend on where the data starts


def test_a_strategy_anchored_to_the_first_bar_is_caught_by_the_recursive_check(days: list[Bars]) -> None:
    result = check_recursive(ANCHORED, days, offsets=[1, 64])
    assert not result.clean
    first = result.first
    assert first is not None
    # the first bar past the warm-up of the run started one bar later
    assert first.what == "cum_mean" and first.run == "1 bars later"
    assert first.bar == days[0].times[1 + 20]
    assert result.deviations["cum_mean"].deviation > RECURSIVE_TOLERANCE
    assert check_lookahead(ANCHORED, days, cuts=6).clean  # it reads no future bar


def test_the_report_says_which_check_failed(days: list[Bars]) -> None:
    report = check(PEEKS, days, cuts=4).to_dict()
    assert report["strategy"] == "peeks_next_close" and report["clean"] is False
    assert report["lookahead"]["clean"] is False and report["recursive"]["clean"] is True
    first = report["lookahead"]["first_difference"]
    assert first["symbol"] == days[0].symbol and first["run"] == first["bar"]


def test_bars_too_few_to_compare_are_refused(mornings: list[Bars]) -> None:
    one_day = [Bars(b.symbol, b.times[:MORNING], b.open[:MORNING], b.high[:MORNING], b.low[:MORNING],
                    b.close[:MORNING], b.volume[:MORNING]) for b in mornings]  # fmt: skip
    with pytest.raises(ValueError, match="at least two sessions"):
        check_recursive(SessionStrategy("orb"), one_day)
    with pytest.raises(ValueError, match="unknown strategy"):
        SessionStrategy("nope")
    with pytest.raises(ValueError, match="outside"):
        SessionStrategy("orb", {"range_minutes": 1})


def test_a_bad_vector_strategy_is_an_error(days: list[Bars]) -> None:
    short = VectorStrategy("short", "toy", 0, lambda b: (np.zeros(len(b) - 1), {}))
    with pytest.raises(ValueError, match="sides"):
        short.trace(days)


def test_a_replay_that_leaks_the_forming_bar_is_caught(
    mornings: list[Bars], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intraday check covers the path from bars to snapshots too: a snapshot off by one bar (showing
    the close of the bar still forming) makes a run cut there differ from the whole one."""

    def leaky(bars: list[Bars]) -> list[Session]:
        out = []
        for s in sessions_from_bars(bars):
            snaps = s.snapshots
            ahead = [Snapshot(a.ts, b.quotes) for a, b in itertools.pairwise(snaps)] + snaps[-1:]
            out.append(dataclasses.replace(s, snapshots=ahead))
        return out

    monkeypatch.setattr(bias, "sessions_from_bars", leaky)
    result = check_lookahead(SessionStrategy("ema_cross"), mornings, cuts=3)
    assert not result.clean and result.first is not None
    assert result.first.bar.isoformat() == min(result.runs)  # the cut's last bar
