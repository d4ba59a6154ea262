"""The day's option chains as Parquet: every snapshot the options ticks read, one row per minute and contract,
archived at the end of day as chains/{date}/NIFTY.parquet.

Kite keeps no history of expired contracts, so an option seller can backtest on real chains only by keeping
them. The ticks already archive each minute's batched quote (replay/{date}/options.jsonl, tron.services.tick);
this turns that day of JSON lines, with the instruments of the asset's state document, into one columnar file
(zstd) that pandas, DuckDB or Spark read as is and tron.backtest.chains reads back into snapshots.

Columns, rows sorted by ``ts`` then ``tradingsymbol``:

=============== ======================= ===========================================================
ts              timestamp[us, IST]      the snapshot's time (the replay record's ``ts``)
tradingsymbol   string                  the option's Kite tradingsymbol
underlying      string                  its underlying as Kite lists it ("NIFTY 50")
expiry          date32                  its expiry
strike          float64
option_type     string                  CE | PE
bid, ask, ltp   float64                 best bid and ask, last traded price
volume          int64                   cumulative for the day
oi              int64, null             open interest: null until TRON's Quote carries Kite's ``oi``
spot            float64, null           the index's last price in the same snapshot
iv              float64, null           Black–Scholes implied volatility of ``ltp`` against ``spot``
                                        (tron.domain.options, at tron.domain.contracts.RATE, days to
                                        the 15:30 expiry from ``ts``); null when it cannot be inverted
                                        (no spot, no price, a premium outside the no-arbitrage bounds)
future          float64, null           the traded NIFTY future's last price in the same snapshot
minute          timestamp[ms, IST]      the tick's minute (the record's ``now``): what a replay's clock
                                        reads
quote_ts        timestamp[us, IST]      the quote's own time (Kite's, may precede ``ts``)
open, high,     float64                 the rest of the Quote (the day's OHLC so far, the previous
low, prev_close                         close), so a backtest replays exactly what the tick saw
spot_quote,     struct, null            the index's and the future's whole Quote (symbol, ts, last, bid,
future_quote                            ask, volume, open, high, low, prev_close)
=============== ======================= ===========================================================

The file's schema metadata ``tron.chain`` (JSON) names the format version, the day, the index and future
symbols and every instrument of the chain (exchange, lot and tick size, segment, expiry, strike, type).
Columns that repeat within a minute (spot, future, their quotes) cost almost nothing once encoded. The
minutes are encoded a row group at a time (``ROW_GROUP_ROWS``), so memory stays flat on a wide chain.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tron.domain import options
from tron.domain.contracts import RATE, days_to_expiry
from tron.domain.models import Asset, Instrument, Quote
from tron.domain.timeutil import require_ist
from tron.services.deps import Deps
from tron.services.paths import chain_path, replay_path, state_path
from tron.services.tick_state import instruments_from_doc

log = logging.getLogger("tron.chain_archive")

UNDERLYING = "NIFTY"  # the file's name: TRON's options are NIFTY's
FORMAT_VERSION = 1
METADATA_KEY = b"tron.chain"
COMPRESSION = "zstd"
ROW_GROUP_ROWS = 32_768  # rows encoded at a time: about 90 minutes of a 400-contract chain
COLUMNS = (
    "ts", "tradingsymbol", "underlying", "expiry", "strike", "option_type", "bid", "ask", "ltp", "volume",
    "oi", "spot", "iv", "future", "minute", "quote_ts", "open", "high", "low", "prev_close", "spot_quote",
    "future_quote",
)  # fmt: skip
QUOTE_FIELDS = ("symbol", "ts", "last", "bid", "ask", "volume", "open", "high", "low", "prev_close")


@dataclass(frozen=True)
class Record:
    """One replay record, its quotes still unparsed: the snapshot's time, the tick's minute, the line."""

    ts: datetime
    minute: datetime
    line: bytes


@dataclass(frozen=True)
class Chain:
    """What the rows are made of: the options by symbol, the index's and the future's symbols."""

    options: dict[str, Instrument]
    spot: str
    future: str | None


def write_chain_day(deps: Deps, day: str) -> str | None:
    """Archive the day's option chains (chains/{day}/NIFTY.parquet) from the options replay and the options
    instruments of the tick state; the file's location, or None when there is nothing to write (no options
    replay that day, no instruments, no readable snapshot of an option).

    Malformed or truncated replay lines, and quotes that are not quotes, are skipped with one WARNING
    naming how many; quotes of symbols outside the day's instruments are left out; a minute recorded twice
    (a tick retried after appending its record) keeps its last snapshot, the one the tick decided on."""
    extra = {"component": "end_of_day", "correlation_id": day}
    raw = deps.archive.read(replay_path(day, Asset.OPTIONS))
    if raw is None:
        return None
    state = deps.store.get(state_path(day, Asset.OPTIONS)) or {}
    if not state.get("instruments"):
        log.warning(
            f"option chains of {day} not archived: no options instruments in the tick state", extra=extra
        )
        return None
    instruments = instruments_from_doc(state["instruments"], Asset.OPTIONS)
    future = state.get("underlying") or next(
        (s for s, i in instruments.items() if i.option_type == "FUT"), None
    )
    chain = Chain(
        {s: i for s, i in instruments.items() if i.option_type in ("CE", "PE")},
        str(state.get("spot") or deps.config.index_symbol),
        future,
    )
    records, bad_lines = index_replay(raw)
    meta = {
        "version": FORMAT_VERSION,
        "day": day,
        "spot": chain.spot,
        "future": chain.future,
        "instruments": {s: _instrument_doc(i) for s, i in instruments.items()},
    }
    bad_quotes = [0]
    data, rows = encode(chain_rows(records, chain, bad_quotes), meta)
    if bad_lines or bad_quotes[0]:
        log.warning(
            f"option chains of {day}: {bad_lines} replay line(s) and {bad_quotes[0]} quote(s) malformed or "
            "truncated, skipped",
            extra=extra,
        )
    if not rows:
        log.warning(f"option chains of {day} not archived: no option quote in the replay", extra=extra)
        return None
    where = deps.archive.write(chain_path(day, UNDERLYING), data, "application/vnd.apache.parquet")
    log.info(f"option chains archived: {rows} rows, {len(data)} bytes at {where}", extra=extra)
    return where


def index_replay(raw: bytes) -> tuple[list[Record], int]:
    """The replay's records, one per tick minute (the last recorded wins), sorted by snapshot time then
    minute; with how many lines were malformed (not JSON, truncated, not a snapshot)."""
    by_minute: dict[datetime, Record] = {}
    bad = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            ts = require_ist(datetime.fromisoformat(rec["ts"]))
            now = require_ist(datetime.fromisoformat(rec.get("now", rec["ts"])))
            if not isinstance(rec["quotes"], dict):
                raise TypeError(f"quotes is a {type(rec['quotes']).__name__}")
        except (ValueError, KeyError, TypeError, AttributeError):  # JSONDecodeError is a ValueError
            bad += 1
            continue
        minute = now.replace(second=0, microsecond=0)
        by_minute[minute] = Record(ts, minute, line)
    return sorted(by_minute.values(), key=lambda r: (r.ts, r.minute)), bad


def chain_rows(records: list[Record], chain: Chain, bad_quotes: list[int]) -> Iterator[tuple[Any, ...]]:
    """The file's rows (:data:`COLUMNS`, see the module's table), minute after minute: one per option of
    the chain quoted that minute, by symbol. Quotes that are not quotes are counted in ``bad_quotes[0]``."""
    wanted = {chain.spot, chain.future, *chain.options}
    for r in records:
        quotes: dict[str, Quote] = {}
        for symbol, row in json.loads(r.line)["quotes"].items():
            if symbol not in wanted:
                continue
            try:
                quotes[symbol] = Quote.from_row(symbol, row)
            except (ValueError, TypeError, IndexError, KeyError):
                bad_quotes[0] += 1
        spot_q = quotes.get(chain.spot)
        future_q = quotes.get(chain.future) if chain.future else None
        s = spot_q.last if spot_q is not None else None
        f = future_q.last if future_q is not None else None
        spot_doc, future_doc = _quote_doc(spot_q), _quote_doc(future_q)
        for symbol in sorted(quotes.keys() & chain.options.keys()):
            q, i = quotes[symbol], chain.options[symbol]
            iv = implied_volatility(i, s, r.ts, q.last)
            yield (
                r.ts, symbol, i.underlying, i.expiry, i.strike, i.option_type, q.bid, q.ask, q.last, q.volume,
                None, s, iv, f, r.minute, q.ts, q.open, q.high, q.low, q.prev_close, spot_doc, future_doc,
            )  # fmt: skip


def implied_volatility(inst: Instrument, spot: float | None, at: datetime, premium: float) -> float | None:
    """The option's Black–Scholes volatility at ``RATE`` from a premium, or None when it cannot be inverted
    (no spot, no premium, no expiry or strike, a premium outside the no-arbitrage bounds). Unlike
    tron.domain.contracts.implied_vol it never substitutes a default: 0.0 means a premium at intrinsic."""
    if spot is None or not spot > 0 or not premium > 0 or inst.expiry is None or inst.strike is None:
        return None
    try:
        v = options.implied_volatility(
            inst.option_type, spot, inst.strike, days_to_expiry(at, inst.expiry), RATE, premium
        )
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def encode(rows: Iterator[tuple[Any, ...]], meta: dict[str, Any]) -> tuple[bytes, int]:
    """The rows as one Parquet file (zstd, ``ROW_GROUP_ROWS`` rows a row group) with ``meta`` as JSON under
    the schema metadata ``tron.chain``; and how many rows. pyarrow is imported here, not at start-up: only
    the end of day needs it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = chain_schema(pa).with_metadata({METADATA_KEY: json.dumps(meta, separators=(",", ":")).encode()})
    sink = pa.BufferOutputStream()
    count = 0
    with pq.ParquetWriter(sink, schema, compression=COMPRESSION) as writer:
        group: list[tuple[Any, ...]] = []
        for row in rows:
            group.append(row)
            if len(group) == ROW_GROUP_ROWS:
                writer.write_table(_table(pa, group, schema))
                count, group = count + len(group), []
        if group:
            writer.write_table(_table(pa, group, schema))
            count += len(group)
    return bytes(sink.getvalue().to_pybytes()), count


def chain_schema(pa: Any) -> Any:
    """The file's Arrow schema (see the module's table), built with the pyarrow module given."""
    ist = "Asia/Kolkata"
    quote = pa.struct(
        [
            ("symbol", pa.string()),
            ("ts", pa.timestamp("us", tz=ist)),
            *[(n, pa.int64() if n == "volume" else pa.float64()) for n in QUOTE_FIELDS[2:]],
        ]
    )
    types = {
        "ts": pa.timestamp("us", tz=ist),
        "tradingsymbol": pa.string(),
        "underlying": pa.string(),
        "expiry": pa.date32(),
        "strike": pa.float64(),
        "option_type": pa.string(),
        "volume": pa.int64(),
        "oi": pa.int64(),
        "minute": pa.timestamp("ms", tz=ist),  # Parquet has no second unit
        "quote_ts": pa.timestamp("us", tz=ist),
        "spot_quote": quote,
        "future_quote": quote,
    }
    return pa.schema([(c, types.get(c, pa.float64())) for c in COLUMNS])


def _table(pa: Any, rows: list[tuple[Any, ...]], schema: Any) -> Any:
    columns = zip(*rows, strict=True)
    return pa.Table.from_arrays(
        [pa.array(list(v), type=f.type) for v, f in zip(columns, schema, strict=True)], schema=schema
    )


def _quote_doc(q: Quote | None) -> dict[str, Any] | None:
    return None if q is None else {n: getattr(q, n) for n in QUOTE_FIELDS}


def _instrument_doc(i: Instrument) -> dict[str, Any]:
    """An instrument in the file's metadata (what tron.backtest.chains reads back)."""
    return {
        "exchange": i.exchange,
        "token": i.token,
        "lot_size": i.lot_size,
        "tick_size": str(i.tick_size),
        "segment": i.segment,
        "sector": i.sector,
        "expiry": i.expiry.isoformat() if i.expiry else None,
        "strike": i.strike,
        "option_type": i.option_type,
        "underlying": i.underlying,
    }
