"""The ten strategies on constructed bar series (a case that fires, one that must not, warm-up), the signal
aggregation and the parameter validation (tron.domain.strategies)."""

from __future__ import annotations

import json
from datetime import date, time, timedelta

import numpy as np
import pytest

from tron.domain import indicators as ind
from tron.domain.models import Asset, Quote, Side, Snapshot
from tron.domain.plan import AssetPlan, Plan, PlanContext, StrategyChoice, validate
from tron.domain.risk import RiskLimits
from tron.domain.session import DEFAULT_NEEDS, SessionState
from tron.domain.strategies import REGISTRY, Signal, aggregate, evaluate, new_session, run, session_needs
from tron.domain.timeutil import ist

DAY = date(2026, 11, 23)
T0 = ist(DAY, time(9, 15))


def series_signals(
    name: str,
    closes: np.ndarray,
    params: dict | None = None,
    volumes: np.ndarray | None = None,
    lows: dict[int, float] | None = None,
    highs: dict[int, float] | None = None,
) -> list[tuple[int, Signal]]:
    """Run one strategy on every bar of a constructed series. closes[0] is the opening print, closes[k]
    the close of bar k (one symbol per column); volumes[k] the volume of bar k; lows/highs put a wick on
    bar k (it shows in the bar when it is a new day extreme, as the live feed's day high/low does)."""
    c = np.atleast_2d(np.asarray(closes, dtype=float).T).T
    if c.shape[0] == 1:
        c = c.T
    n_bars, n_sym = c.shape
    vol = np.full(n_bars, 1000.0) if volumes is None else np.asarray(volumes, dtype=float)
    symbols = [f"S{j}" for j in range(n_sym)]
    st = new_session(symbols, [StrategyChoice(name, params or {})])
    day_hi, day_lo, cum = c[0].copy(), c[0].copy(), 0
    out = []
    for k in range(n_bars):
        ts = T0 + timedelta(minutes=k)
        cum += int(vol[k]) if k else 0
        day_hi = np.maximum(day_hi, c[k])
        day_lo = np.minimum(day_lo, c[k])
        if highs and k in highs:
            day_hi = np.maximum(day_hi, highs[k])
        if lows and k in lows:
            day_lo = np.minimum(day_lo, lows[k])
        quotes = {
            s: Quote(s, ts, float(c[k, j]), 0, 0, cum, float(c[0, j]), float(day_hi[j]), float(day_lo[j]), 0)
            for j, s in enumerate(symbols)
        }
        bar = st.apply(Snapshot(ts, quotes))
        if bar is not None:
            out.extend((k, sig) for sig in run(name, params, st, bar))
    return out


def fired(sigs: list[tuple[int, Signal]]) -> list[tuple[int, Side]]:
    return [(k, s.side) for k, s in sigs]


def v_shape(n_down: int, n_up: int, start: float = 100.0, down: float = 0.05, up: float = 0.2) -> np.ndarray:
    wiggle = 0.03 * np.sin(np.arange(n_down + n_up + 1) * 1.7)  # keeps ATR above zero
    path = np.concatenate(
        [start - down * np.arange(n_down + 1), start - down * n_down + up * np.arange(1, n_up + 1)]
    )
    return np.round(path + wiggle, 2)


def crosses_up(a: np.ndarray, b: np.ndarray, first: int = 14) -> list[int]:
    return [k for k in range(max(first, 1), len(a)) if a[k - 1] <= b[k - 1] and a[k] > b[k]]


def crosses(a: np.ndarray, b: np.ndarray, first: int = 14) -> list[tuple[int, Side]]:
    """Every bar where a crosses b, with the side a crossover strategy takes (reference computation)."""
    up = [(k, Side.BUY) for k in crosses_up(a, b, first)]
    down = [(k, Side.SELL) for k in crosses_up(-a, -b, first)]
    return sorted(up + down)


# --------------------------------------------------------------------------- the trend strategies


def test_ema_cross_fires_on_the_crossing_bar_only() -> None:
    c = v_shape(40, 30)
    fast, slow = ind.ema(c, 5), ind.ema(c, 15)
    want = crosses_up(fast, slow)
    assert len(want) == 1
    sigs = series_signals("ema_cross", c)
    assert fired(sigs) == [(want[0], Side.BUY)]
    sig = sigs[0][1]
    assert sig.strategy == "ema_cross" and 0.7 <= sig.confidence <= 0.95 and sig.price == c[want[0]]
    assert sig.reason.startswith("EMA5 ") and "crossed above EMA15" in sig.reason


def test_ema_cross_does_not_fire_while_lines_stay_crossed_or_before_warm_up() -> None:
    rising = np.round(100 + 0.1 * np.arange(80) + 0.03 * np.sin(np.arange(80)), 2)
    assert series_signals("ema_cross", rising) == []
    early = v_shape(4, 10)  # the lines cross before EMA15 is defined
    assert series_signals("ema_cross", early) == []


def test_macd_fires_when_the_histogram_changes_sign() -> None:
    c = v_shape(50, 40, up=0.15)
    _, _, hist = ind.macd(c, 12, 26, 9)
    want = crosses(hist, np.zeros_like(hist))
    assert (Side.BUY in {s for _, s in want}) and want[0][0] >= 34
    assert fired(series_signals("macd", c)) == want
    assert series_signals("macd", c[:34]) == []  # warm-up: defined from c_33, a cross needs two values


def test_momentum_fires_when_the_rate_of_change_turns_up_through_its_average() -> None:
    c = v_shape(40, 30, up=0.25)
    roc = np.full_like(c, np.nan)
    roc[10:] = 100 * (c[10:] / c[:-10] - 1)
    sig = np.full_like(c, np.nan)
    sig[10:] = ind.ema(roc[10:], 7)
    want = [(k, s) for k, s in crosses(roc, sig) if s.sign * roc[k] > 0.1]
    assert (Side.BUY in {s for _, s in want}) and want[0][0] >= 17
    assert fired(series_signals("momentum", c)) == want
    assert series_signals("momentum", c, {"min_roc_pct": 5.0}) == []


# --------------------------------------------------------------------------- the reversion strategies


def test_rsi_fires_when_it_leaves_oversold() -> None:
    c = v_shape(30, 20, down=0.1, up=0.15)
    r = ind.rsi(c, 7)
    want = [k for k in crosses_up(r, np.full_like(r, 25.0)) if r[k - 1] < 25]
    assert want
    sigs = series_signals("rsi", c)
    assert [(k, s) for k, s in fired(sigs) if s is Side.BUY] == [(k, Side.BUY) for k in want]
    assert "crossed back above oversold 25" in sigs[0][1].reason
    assert series_signals("rsi", v_shape(60, 0)) == []  # oversold all along: it never leaves


def test_rsi_sells_when_it_leaves_overbought() -> None:
    c = np.round(200 - v_shape(30, 20, down=0.1, up=0.15) + 100, 2)  # the mirror image: up, then down
    sigs = series_signals("rsi", c)
    assert sigs and all(s.side is Side.SELL for _, s in sigs)


def test_bollinger_fires_on_the_close_back_inside_the_band() -> None:
    rng = np.random.default_rng(3)
    c = np.round(100 + rng.normal(0, 0.05, 60), 2)
    c[40:43] = [99.2, 99.0, 99.1]  # a flush below the lower band
    c[43:] = np.round(99.8 + rng.normal(0, 0.03, 17), 2)  # and back inside
    _, _, lower = ind.bollinger(c, 20, 2.0)
    want = [k for k in range(21, len(c)) if c[k - 1] < lower[k - 1] and c[k] > lower[k]]
    assert 43 in want
    sigs = series_signals("bollinger", c)
    assert [k for k, s in sigs if s.side is Side.BUY] == want
    assert "back inside the lower Bollinger band" in dict(sigs)[43].reason
    calm = np.round(100 + rng.normal(0, 0.05, 60), 2)
    assert series_signals("bollinger", calm, {"num_std": 4.0}) == []  # never outside 4 sigma


def zigzag(n_bars: int, low: float = 100.0, step: float = 0.1, legs: int = 10) -> np.ndarray:
    """A triangle wave between low and low + step·legs (a clean range)."""
    k = np.arange(n_bars + 1) % (2 * legs)
    return np.round(low + step * np.where(k <= legs, k, 2 * legs - k), 2)


def test_range_reversal_buys_the_tests_of_the_range_low_and_sells_the_high() -> None:
    c = zigzag(80)
    sigs = series_signals("range_reversal", c, {"min_bounce_atr": 0.3})
    buys = [k for k, s in sigs if s.side is Side.BUY]
    sells = [k for k, s in sigs if s.side is Side.SELL]
    assert buys == [21, 41, 61]  # the bar after each bottom, once 20 bars make the range
    assert sells == [31, 51, 71]  # and after each top
    assert "tested the 20-bar range low 100.00" in dict(sigs)[41].reason


def test_range_reversal_stays_out_of_wide_ranges_and_trends() -> None:
    assert series_signals("range_reversal", zigzag(80, step=0.3)) == []  # 3% wide: not a range
    trend = np.round(100 + 0.05 * np.arange(80) + 0.02 * np.sin(np.arange(80)), 2)
    assert series_signals("range_reversal", trend) == []


# --------------------------------------------------------------------------- the breakout strategies


def test_volume_breakout_needs_the_volume_and_fires_once_per_breakout() -> None:
    rng = np.random.default_rng(5)
    c = np.round(100 + rng.uniform(-0.2, 0.2, 45), 2)
    c[40:] = [100.5, 100.7, 100.9, 101.0, 101.2]  # breaks the 20-bar high at bar 40 and keeps going
    loud = np.full(45, 1000.0)
    loud[40:] = 4000
    sigs = series_signals("volume_breakout", c, volumes=loud)
    assert fired(sigs) == [(40, Side.BUY)]
    assert "broke the 20-bar high" in sigs[0][1].reason and sigs[0][1].confidence >= 0.8
    assert series_signals("volume_breakout", c) == []  # the same breakout on ordinary volume
    assert series_signals("volume_breakout", c[:21], volumes=loud[:21]) == []  # not 20 bars yet


def test_scalp_takes_a_short_breakout_with_the_session_flow() -> None:
    rng = np.random.default_rng(7)
    base = np.round(100 + 0.02 * np.arange(40) + rng.uniform(-0.05, 0.05, 40), 2)
    c = np.concatenate([base, [base[-1] + 0.6]])  # clears the 10-bar high by far, above VWAP
    sigs = series_signals("scalp", c)
    assert (40, Side.BUY) in fired(sigs)
    down = np.round(200 - c, 2)  # the mirror: a break of the low, below VWAP
    assert (40, Side.SELL) in fired(series_signals("scalp", down))
    assert series_signals("scalp", c, {"start_minute": 60}) == []


def test_scalp_does_not_buy_below_vwap() -> None:
    c = np.concatenate([np.round(np.linspace(103, 100, 30), 2), np.full(10, 100.0), [100.4]])
    c[30:40] += np.round(0.02 * np.sin(np.arange(10)), 2)
    assert [s for k, s in series_signals("scalp", c) if k == 40 and s.side is Side.BUY] == []


def test_vwap_cross_and_orb_once_a_day() -> None:
    c = np.concatenate([np.round(100 - 0.02 * np.arange(30), 2), np.round(100.2 + 0.1 * np.arange(14), 2)])
    vol = np.full(len(c), 1000.0)
    vol[30:] = 3000
    sigs = series_signals("vwap", c, volumes=vol)
    assert sigs and sigs[0][1].side is Side.BUY and "crossed VWAP" in sigs[0][1].reason
    assert series_signals("vwap", c, {"start_minute": 60}, volumes=vol) == []
    orb = series_signals("orb", c, volumes=vol)
    assert len(orb) <= 1  # once a day


def test_every_strategy_respects_warm_up_events_and_signal_shape() -> None:
    """On random walks: nothing before the indicators are defined, no repeat of the same side on the very
    next bar (events, not states), confidence in [0, 1], price the bar's close, ATR the session's."""
    rng = np.random.default_rng(11)
    c = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.002, (200, 12)), axis=0)), 2)
    vol = rng.integers(500, 3000, 200).astype(float)
    first = {
        "orb": 16, "vwap": 20, "scalp": 15, "volume_breakout": 21, "range_reversal": 20,
        "ema_cross": 15, "macd": 34, "momentum": 17, "rsi": 14, "bollinger": 20,
    }  # fmt: skip
    assert set(first) == set(REGISTRY)
    for name in REGISTRY:
        sigs = series_signals(name, c, volumes=vol)
        assert sigs or name in ("orb", "vwap"), f"{name} never fired on 200 random bars × 12 symbols"
        seen = set()
        for k, s in sigs:
            assert k >= first[name], f"{name} fired at bar {k}"
            assert 0 <= s.confidence <= 1 and s.strategy == name and s.reason and s.atr > 0
            assert s.price == c[k, int(s.symbol[1:])]
            if name != "range_reversal":
                assert (k - 1, s.symbol, s.side) not in seen, f"{name} fired on consecutive bars"
            seen.add((k, s.symbol, s.side))


# --------------------------------------------------------------------------- aggregation


def sig(strategy: str, side: Side, conf: float, symbol: str = "A") -> Signal:
    return Signal(symbol, side, conf, strategy, f"{strategy} said so", 100.0, 0.5)


def test_a_lone_signal_passes_unchanged_and_order_is_strongest_first() -> None:
    a, b = sig("rsi", Side.BUY, 0.7, "A"), sig("macd", Side.SELL, 0.9, "B")
    assert aggregate([a, b]) == [b, a]


def test_agreeing_signals_merge_with_a_confidence_weighted_mean() -> None:
    out = aggregate([sig("rsi", Side.BUY, 0.6), sig("bollinger", Side.BUY, 0.8)])
    assert len(out) == 1
    m = out[0]
    assert m.strategy == "bollinger" and m.agree == ("bollinger", "rsi") and m.side is Side.BUY
    assert m.confidence == pytest.approx((0.36 + 0.64) / 1.4, abs=1e-6)
    assert "bollinger: bollinger said so; rsi: rsi said so" == m.reason


def test_opposing_signals_are_netted_and_a_tie_cancels() -> None:
    out = aggregate([sig("rsi", Side.BUY, 0.8), sig("macd", Side.SELL, 0.6)])
    assert [(s.side, s.strategy) for s in out] == [(Side.BUY, "rsi")]
    assert out[0].confidence == pytest.approx(0.8 * 0.2 / 1.4, abs=1e-6)
    assert "netted against macd (0.60)" in out[0].reason
    assert aggregate([sig("rsi", Side.BUY, 0.7), sig("macd", Side.SELL, 0.7)]) == []


def test_min_agreement() -> None:
    two = [sig("rsi", Side.BUY, 0.7), sig("bollinger", Side.BUY, 0.75), sig("vwap", Side.SELL, 0.6, "B")]
    assert [s.symbol for s in aggregate(two, min_agreement=2)] == ["A"]
    assert aggregate(two, min_agreement=3) == []
    with pytest.raises(ValueError, match="min_agreement must be at least 1"):
        aggregate(two, min_agreement=0)


def test_the_plan_carries_min_agreement_and_validates_it() -> None:
    env = {Asset.STOCKS: RiskLimits()}
    ctx = PlanContext(DAY, [], env, {Asset.STOCKS: True})
    choices = (StrategyChoice("rsi"), StrategyChoice("bollinger"))
    ap = AssetPlan(Asset.STOCKS, True, choices, RiskLimits(), min_agreement=2)
    plan = Plan(DAY, "rules", "ranging", {Asset.STOCKS: ap})
    assert validate(plan, ctx) == []
    back = Plan.from_doc(json.loads(json.dumps(plan.to_doc())))
    assert back.assets[Asset.STOCKS].min_agreement == 2
    assert AssetPlan(Asset.STOCKS, True, choices, RiskLimits()).min_agreement == 1
    for bad in (0, 3):
        wrong = Plan(
            DAY,
            "rules",
            "ranging",
            {Asset.STOCKS: AssetPlan(Asset.STOCKS, True, choices, RiskLimits(), min_agreement=bad)},
        )
        assert any("min_agreement" in p for p in validate(wrong, ctx))


def test_evaluate_runs_the_plan_and_aggregates() -> None:
    c = v_shape(40, 30)
    st = new_session(["S0"], [StrategyChoice("ema_cross")])
    choices = [StrategyChoice("ema_cross"), StrategyChoice("momentum")]
    got = []
    for k in range(len(c)):
        ts = T0 + timedelta(minutes=k)
        bar = st.apply(Snapshot(ts, {"S0": Quote("S0", ts, float(c[k]), 0, 0, 1000 * k, 100, 200, 50, 0)}))
        if bar is not None:
            got += [(k, s.agree) for s in evaluate(choices, st, bar, min_agreement=2)]
    assert got == []  # the two never fire on the same bar here: with 2 required, nothing
    assert set(st.needs) >= {"ema_5", "ema_15", "rocema_10_7"}  # momentum's needs were added on bar 1


# --------------------------------------------------------------------------- parameters


def test_parameter_validation_errors() -> None:
    with pytest.raises(ValueError, match="unknown parameter 'speed'"):
        run("ema_cross", {"speed": 3}, SessionState.new(["A"]), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"rsi.period=1 outside \[2, 50\]"):
        REGISTRY["rsi"].resolve({"period": 1})
    with pytest.raises(ValueError, match="whole number of bars"):
        REGISTRY["bollinger"].resolve({"period": 20.5})
    with pytest.raises(ValueError, match="is not a number"):
        REGISTRY["bollinger"].resolve({"num_std": "wide"})
    with pytest.raises(ValueError, match="is not a number"):
        REGISTRY["bollinger"].resolve({"num_std": True})
    with pytest.raises(ValueError, match="fast 21 must be shorter than slow 9"):
        REGISTRY["ema_cross"].resolve({"fast": 21, "slow": 9})
    with pytest.raises(ValueError, match="macd: fast 26 must be shorter"):
        REGISTRY["macd"].resolve({"fast": 26, "slow": 26})
    with pytest.raises(ValueError, match="unknown strategy 'magic'"):
        session_needs([StrategyChoice("magic")])
    assert REGISTRY["bollinger"].resolve({"num_std": "2.5"})["num_std"] == 2.5  # CLI strings are numbers


def test_every_strategy_is_documented_with_defaults_inside_their_ranges() -> None:
    assert set(REGISTRY) == {
        "orb", "vwap", "scalp", "range_reversal", "ema_cross", "rsi", "bollinger", "volume_breakout",
        "momentum", "macd",
    }  # fmt: skip
    for s in REGISTRY.values():
        assert s.doc.strip() and s.params
        for k, p in s.params.items():
            assert p.low <= p.default <= p.high and p.doc, f"{s.name}.{k}"
        s.resolve({})
    seeds = {("ema_cross", "fast"): 5, ("ema_cross", "slow"): 15, ("rsi", "period"): 7, ("rsi", "oversold"): 25,
             ("rsi", "overbought"): 75, ("bollinger", "period"): 20, ("bollinger", "num_std"): 2,
             ("volume_breakout", "volume_mult"): 1.3, ("momentum", "lookback"): 10, ("momentum", "signal"): 7,
             ("macd", "fast"): 12, ("macd", "slow"): 26, ("macd", "signal"): 9}  # fmt: skip
    for (name, k), v in seeds.items():
        assert REGISTRY[name].params[k].default == v


def test_the_default_session_keeps_what_every_default_strategy_reads() -> None:
    assert sorted(DEFAULT_NEEDS) == session_needs([StrategyChoice(n) for n in REGISTRY])
    assert new_session(["A"], [StrategyChoice("orb", {"range_minutes": 30})]).or_minutes == 30
    assert new_session(["A"], [StrategyChoice("macd", {"fast": 5, "slow": 35, "signal": 5})]).needs == [
        "macd_5_35_5"
    ]


def test_clamp_is_np_clip_on_one_number() -> None:
    from tron.domain.strategies.base import clamp

    for x in (-1.0, -0.0, 0.0, 0.3, 1.0, 2.9999, 3.0, 7.5, float("inf"), float("-inf"), np.float64(1.25)):
        assert clamp(x, 0.0, 3.0) == float(np.clip(x, 0.0, 3.0))
    assert np.isnan(clamp(float("nan"), 0.0, 1.0)) and np.isnan(float(np.clip(np.nan, 0.0, 1.0)))
