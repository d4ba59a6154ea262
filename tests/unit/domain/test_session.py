"""The session's incremental indicators equal the vectorized (TA-Lib-matching) ones, warm-up included, and
survive the stored form bit for bit; bars from snapshots, Wilder's ATR, the opening range the planned orb needs."""

from __future__ import annotations

import json
from datetime import date, time, timedelta

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tests.support.days import at
from tests.support.domain import q
from tron.domain import indicators as ind
from tron.domain.models import Quote, Snapshot
from tron.domain.plan import StrategyChoice
from tron.domain.session import SessionState
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)
T0 = ist(DAY, time(9, 15))
NEEDS = ("ema_5", "ema_21", "rsi_7", "rsi_14", "macd_12_26_9", "rocema_10_7", "win_30")


def snapshots(n_sym: int, n_bars: int, seed: int = 1) -> list[Snapshot]:
    """A random walk per symbol, with intra-minute extremes and a missing quote now and then."""
    rng = np.random.default_rng(seed)
    px = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, (n_bars + 1, n_sym)), axis=0)) * (1 + np.arange(n_sym))
    vol = np.cumsum(rng.integers(0, 5000, (n_bars + 1, n_sym)), axis=0)
    out, hi, lo = [], px[0].copy(), px[0].copy()
    for k in range(n_bars + 1):
        ts = T0 + timedelta(minutes=k)
        spike = px[k] * (1 + np.abs(rng.normal(0, 0.001, n_sym)))
        dip = px[k] * (1 - np.abs(rng.normal(0, 0.001, n_sym)))
        hi, lo = (np.maximum(hi, spike), np.minimum(lo, dip)) if k else (hi, lo)
        quotes = {}
        for j in range(n_sym):
            if k and rng.random() < 0.05:
                continue  # no quote this minute: the bar repeats the previous close
            last = round(float(px[k, j]), 2)
            quotes[f"S{j}"] = Quote(
                f"S{j}", ts, last, last, last, int(vol[k, j]), 0, float(hi[j]), float(lo[j]), 0
            )
        out.append(Snapshot(ts, quotes))
    return out


def replay(state: SessionState, snaps: list[Snapshot], stored: bool = False):
    """Apply the snapshots, recording the series and the state's indicators after each one."""
    series: dict[str, list[np.ndarray]] = {"c": [], "h": [], "lo": []}
    seen: dict[str, list[np.ndarray]] = {}
    for snap in snaps:
        if stored:
            state = SessionState.from_doc(json.loads(json.dumps(state.to_doc())))
        bar = state.apply(snap)
        if bar is None:
            c = state.last.copy()
            series["c"].append(c), series["h"].append(c), series["lo"].append(c)
        else:
            series["c"].append(bar.close), series["h"].append(bar.high), series["lo"].append(bar.low)
        line, sig, hist, _ = state.macd(12, 26, 9)
        upper, mid, lower = state.bollinger(20, 2.0) if state.t >= 0 else (None,) * 3
        values = {
            "ema_5": state.ema(5)[0],
            "ema_21": state.ema(21)[0],
            "rsi_7": state.rsi(7)[0],
            "rsi_14": state.rsi(14)[0],
            "macd": line,
            "macd_signal": sig,
            "macd_hist": hist,
            "bb_upper": upper,
            "bb_middle": mid,
            "bb_lower": lower,
            "atr": state.atr.copy(),
            "roc_10": state.roc(10),
            "rocema_10_7": state.rocema(10, 7)[0],
            "high_20": state.highest(20),
            "low_20": state.lowest(20),
        }
        for k, v in values.items():
            seen.setdefault(k, []).append(np.array(v, dtype=float))
    return state, {k: np.array(v) for k, v in series.items()}, {k: np.array(v) for k, v in seen.items()}


def expected(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    c, h, lo = s["c"], s["h"], s["lo"]
    line, sig, hist = ind.macd(c, 12, 26, 9)
    upper, mid, lower = ind.bollinger(c, 20, 2.0)
    roc = np.full_like(c, np.nan)
    roc[10:] = 100 * (c[10:] / c[:-10] - 1)
    rocema = np.full_like(c, np.nan)
    rocema[10:] = ind.ema(roc[10:], 7)
    prior_high = np.full_like(h, np.nan)
    prior_low = np.full_like(lo, np.nan)
    prior_high[20:] = sliding_window_view(h, 20, axis=0).max(axis=-1)[:-1]
    prior_low[20:] = sliding_window_view(lo, 20, axis=0).min(axis=-1)[:-1]
    return {
        "ema_5": ind.ema(c, 5),
        "ema_21": ind.ema(c, 21),
        "rsi_7": ind.rsi(c, 7),
        "rsi_14": ind.rsi(c, 14),
        "macd": line,
        "macd_signal": sig,
        "macd_hist": hist,
        "bb_upper": upper,
        "bb_middle": mid,
        "bb_lower": lower,
        "atr": ind.atr(h, lo, c, 14),
        "roc_10": roc,
        "rocema_10_7": rocema,
        "high_20": prior_high,
        "low_20": prior_low,
    }


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    for k, w in want.items():
        g = got[k]
        assert np.array_equal(np.isnan(g), np.isnan(w)), f"{k}: warm-up differs"
        np.testing.assert_allclose(g[~np.isnan(g)], w[~np.isnan(w)], rtol=1e-9, atol=1e-9, err_msg=k)


@pytest.mark.parametrize("stored", [False, True])
def test_incremental_indicators_equal_the_vectorized_ones(stored: bool) -> None:
    snaps = snapshots(4, 90 if stored else 375)  # a whole day in memory; 90 bars through the stored form
    _, series, got = replay(SessionState.new([f"S{j}" for j in range(4)], needs=NEEDS), snaps, stored)
    assert np.isnan(got["macd"][32]).all() and not np.isnan(got["macd"][33]).any()  # from c_{26+9-2}
    assert_same(got, expected(series))


def test_the_stored_form_continues_bit_for_bit() -> None:
    snaps = snapshots(3, 60, seed=2)
    symbols = [f"S{j}" for j in range(3)]
    a, _, got_a = replay(SessionState.new(symbols, needs=NEEDS), snaps)
    b, _, got_b = replay(SessionState.new(symbols, needs=NEEDS), snaps, stored=True)
    for k in got_a:
        np.testing.assert_array_equal(got_a[k], got_b[k], err_msg=k)
    assert a.to_doc() == b.to_doc()
    assert SessionState.from_doc(json.loads(json.dumps(a.to_doc()))).to_doc() == a.to_doc()


def test_indicators_required_on_the_first_bar_are_warmed_up_from_the_ring() -> None:
    snaps = snapshots(2, 50, seed=3)
    symbols = ["S0", "S1"]
    late = SessionState.new(symbols, needs=())
    late.apply(snaps[0])
    late.apply(snaps[1])
    late.require(NEEDS)  # what strategies.evaluate does on the first bar
    early = SessionState.new(symbols, needs=NEEDS)
    early.apply(snaps[0])
    early.apply(snaps[1])
    for snap in snaps[2:]:
        late.apply(snap), early.apply(snap)
    assert late.to_doc() == early.to_doc()


def test_too_late_to_warm_up_is_a_clear_error() -> None:
    st = SessionState.new(["S0"], needs=())
    for snap in snapshots(1, 5):
        st.apply(snap)
    with pytest.raises(ValueError, match="5 bars in and keeps only 2 bars"):
        st.require(["ema_9"])
    st.require([])  # nothing new: fine
    with pytest.raises(ValueError, match="bad indicator key 'ema_x'"):
        SessionState.new(["S0"], needs=["ema_x"])
    with pytest.raises(ValueError, match="unknown indicator key 'kama_3'"):
        SessionState.new(["S0"], needs=["kama_3"])
    with pytest.raises(ValueError, match="not kept by this session"):
        st.ema(9)
    with pytest.raises(ValueError, match="needs a ring of 21"):
        st.bollinger(20, 2.0, lag=1)


def test_unreadable_documents_are_a_clear_error() -> None:
    st = SessionState.new(["A", "B"])
    for snap in snapshots(2, 3):
        st.apply(snap)
    doc = st.to_doc()
    with pytest.raises(ValueError, match="array 'atr' is not readable"):
        SessionState.from_doc({**doc, "arrays": {**doc["arrays"], "atr": "f8z:not base64!"}})
    with pytest.raises(ValueError, match="array 'atr' has 3 values, expected 2"):
        SessionState.from_doc({**doc, "arrays": {**doc["arrays"], "atr": "1.0,2.0,3.0"}})
    with pytest.raises(ValueError, match="ring 'c' has"):
        SessionState.from_doc({**doc, "ring": doc["ring"] + 1})
    assert SessionState.from_doc(doc).to_doc() == doc  # the good document is untouched


def test_older_list_format_documents_still_load() -> None:
    st = SessionState.new(["A", "B"])
    for snap in snapshots(2, 3):
        st.apply(snap)
    doc = st.to_doc()
    old = {k: v for k, v in doc.items() if k not in ("needs", "ring", "rings")}
    old["arrays"] = {
        k: [None if x != x else x for x in SessionState.from_doc(doc).arrays[k].tolist()]
        for k in doc["arrays"]
    }
    back = SessionState.from_doc(old)
    np.testing.assert_array_equal(back.atr, st.atr)
    np.testing.assert_array_equal(back.vwap, st.vwap)


def test_document_size_stays_far_below_firestores_limit() -> None:
    """Every indicator the ten strategies' defaults need, 50 and 500 symbols (bench/bench_session.py prints
    the sizes and the per-bar cost)."""
    from tron.domain.plan import StrategyChoice
    from tron.domain.strategies import REGISTRY, session_needs

    needs = session_needs([StrategyChoice(n) for n in REGISTRY])
    sizes = {}
    for n_sym in (50, 500):
        st = SessionState.new([f"S{j}" for j in range(n_sym)], needs=needs)
        for snap in snapshots(n_sym, 40, seed=4):
            st.apply(snap)
        sizes[n_sym] = len(json.dumps(st.to_doc()).encode())
    assert sizes[50] < 100_000 and sizes[500] < 1_000_000  # Firestore's document limit is 1 MiB


def test_bars_from_snapshots_use_volume_deltas_and_day_extremes() -> None:
    st = SessionState.new(["A", "B"])
    assert (
        st.apply(Snapshot(at(9, 15), {"A": q("A", at(9, 15), 100, 0), "B": q("B", at(9, 15), 50, 0)})) is None
    )
    bar = st.apply(
        Snapshot(
            at(9, 16), {"A": q("A", at(9, 16), 101, 1000, hi=102.5, lo=99.5), "B": q("B", at(9, 16), 50, 400)}
        )
    )
    assert bar is not None
    assert list(bar.open) == [100, 50] and list(bar.close) == [101, 50]
    assert list(bar.high) == [102.5, 50] and list(bar.low) == [99.5, 50]
    assert list(bar.volume) == [1000, 400]
    assert st.vwap[0] == pytest.approx((102.5 + 99.5 + 101) / 3)
    doc = st.to_doc()
    assert SessionState.from_doc(doc).to_doc() == doc


def test_wilder_atr_after_warmup() -> None:
    st = SessionState.new(["A"])
    st.apply(Snapshot(at(9, 15), {"A": q("A", at(9, 15), 100, 0)}))
    px = 100.0
    for k in range(1, 16):
        px += 1 if k % 2 else -1
        st.apply(
            Snapshot(
                at(9, 15) + timedelta(minutes=k), {"A": q("A", at(9, 15) + timedelta(minutes=k), px, k * 10)}
            )
        )
    assert st.bars == 15 and st.atr[0] == pytest.approx(1.0)  # every true range is 1


def test_the_session_keeps_the_opening_range_the_planned_orb_uses() -> None:
    from tron.domain.strategies import opening_range_minutes, run

    assert opening_range_minutes([StrategyChoice("orb", {"range_minutes": 30})]) == 30
    assert opening_range_minutes([StrategyChoice("vwap")]) == 15
    st = SessionState.new(["A"], or_minutes=30)
    t0 = at(9, 15)
    st.apply(Snapshot(t0, {"A": q("A", t0, 100, 0)}))
    for k in range(1, 31):  # the range grows for 30 minutes, not 15
        px = 100 + (2 if k == 25 else 0)
        st.apply(Snapshot(t0 + timedelta(minutes=k), {"A": q("A", t0 + timedelta(minutes=k), px, 1000 * k)}))
    assert st.or_high[0] == 102
    bar = st.apply(Snapshot(at(9, 46), {"A": q("A", at(9, 46), 101.5, 40000)}))
    assert run("orb", {"range_minutes": 30}, st, bar) == []  # 101.5 is inside the 30-minute range
    with pytest.raises(ValueError, match="15-minute range, the session keeps 30"):
        run("orb", {"range_minutes": 15}, st, bar)
