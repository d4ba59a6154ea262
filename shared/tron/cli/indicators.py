"""`tron indicators`: compute the standard indicator set for one OHLCV CSV.

    tron indicators --data FILE.csv --out OUT.csv

The table is :func:`compute`'s; bad input is a CommandError (exit code 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tron.backtest.errors import InputError
from tron.cli.errors import CommandError

if TYPE_CHECKING:  # imported by the functions: numpy and pandas would slow every `tron` start
    import pandas as pd

OUTPUT_COLUMNS = (
    "date",
    "sma_20",
    "ema_20",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_14",
    "vwap",
    "or_high_15",
    "or_low_15",
)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``indicators`` subcommand to the ``tron`` CLI's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "indicators",
        help="compute SMA/EMA/RSI/MACD/Bollinger/ATR/VWAP/opening range for an OHLCV CSV",
        description=(
            "Read OHLCV bars (date,open,high,low,close,volume; naive dates are IST) and write the date "
            "plus sma_20, ema_20, rsi_14, macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, "
            "atr_14, vwap, or_high_15, or_low_15 (empty where not yet defined)."
        ),
    )
    parser.add_argument("--data", required=True, type=Path, help="input CSV: date,open,high,low,close,volume")
    parser.add_argument("--out", required=True, type=Path, help="output CSV path")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Read ``--data``, write the indicator table to ``--out`` (empty cells where not yet defined); 0, or
    CommandError for bad input (exit 2) or an output that cannot be written."""
    from tron.backtest.bars_csv import read_frame

    try:
        result = compute(read_frame(Path(args.data)))
    except InputError as exc:
        raise CommandError(str(exc)) from None
    try:
        result.to_csv(Path(args.out), index=False, na_rep="")
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    return 0


def compute(frame: pd.DataFrame) -> pd.DataFrame:
    """Indicator table for an OHLCV frame of strings (as read from the CSV). Raises InputError.

    Input columns: ``date,open,high,low,close,volume`` (others ignored), one row per bar, strictly
    increasing dates. ``date`` is ISO 8601 with or without an offset (``2026-11-20 09:15:00``,
    ``2026-11-20T09:15:00+05:30`` or Kite's ``2026-11-20T09:15:00+0530``); naive dates are IST. Sessions
    are IST calendar dates and minutes since open are counted from 09:15 IST.

    Output columns (``OUTPUT_COLUMNS``): ``date`` (the input text, unchanged) then sma_20, ema_20, rsi_14,
    macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, atr_14, vwap, or_high_15, or_low_15; NaN
    where an indicator is not yet defined.
    """
    import numpy as np
    import pandas as pd

    from tron.backtest.bars_csv import numeric, parse_time
    from tron.domain import indicators as ind
    from tron.domain.timeutil import MARKET_OPEN

    dates = frame["date"].astype(str)
    # Row numbers in messages count the header as line 1.
    stamps = [parse_time(text, i + 2) for i, text in enumerate(dates)]
    for i in range(1, len(stamps)):
        if stamps[i] <= stamps[i - 1]:
            raise InputError(
                f"row {i + 2}: dates must be strictly increasing ({dates.iloc[i - 1]!r} then {dates.iloc[i]!r})"
            )
    high, low, close, volume = (numeric(frame, c) for c in ("high", "low", "close", "volume"))
    numeric(frame, "open")  # validated for consistency, not used by these indicators

    session = np.array([ts.date().toordinal() for ts in stamps], dtype=np.int64)
    open_minute = MARKET_OPEN.hour * 60 + MARKET_OPEN.minute
    minutes = np.array(
        [ts.hour * 60 + ts.minute + ts.second / 60.0 - open_minute for ts in stamps], dtype=np.float64
    )

    macd_line, macd_signal, macd_hist = ind.macd(close, 12, 26, 9)
    bb_upper, bb_middle, bb_lower = ind.bollinger(close, 20, 2.0)
    or_high, or_low = ind.opening_range(high, low, session, minutes, 15)
    columns: dict[str, np.ndarray] = {
        "sma_20": ind.sma(close, 20),
        "ema_20": ind.ema(close, 20),
        "rsi_14": ind.rsi(close, 14),
        "macd": macd_line,
        "macd_signal": macd_signal,
        "macd_hist": macd_hist,
        "bb_upper": bb_upper,
        "bb_middle": bb_middle,
        "bb_lower": bb_lower,
        "atr_14": ind.atr(high, low, close, 14),
        "vwap": ind.vwap(high, low, close, volume, session),
        "or_high_15": or_high,
        "or_low_15": or_low,
    }
    out = pd.DataFrame({"date": dates.to_numpy()})
    for name, values in columns.items():
        out[name] = values
    return out.loc[:, list(OUTPUT_COLUMNS)]
