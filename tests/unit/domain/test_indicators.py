"""tron.domain.indicators against TA-Lib (values and warm-up NaNs) and against plain pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tron.domain import indicators as ind

talib = pytest.importorskip("talib")

SYMBOLS = 5
RTOL = 1e-9


def _walk(bars: int, seed: int) -> dict[str, np.ndarray]:
    """Random-walk OHLCV, shape (bars, SYMBOLS), with a different price level per symbol."""
    rng = np.random.default_rng(seed)
    level = np.array([20.0, 100.0, 550.0, 1800.0, 4200.0])[:SYMBOLS]
    close = level * np.exp(np.cumsum(rng.normal(0.0, 0.002, size=(bars, SYMBOLS)), axis=0))
    open_ = np.vstack([close[:1], close[:-1]])
    spread = close * rng.uniform(0.0, 0.003, size=(bars, SYMBOLS))
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread * rng.uniform(0.0, 1.0, size=(bars, SYMBOLS))
    volume = rng.integers(1, 5000, size=(bars, SYMBOLS)).astype(np.float64)
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Same shape, NaN at the same positions, other values within RTOL relative."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    mismatch = np.flatnonzero(nan_a != nan_e)
    assert mismatch.size == 0, f"NaN positions differ at flat indices {mismatch[:10]}"
    np.testing.assert_allclose(actual[~nan_a], expected[~nan_e], rtol=RTOL, atol=0.0)


def _per_symbol(func, *arrays: np.ndarray, **kwargs) -> np.ndarray | tuple[np.ndarray, ...]:
    """Apply a 1-D TA-Lib function column by column and stack the results back to (bars, symbols)."""
    results = [func(*(a[:, j] for a in arrays), **kwargs) for j in range(arrays[0].shape[1])]
    if isinstance(results[0], tuple):
        return tuple(np.column_stack([r[i] for r in results]) for i in range(len(results[0])))
    return np.column_stack(results)


# 2000 bars: long; 30 bars: shorter than MACD's 33-row warm-up; 10: shorter than everything but SMA(5).
LENGTHS = [2000, 30, 10]


@pytest.fixture(params=LENGTHS, ids=lambda n: f"{n}bars")
def bars(request: pytest.FixtureRequest) -> dict[str, np.ndarray]:
    return _walk(request.param, seed=request.param)


@pytest.mark.parametrize("n", [2, 5, 20, 50])
def test_sma_matches_talib(bars, n):
    assert_same(ind.sma(bars["close"], n), _per_symbol(talib.SMA, bars["close"], timeperiod=n))


@pytest.mark.parametrize("n", [2, 5, 20, 50])
def test_ema_matches_talib(bars, n):
    assert_same(ind.ema(bars["close"], n), _per_symbol(talib.EMA, bars["close"], timeperiod=n))


@pytest.mark.parametrize("n", [2, 14, 30])
def test_rsi_matches_talib(bars, n):
    assert_same(ind.rsi(bars["close"], n), _per_symbol(talib.RSI, bars["close"], timeperiod=n))


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (3, 10, 16), (26, 12, 9)])
def test_macd_matches_talib(bars, fast, slow, signal):
    ours = ind.macd(bars["close"], fast, slow, signal)
    theirs = _per_symbol(talib.MACD, bars["close"], fastperiod=fast, slowperiod=slow, signalperiod=signal)
    for a, b in zip(ours, theirs, strict=True):
        assert_same(a, b)


@pytest.mark.parametrize(("n", "k"), [(20, 2.0), (5, 1.5), (2, 2.0)])
def test_bollinger_matches_talib(bars, n, k):
    ours = ind.bollinger(bars["close"], n, k)
    theirs = _per_symbol(talib.BBANDS, bars["close"], timeperiod=n, nbdevup=k, nbdevdn=k, matype=0)
    for a, b in zip(ours, theirs, strict=True):
        assert_same(a, b)


@pytest.mark.parametrize("n", [1, 2, 14, 40])
def test_atr_matches_talib(bars, n):
    ours = ind.atr(bars["high"], bars["low"], bars["close"], n)
    assert_same(ours, _per_symbol(talib.ATR, bars["high"], bars["low"], bars["close"], timeperiod=n))


def test_one_dimensional_in_one_dimensional_out():
    data = _walk(300, seed=7)
    close = data["close"][:, 1]
    assert ind.sma(close, 20).shape == (300,)
    assert_same(ind.sma(close, 20), talib.SMA(close, 20))
    assert_same(ind.ema(close, 20), talib.EMA(close, 20))
    assert_same(ind.rsi(close), talib.RSI(close, 14))
    for a, b in zip(ind.macd(close), talib.MACD(close, 12, 26, 9), strict=True):
        assert a.shape == (300,)
        assert_same(a, b)
    for a, b in zip(ind.bollinger(close), talib.BBANDS(close, 20, 2.0, 2.0, 0), strict=True):
        assert_same(a, b)
    h, lo = data["high"][:, 1], data["low"][:, 1]
    assert_same(ind.atr(h, lo, close), talib.ATR(h, lo, close, 14))


def test_flat_and_stepped_series_match_talib():
    flat = np.full((60, 2), 250.0)
    flat[40:, 1] += 0.05  # one step up in the second symbol
    assert_same(ind.rsi(flat, 14), _per_symbol(talib.RSI, flat, timeperiod=14))
    for a, b in zip(ind.bollinger(flat), _per_symbol(talib.BBANDS, flat, timeperiod=20), strict=True):
        assert_same(a, b)
    for a, b in zip(ind.macd(flat), _per_symbol(talib.MACD, flat), strict=True):
        assert_same(a, b)
    assert_same(ind.atr(flat, flat, flat, 14), _per_symbol(talib.ATR, flat, flat, flat, timeperiod=14))


def test_macd_warm_up_is_slow_plus_signal_minus_two():
    line, signal, hist = ind.macd(_walk(100, seed=3)["close"])
    for out in (line, signal, hist):
        assert np.isnan(out[:33]).all()
        assert not np.isnan(out[33:]).any()


def test_empty_input_and_bad_arguments():
    assert ind.sma(np.empty((0, 3)), 5).shape == (0, 3)
    assert ind.rsi(np.empty(0)).shape == (0,)
    with pytest.raises(ValueError):
        ind.sma(np.ones(10), 0)
    with pytest.raises(ValueError):
        ind.ema(np.ones((2, 2, 2)), 2)
    with pytest.raises(ValueError):
        ind.atr(np.ones((10, 2)), np.ones((10, 3)), np.ones((10, 2)))
    with pytest.raises(ValueError):
        ind.vwap(np.ones(4), np.ones(4), np.ones(4), np.ones(4), np.zeros(3, dtype=int))


# --------------------------------------------------------------------------- session indicators


def _sessions(days: int, bars_per_day: int, seed: int, *, missing: tuple[int, ...] = ()):
    """Minute bars for `days` sessions; `missing` minute indices are dropped from the second day."""
    data = _walk(days * bars_per_day, seed)
    session = np.repeat(np.arange(739000, 739000 + days), bars_per_day)
    minutes = np.tile(np.arange(bars_per_day), days).astype(float)
    keep = ~((session == 739001) & np.isin(minutes, missing))
    return {k: v[keep] for k, v in data.items()}, session[keep], minutes[keep]


def _long_frame(data: dict[str, np.ndarray], session: np.ndarray, minutes: np.ndarray) -> pd.DataFrame:
    frames = []
    for j in range(data["close"].shape[1]):
        frames.append(
            pd.DataFrame(
                {
                    "symbol": j,
                    "row": np.arange(len(session)),
                    "session": session,
                    "minute": minutes,
                    **{k: v[:, j] for k, v in data.items()},
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _to_wide(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame.pivot(index="row", columns="symbol", values=column).to_numpy()


def test_vwap_matches_pandas_groupby():
    data, session, minutes = _sessions(days=3, bars_per_day=375, seed=11)
    data["volume"][0, 0] = 0.0  # session opens with no volume: undefined until volume trades
    data["volume"][375:380, 2] = 0.0
    frame = _long_frame(data, session, minutes)
    frame["pv"] = (frame["high"] + frame["low"] + frame["close"]) / 3 * frame["volume"]
    grouped = frame.groupby(["symbol", "session"])
    frame["cum_pv"] = grouped["pv"].cumsum()
    frame["cum_v"] = grouped["volume"].cumsum()
    frame["vwap"] = (frame["cum_pv"] / frame["cum_v"]).where(frame["cum_v"] > 0)
    expected = _to_wide(frame, "vwap")

    ours = ind.vwap(data["high"], data["low"], data["close"], data["volume"], session)
    assert np.isnan(ours[0, 0]) and np.isnan(ours[375:380, 2]).all()
    assert_same(ours, expected)
    one = ind.vwap(data["high"][:, 3], data["low"][:, 3], data["close"][:, 3], data["volume"][:, 3], session)
    assert_same(one, expected[:, 3])


@pytest.mark.parametrize("n", [15, 5, 1])
@pytest.mark.parametrize("missing", [(), (3, 14), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)])
def test_opening_range_matches_pandas_groupby(n, missing):
    data, session, minutes = _sessions(days=3, bars_per_day=60, seed=5, missing=missing)
    frame = _long_frame(data, session, minutes)
    window = frame[(frame["minute"] >= 0) & (frame["minute"] < n)]
    ranges = window.groupby(["symbol", "session"]).agg(or_high=("high", "max"), or_low=("low", "min"))
    frame = frame.join(ranges, on=["symbol", "session"])
    not_ready = frame["minute"] < n - 1
    frame.loc[not_ready, ["or_high", "or_low"]] = np.nan
    expected_high, expected_low = _to_wide(frame, "or_high"), _to_wide(frame, "or_low")

    or_high, or_low = ind.opening_range(data["high"], data["low"], session, minutes, n)
    assert_same(or_high, expected_high)
    assert_same(or_low, expected_low)
    # Day one is complete: NaN on exactly its first n-1 rows, then constant for the session.
    assert np.isnan(or_high[: n - 1]).all()
    assert not np.isnan(or_high[n - 1 : 60]).any()
    np.testing.assert_array_equal(
        or_high[n - 1 : 60], np.broadcast_to(data["high"][:n].max(axis=0), (61 - n, 5))
    )


def test_opening_range_one_dimensional_and_pre_open_bars_excluded():
    high = np.array([50.0, 10.0, 12.0, 11.0, 99.0, 13.0, 14.0])
    low = np.array([1.0, 9.0, 8.0, 10.0, 0.5, 12.0, 7.0])
    session = np.array([1, 1, 1, 1, 1, 2, 2])
    minutes = np.array([-1.0, 0.0, 1.0, 2.0, 3.0, 0.0, 1.0])  # first row is a pre-open bar
    or_high, or_low = ind.opening_range(high, low, session, minutes, n=3)
    nan = np.nan
    np.testing.assert_array_equal(or_high, [nan, nan, nan, 12.0, 12.0, nan, nan])
    np.testing.assert_array_equal(or_low, [nan, nan, nan, 8.0, 8.0, nan, nan])
