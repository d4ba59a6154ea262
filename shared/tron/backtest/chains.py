"""Recorded option chains read back for backtests: the Parquet files the end of day archives as
chains/{date}/NIFTY.parquet (tron.services.chain_archive, whose docstring holds the columns) turned into the
minutes' snapshots the options tick saw (the options, the index and the future) and the chain's instruments.

Kite has no history of expired contracts; these files are how an option strategy meets real chains again.
pyarrow is imported when a file is read, never at start-up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tron.backtest.data import InputError, Session
from tron.domain.models import Asset, Instrument, Quote, Snapshot
from tron.domain.timeutil import IST

__all__ = ["ChainDay", "read_chain_day"]

NIFTY_LOT = 65  # a NIFTY contract's lot when the file does not record one
METADATA_KEY = b"tron.chain"
WHOLE_QUOTES = ("spot_quote", "future_quote")  # struct columns: the index's and the future's Quote
REQUIRED = ("ts", "tradingsymbol", "expiry", "strike", "option_type", "bid", "ask", "ltp", "volume")


@dataclass
class ChainDay:
    """One recorded day of a chain: a snapshot per minute, oldest first (the options quoted that minute, the
    index and the future when recorded), the tick's time of each (``nows``), every instrument by symbol,
    and the index's and the future's symbols (None when the file does not name them)."""

    day: date
    snapshots: list[Snapshot]
    nows: list[datetime]
    instruments: dict[str, Instrument]
    spot: str | None = None
    future: str | None = None

    def session(self) -> Session:
        """The day as the backtester's :class:`~tron.backtest.data.Session`, with its instruments and the
        roles of the future and the index (no minute candles: a chain records quotes only)."""
        seen: dict[str, None] = {}
        for snap in self.snapshots:
            seen.update(dict.fromkeys(snap.quotes))
        roles = {k: v for k, v in (("underlying", self.future), ("spot", self.spot)) if v}
        return Session(
            self.day, self.snapshots, self.nows, symbols=list(seen), instruments=self.instruments, roles=roles
        )


def read_chain_day(source: bytes | str | Path) -> ChainDay:
    """A chain file (its path, or its bytes as the archive's ``read`` gives them) as a :class:`ChainDay`.

    Rows are grouped by the tick's minute (``minute``; ``ts`` in a file without it) into one Snapshot each,
    at the rows' ``ts``. The quotes are rebuilt exactly where the file holds the whole Quote (TRON's files
    do); in a file with only the required columns a quote's time is its row's and its day's open, high,
    low and previous close are its last price. Instruments come from the file's ``tron.chain`` metadata,
    else from the rows: options of segment "options" on NFO, a NIFTY lot of 65, tick 0.05. InputError when
    the file is missing, is not Parquet, lacks a required column or has no rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, bytes | bytearray | memoryview):
        name, where = "the chain data", pa.BufferReader(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"chain file not found: {path}")
        name, where = str(path), str(path)
    try:
        table = pq.read_table(where)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise InputError(f"{name}: not a Parquet chain file ({e})") from None
    if missing := [c for c in REQUIRED if c not in table.column_names]:
        raise InputError(f"{name}: not a chain file: no column {', '.join(missing)}")
    if table.num_rows == 0:
        raise InputError(f"{name}: no rows")
    meta = _metadata(table.schema.metadata, name)
    cols: dict[str, list[Any]] = {
        c: table.column(c).to_pylist() for c in table.column_names if c not in WHOLE_QUOTES
    }
    ts = [_ist(t) for t in cols["ts"]]
    minutes = [_ist(t) for t in cols["minute"]] if "minute" in cols else ts
    groups: dict[datetime, list[int]] = {}
    for r, m in enumerate(minutes):
        groups.setdefault(m, []).append(r)
    order = sorted(groups)
    firsts = [groups[m][0] for m in order]
    whole = {  # the index's and the future's Quote, once per minute (the same on each of its rows)
        c: table.column(c).take(pa.array(firsts)).to_pylist() for c in WHOLE_QUOTES if c in table.column_names
    }
    snapshots = []
    for k, m in enumerate(order):
        quotes = {q.symbol: q for q in (_option_quote(cols, r, ts[r]) for r in groups[m])}
        for c in WHOLE_QUOTES:
            if (doc := whole.get(c, [None] * len(order))[k]) is not None:
                quotes[doc["symbol"]] = _whole_quote(doc)
        snapshots.append(Snapshot(ts[groups[m][0]], quotes))
    instruments = _instruments(meta, cols)
    day = date.fromisoformat(meta["day"]) if meta.get("day") else order[0].date()
    return ChainDay(day, snapshots, order, instruments, meta.get("spot"), meta.get("future"))


def _metadata(raw: dict[bytes, bytes] | None, name: str) -> dict[str, Any]:
    if not raw or METADATA_KEY not in raw:
        return {}
    try:
        meta = json.loads(raw[METADATA_KEY])
    except ValueError as e:
        raise InputError(f"{name}: unreadable {METADATA_KEY.decode()} metadata ({e})") from None
    return meta if isinstance(meta, dict) else {}


def _ist(t: datetime) -> datetime:
    return t.astimezone(IST)


def _option_quote(cols: dict[str, list[Any]], r: int, ts: datetime) -> Quote:
    last = _price(cols["ltp"][r])
    qts = cols["quote_ts"][r] if "quote_ts" in cols else None

    def day_field(c: str) -> float:
        return _price(cols[c][r]) if c in cols else last

    return Quote(
        symbol=cols["tradingsymbol"][r],
        ts=_ist(qts) if qts is not None else ts,
        last=last,
        bid=_price(cols["bid"][r]),
        ask=_price(cols["ask"][r]),
        volume=int(cols["volume"][r] or 0),
        open=day_field("open"),
        high=day_field("high"),
        low=day_field("low"),
        prev_close=day_field("prev_close"),
    )


def _whole_quote(doc: dict[str, Any]) -> Quote:
    return Quote(
        symbol=doc["symbol"],
        ts=_ist(doc["ts"]),
        last=_price(doc["last"]),
        bid=_price(doc["bid"]),
        ask=_price(doc["ask"]),
        volume=int(doc["volume"] or 0),
        open=_price(doc["open"]),
        high=_price(doc["high"]),
        low=_price(doc["low"]),
        prev_close=_price(doc["prev_close"]),
    )


def _price(v: Any) -> float:
    """A recorded price; a missing one is 0.0, as Kite quotes an instrument that has not traded."""
    return 0.0 if v is None else float(v)


def _instruments(meta: dict[str, Any], cols: dict[str, list[Any]]) -> dict[str, Instrument]:
    """The recorded instruments (the metadata's), and every option of the rows the metadata does not list."""
    out = {s: _instrument(s, d) for s, d in (meta.get("instruments") or {}).items()}
    underlyings = cols.get("underlying")
    for r, symbol in enumerate(cols["tradingsymbol"]):
        if symbol not in out:
            out[symbol] = Instrument(
                symbol,
                "NFO",
                Asset.OPTIONS,
                lot_size=NIFTY_LOT,
                segment="options",
                sector="Index",
                expiry=cols["expiry"][r],
                strike=None if cols["strike"][r] is None else float(cols["strike"][r]),
                option_type=str(cols["option_type"][r] or ""),
                underlying=str(underlyings[r] or "") if underlyings else "",
            )
    return out


def _instrument(symbol: str, d: dict[str, Any]) -> Instrument:
    """An instrument as tron.services.chain_archive records it in the file's metadata."""
    fno = d.get("option_type") in ("CE", "PE", "FUT")
    return Instrument(
        symbol,
        str(d.get("exchange") or ("NFO" if fno else "NSE")),
        Asset.OPTIONS,
        token=int(d.get("token") or 0),
        lot_size=int(d.get("lot_size") or (NIFTY_LOT if fno else 1)),
        tick_size=Decimal(str(d.get("tick_size") or "0.05")),
        sector=str(d.get("sector") or ""),
        segment=str(d.get("segment") or ("options" if fno else "index")),
        expiry=date.fromisoformat(d["expiry"]) if d.get("expiry") else None,
        strike=None if d.get("strike") is None else float(d["strike"]),
        option_type=str(d.get("option_type") or ""),
        underlying=str(d.get("underlying") or ""),
    )
