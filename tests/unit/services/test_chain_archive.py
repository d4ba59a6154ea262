"""tron.services.chain_archive and tron.backtest.chains: every option-chain snapshot the options tick
read, kept day by day as Parquet (chains/{date}/NIFTY.parquet), and read back as a backtest's snapshots."""

from __future__ import annotations

import json
import math
import time as wall
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.days import TRADING_DAY, at, embedded_deps, settings
from tests.support.logs import tron_records
from tron.domain.contracts import days_to_expiry, implied_vol
from tron.domain.models import Asset, Instrument, Quote, Snapshot
from tron.services.deps import Deps
from tron.services.paths import chain_path, replay_path, state_path
from tron.services.tick_state import instruments_doc

DAY = TRADING_DAY.isoformat()
EXPIRY = date(2026, 12, 1)
INDEX, FUTURE = "NIFTY 50", "NIFTY26DECFUT"
STRIKES = (24400.0, 24500.0)
OPTIONS = [f"NIFTY26D01{int(k)}{t}" for k in STRIKES for t in ("CE", "PE")]
COLUMNS = [
    "ts", "tradingsymbol", "underlying", "expiry", "strike", "option_type", "bid", "ask", "ltp", "volume",
    "oi", "spot", "iv", "future",
]  # fmt: skip


def _instruments() -> list[Instrument]:
    opts = [
        Instrument(
            f"NIFTY26D01{int(k)}{t}", "NFO", Asset.OPTIONS, lot_size=65, segment="options", sector="Index",
            expiry=EXPIRY, strike=k, option_type=t, underlying=INDEX,
        )
        for k in STRIKES
        for t in ("CE", "PE")
    ]  # fmt: skip
    fut = Instrument(
        FUTURE, "NFO", Asset.OPTIONS, lot_size=65, segment="futures", sector="Index",
        expiry=date(2026, 12, 29), option_type="FUT", underlying=INDEX,
    )  # fmt: skip
    return [fut, Instrument(INDEX, "NSE", Asset.OPTIONS, segment="index", sector="Index"), *opts]


def _quote(symbol: str, ts: datetime, last: float, volume: int = 0) -> Quote:
    bid, ask = round(last - 0.5, 2), round(last + 0.5, 2)
    return Quote(symbol, ts, last, bid, ask, volume, last - 3, last + 5, last - 7, last + 1)


def _snapshot(minute: int, spot: float = 24450.0) -> Snapshot:
    ts = at(9, 15) + timedelta(minutes=minute)
    s = spot + minute
    quotes = {INDEX: _quote(INDEX, ts, s), FUTURE: _quote(FUTURE, ts, s + 150, 1000 * minute)}
    for sym in OPTIONS:  # a time value over intrinsic, so the volatility inverts
        k, t = float(sym[10:15]), sym[-2:]
        intrinsic = max(s - k, 0.0) if t == "CE" else max(k - s, 0.0)
        quotes[sym] = _quote(sym, ts, round(intrinsic + 120.0 + minute, 2), 500 * minute)
    return Snapshot(ts, quotes)


def _record(snap: Snapshot, now: datetime | None = None, extra: dict[str, Quote] | None = None) -> str:
    quotes = {s: q.to_row() for s, q in {**snap.quotes, **(extra or {})}.items()}
    return json.dumps({"ts": snap.ts.isoformat(), "now": (now or snap.ts).isoformat(), "quotes": quotes})


def _day(tmp_path: Path, lines: list[str]) -> Deps:
    deps = embedded_deps(tmp_path)
    deps.store.set(
        state_path(DAY, Asset.OPTIONS),
        {"instruments": instruments_doc(_instruments()), "underlying": FUTURE, "spot": INDEX},
    )
    deps.archive.append_lines(replay_path(DAY, Asset.OPTIONS), lines)
    return deps


def _table(deps: Deps) -> pa.Table:
    data = deps.archive.read(chain_path(DAY))
    assert data is not None
    return pq.read_table(pa.BufferReader(data))


def test_a_days_snapshots_become_one_row_per_minute_per_option(tmp_path: Path) -> None:
    from tron.services.chain_archive import write_chain_day

    snaps = [_snapshot(m) for m in range(3)]
    stranger = _quote("NIFTY26D0125000CE", snaps[0].ts, 10.0)  # not among the day's instruments: skipped
    deps = _day(tmp_path, [_record(snaps[0], extra={stranger.symbol: stranger}), *map(_record, snaps[1:])])
    where = write_chain_day(deps, DAY)
    assert where is not None and where.endswith("chains/2026-11-23/NIFTY.parquet")
    assert Path(where).is_file()

    table = _table(deps)
    assert table.column_names[: len(COLUMNS)] == COLUMNS
    assert table.num_rows == 3 * len(OPTIONS)
    schema = table.schema
    assert schema.field("ts").type == pa.timestamp("us", tz="Asia/Kolkata")
    assert schema.field("expiry").type == pa.date32()
    assert schema.field("strike").type == pa.float64()
    assert schema.field("oi").type == pa.int64()
    meta = pq.ParquetFile(pa.BufferReader(deps.archive.read(chain_path(DAY)))).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"

    rows = table.to_pylist()
    assert [(r["ts"], r["tradingsymbol"]) for r in rows] == sorted(
        (s.ts, sym) for s in snaps for sym in OPTIONS
    )  # by time, then symbol
    for r in rows:
        snap = snaps[int((r["ts"] - snaps[0].ts).total_seconds() // 60)]
        q = snap.quotes[r["tradingsymbol"]]
        assert r["ts"] == snap.ts and r["ts"].utcoffset() == timedelta(hours=5, minutes=30)
        assert (r["bid"], r["ask"], r["ltp"], r["volume"]) == (q.bid, q.ask, q.last, q.volume)
        assert r["oi"] is None  # the Quote has no open interest yet
        assert (r["underlying"], r["expiry"]) == (INDEX, EXPIRY)
        assert r["strike"] == float(r["tradingsymbol"][10:15]) and r["option_type"] == r["tradingsymbol"][-2:]
        assert r["spot"] == snap.quotes[INDEX].last and r["future"] == snap.quotes[FUTURE].last
        days = days_to_expiry(snap.ts, EXPIRY)
        expected = implied_vol(r["option_type"], r["spot"], r["strike"], days, r["ltp"])
        assert 0.01 < expected < 3 and math.isclose(r["iv"], expected, rel_tol=1e-9)


def test_a_wide_day_is_encoded_a_row_group_at_a_time(tmp_path: Path, monkeypatch) -> None:
    from tron.backtest.chains import read_chain_day
    from tron.services import chain_archive
    from tron.services.chain_archive import write_chain_day

    snaps = [_snapshot(m) for m in range(5)]
    monkeypatch.setattr(chain_archive, "ROW_GROUP_ROWS", 6)  # 20 rows: groups of 6, 6, 6 and 2
    deps = _day(tmp_path, [_record(s) for s in snaps])
    write_chain_day(deps, DAY)
    data = deps.archive.read(chain_path(DAY))
    assert data is not None
    assert pq.ParquetFile(pa.BufferReader(data)).metadata.num_row_groups == 4
    assert _table(deps).num_rows == 20 and read_chain_day(data).snapshots == snaps


def test_an_implied_volatility_that_cannot_be_inverted_is_null(tmp_path: Path) -> None:
    from tron.services.chain_archive import write_chain_day

    snap = _snapshot(0)
    deep = snap.quotes["NIFTY26D0124400CE"]  # spot 24,450: a 24,400 call under its intrinsic value of 50
    below = Quote(deep.symbol, deep.ts, 20.0, 19.5, 20.5, 0, 20, 20, 20, 20)
    no_spot = _snapshot(1)
    no_spot = Snapshot(no_spot.ts, {s: q for s, q in no_spot.quotes.items() if s != INDEX})
    deps = _day(tmp_path, [_record(snap, extra={deep.symbol: below}), _record(no_spot)])
    write_chain_day(deps, DAY)
    rows = _table(deps).to_pylist()
    ivs = {(r["ts"], r["tradingsymbol"]): r["iv"] for r in rows}
    assert ivs[(snap.ts, deep.symbol)] is None
    assert all(v is not None for (t, s), v in ivs.items() if t == snap.ts and s != deep.symbol)
    later = [r for r in rows if r["ts"] == no_spot.ts]
    assert len(later) == len(OPTIONS) and all(r["spot"] is None and r["iv"] is None for r in later)
    assert all(r["future"] == no_spot.quotes[FUTURE].last for r in later)


def test_malformed_and_truncated_lines_are_skipped_with_one_warning(tmp_path: Path) -> None:
    from tron.services.chain_archive import write_chain_day

    snaps = [_snapshot(m) for m in range(3)]
    good = [_record(s) for s in snaps]
    lines = [
        good[0],
        "this is not json",
        json.dumps([1, 2, 3]),  # JSON, but not a snapshot
        json.dumps({"ts": snaps[1].ts.isoformat(), "quotes": "nothing"}),
        good[1],
        good[2][: len(good[2]) // 2],  # a tick that died while appending
    ]
    deps = _day(tmp_path, lines)
    with tron_records() as records:
        assert write_chain_day(deps, DAY) is not None
    warnings = [r for r in records.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "4 replay line(s)" in warnings[0].getMessage()
    assert sorted({r["ts"] for r in _table(deps).to_pylist()}) == [snaps[0].ts, snaps[1].ts]


def test_a_minute_recorded_twice_keeps_its_last_snapshot(tmp_path: Path) -> None:
    from tron.services.chain_archive import write_chain_day

    first, again = _snapshot(0), _snapshot(0, spot=24460.0)  # a tick retried after appending its record
    deps = _day(tmp_path, [_record(first), _record(again, now=first.ts + timedelta(seconds=20))])
    write_chain_day(deps, DAY)
    rows = _table(deps).to_pylist()
    assert len(rows) == len(OPTIONS) and {r["spot"] for r in rows} == {again.quotes[INDEX].last}


def test_no_replay_no_file(tmp_path: Path) -> None:
    from tron.services.chain_archive import write_chain_day

    deps = embedded_deps(tmp_path)
    assert write_chain_day(deps, DAY) is None
    assert deps.archive.read(chain_path(DAY)) is None
    deps = _day(tmp_path / "garbage", ["{", "not json"])  # nothing readable: no file either
    with tron_records() as records:
        assert write_chain_day(deps, DAY) is None
    assert records.at("WARNING", "2 replay line(s)")
    assert deps.archive.read(chain_path(DAY)) is None


def test_the_reader_gives_back_the_recorded_snapshots_and_instruments(tmp_path: Path) -> None:
    from tron.backtest.chains import read_chain_day
    from tron.services.chain_archive import write_chain_day

    snaps = [_snapshot(m) for m in range(4)]
    odd = snaps[2].quotes[OPTIONS[0]]  # a quote stamped before its snapshot (Kite's last trade time)
    snaps[2].quotes[OPTIONS[0]] = Quote(odd.symbol, odd.ts - timedelta(seconds=37), *_row_tail(odd))
    deps = _day(tmp_path, [_record(s) for s in snaps])
    where = write_chain_day(deps, DAY)
    assert where is not None

    for source in (deps.archive.read(chain_path(DAY)), Path(where), where):
        chain = read_chain_day(source)
        assert chain.day == TRADING_DAY
        assert chain.snapshots == snaps
        assert (chain.spot, chain.future) == (INDEX, FUTURE)
        assert chain.nows == [s.ts for s in snaps]
    by_symbol = {i.symbol: i for i in _instruments()}
    assert chain.instruments == {s: by_symbol[s] for s in [FUTURE, INDEX, *OPTIONS]}
    opt = chain.instruments[OPTIONS[0]]
    assert (opt.asset, opt.segment, opt.exchange, opt.lot_size) == (Asset.OPTIONS, "options", "NFO", 65)
    session = chain.session()
    assert session.snapshots == snaps and session.day == TRADING_DAY
    assert set(session.symbols) == {FUTURE, INDEX, *OPTIONS}


def test_a_file_without_tron_metadata_reads_with_nifty_defaults(tmp_path: Path) -> None:
    from tron.backtest.chains import read_chain_day
    from tron.services.chain_archive import write_chain_day

    deps = _day(tmp_path, [_record(_snapshot(0))])
    write_chain_day(deps, DAY)
    table = _table(deps).select(COLUMNS).replace_schema_metadata(None)  # the columns a reader must know
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    chain = read_chain_day(sink.getvalue().to_pybytes())
    opt = chain.instruments[OPTIONS[1]]
    assert (opt.lot_size, opt.exchange, opt.segment, opt.asset) == (65, "NFO", "options", Asset.OPTIONS)
    assert (opt.expiry, opt.strike, opt.option_type, opt.tick_size) == (
        EXPIRY,
        24400.0,
        "PE",
        Decimal("0.05"),
    )
    [snap] = chain.snapshots
    assert set(snap.quotes) == set(OPTIONS)
    q, recorded = snap.quotes[OPTIONS[1]], _snapshot(0).quotes[OPTIONS[1]]
    assert (q.ts, q.last, q.bid, q.ask, q.volume) == (
        recorded.ts,
        recorded.last,
        recorded.bid,
        recorded.ask,
        recorded.volume,
    )


def test_an_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    from tron.backtest.chains import read_chain_day
    from tron.backtest.data import InputError

    with pytest.raises(InputError, match="not a Parquet chain"):
        read_chain_day(b"PAR1 but not really")
    with pytest.raises(InputError, match="not found"):
        read_chain_day(tmp_path / "missing.parquet")


def test_the_end_of_day_survives_a_failing_chain_archive(tmp_path: Path, monkeypatch) -> None:
    from tron.services import end_of_day as eod

    deps = _day(tmp_path, [_record(_snapshot(0))])
    deps.store.set(f"days/{DAY}", {"trading_day": True, "status": "armed"})
    deps.clock.set(at(15, 45))  # type: ignore[attr-defined]

    def broken(deps: Any, day: str) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(eod, "write_chain_day", broken)
    with tron_records() as records:
        out = eod.end_of_day(deps)
    assert out["trading_day"] and deps.store.get(f"days/{DAY}")["status"] == "closed"
    assert records.at("WARNING", "disk full")


def _row_tail(q: Quote) -> list[Any]:
    return [q.last, q.bid, q.ask, q.volume, q.open, q.high, q.low, q.prev_close]


def test_a_short_options_day_archives_its_chains(tmp_path: Path) -> None:
    from tron.config.schedule import Job
    from tron.runday.embedded import prepare, run_day

    s = settings(tmp_path, symbols=3)
    jobs = [
        Job("plan-day", "plan_day", "0 9 * * *"),
        Job("tick-options", "tick_options", "15-44 9 * * *"),
        Job("end-of-day", "end_of_day", "46 9 * * *"),
    ]
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    started = wall.perf_counter()
    result = run_day(s, TRADING_DAY, run=run, jobs=jobs)
    assert result["status"] == "closed" and wall.perf_counter() - started < 20
    listed = run.deps.store.get(state_path(DAY, Asset.OPTIONS))["instruments"]
    options = sorted(s for s, v in listed.items() if v[7] in ("CE", "PE"))
    path = run.root / "archive" / chain_path(DAY)
    assert path.is_file()
    table = pq.read_table(path)
    assert table.num_rows == 30 * len(options) > 0
    per_minute = table.group_by("ts").aggregate([("tradingsymbol", "count_distinct")])
    assert per_minute.num_rows == 30
    assert set(per_minute.column("tradingsymbol_count_distinct").to_pylist()) == {len(options)}
    assert sorted(set(table.column("tradingsymbol").to_pylist())) == options
    assert table.column("spot").null_count == table.column("future").null_count == 0
    assert table.column("iv").null_count < table.num_rows
