"""Real history for research: the broker's candles downloaded to Parquet (`tron data fetch`), in one function,
:func:`fetch_history`, on the HistoricalData port (Kite) and the Archive port (the output folder).

Layout (the backtester's loader reads ``DIR/<interval>/`` as a folder of symbol folders)::

    DIR/<interval>/<SYMBOL>/<YYYY-MM>.parquet    one file per symbol and month, rows sorted by date
    DIR/instruments/<YYYY-MM-DD>.csv.gz          the broker's instruments dump as of the day of the fetch

========= ======================== ==========================================================
date      timestamp[us, IST]       the candle's start (Asia/Kolkata); day candles at 00:00
open,     float64
high,
low,
close
volume    int64                    0 for an index
oi        int64                    open interest; futures files only
========= ======================== ==========================================================

Symbols: NSE equities by tradingsymbol (INFY); an index by its name ("NIFTY 50", asked as NIFTY); a future
by its underlying (NIFTY): the nearest-expiry contract listed today. At day candles its expired
contracts are spliced in (Kite's `continuous`) and the folder is ``NIFTY-I`` (near month, continuous);
intraday candles exist only for that contract's own life, under its tradingsymbol (NIFTY26DECFUT).

Resumable: a file is written whole (the Archive writes atomically) and its schema metadata ``tron.history``
(JSON) names the days it covers. A month without a single candle (before a listing) gets no Parquet file,
which would hold no rows, but a hidden ``.<YYYY-MM>.empty.json`` beside it with the same JSON. So a rerun
after a crash, a 429 storm or a lost session requests only the months nothing covers yet, and writes them
with exactly the rows an uninterrupted run would have written. Days not complete yet (today before 16:00
IST) are never counted as covered. Consecutive missing months of a symbol are requested as one range, in
requests as long as the broker allows (HistoricalData.max_days: 60 days of minute candles, so a year takes
7), each month written as soon as its last day is in. While the broker is unavailable (429s beyond the
session's retries, an open circuit) the run waits, with backoff, up to ``patience_s``, then stops with
HistoryUnavailable (what is written is kept).

Kite serves only today's instruments dump, so the dump saved is the one of the day the fetch runs: tokens of
equities and indices are stable, but a past day's futures and options list cannot be had afterwards (run
the fetch daily to keep one)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import time as _time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any, TypeVar

from tron.domain.kite_api import DUMP_COLUMNS
from tron.domain.timeutil import IST, ist
from tron.ports import Archive, BrokerUnavailable, Clock, HistoricalData, HistoryBar

log = logging.getLogger("tron.history")
T = TypeVar("T")

FORMAT_VERSION = 1
METADATA_KEY = b"tron.history"
COMPRESSION = "zstd"
PARQUET = "application/vnd.apache.parquet"
PRICE_COLUMNS = ("open", "high", "low", "close")
# Index names as TRON's options and users say them, to the tradingsymbol Kite lists the index under.
INDEX_NAMES = {
    "NIFTY": "NIFTY 50",
    "BANKNIFTY": "NIFTY BANK",
    "FINNIFTY": "NIFTY FIN SERVICE",
    "MIDCPNIFTY": "NIFTY MID SELECT",
}
DAY_COMPLETE = time(16, 0)  # a day's candles count as final from this IST time on (the close is 15:30)
FIRST_PAUSE_S = 2.0  # the first wait while the broker is unavailable, doubling up to MAX_PAUSE_S
MAX_PAUSE_S = 30.0
PATIENCE_S = 300.0  # consecutive seconds of waiting before the run gives up


class HistoryInputError(ValueError):
    """The request cannot be served as asked (dates, interval, symbols): nothing was fetched."""


class HistoryUnavailable(RuntimeError):
    """The broker stayed unavailable past the run's patience; what is written is kept and a rerun of the
    same request resumes."""


@dataclass(frozen=True)
class FetchRequest:
    """What to download: the symbols (NSE equities), futures (by underlying) and indices, the days (both
    included) and the candle interval."""

    start: date
    end: date
    interval: str
    symbols: tuple[str, ...] = ()
    futures: tuple[str, ...] = ()
    indices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """One instrument to download: its folder name, token and how to ask for it."""

    name: str
    token: int
    exchange: str
    tradingsymbol: str
    continuous: bool = False
    oi: bool = False


@dataclass(frozen=True)
class MonthTask:
    """A month file to (re)write: the days to request (``fetch``), and the days it will say it covers."""

    target: Target
    path: str
    fetch: tuple[date, date]
    covers: tuple[date, date]


@dataclass(frozen=True)
class Progress:
    """How far the run is, for a progress line: requests and month files done of the planned ones (a month
    without candles counts as done), rows written, what is being fetched, and a note when the run waits for
    the broker."""

    requests: int
    total_requests: int
    files: int
    total_files: int
    rows: int
    current: str = ""
    note: str = ""


@dataclass
class FetchSummary:
    """What a run did: requests made, files written and already complete, rows written, waits for the
    broker, and where the instruments dump is."""

    interval: str
    start: str
    end: str
    targets: list[str]
    requests: int = 0
    files_written: int = 0
    files_complete: int = 0
    months_empty: int = 0
    rows: int = 0
    waits: int = 0
    instruments: str | None = None
    written: list[str] = field(default_factory=list)

    def doc(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return asdict(self)


def fetch_history(
    source: HistoricalData,
    archive: Archive,
    clock: Clock,
    request: FetchRequest,
    progress: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], None] = _time.sleep,
    patience_s: float = PATIENCE_S,
) -> FetchSummary:
    """Download the request's candles to ``archive`` (the layout in the module docstring), skipping the
    month files that already cover their days; the summary.

    Raises HistoryInputError before anything is fetched or written (a bad interval, ``start`` after ``end``
    or in the future, no or unknown symbols); SessionExpired when the broker session is gone;
    HistoryUnavailable when the broker stays unavailable past ``patience_s``; OrderRejected when it refuses
    a request (its limits changed). Days after today are not requested."""
    now = clock.now().astimezone(IST)
    span = _validate(source, request, now.date())
    end = min(request.end, now.date())
    summary = FetchSummary(request.interval, request.start.isoformat(), end.isoformat(), [])
    run = _Run(summary, sleep, patience_s, progress)
    rows = run.patiently("the instruments list", source.instruments)
    targets = resolve(rows, request, source.continuous(request.interval))
    summary.targets = [t.name for t in targets]
    summary.instruments = write_dump(archive, now.date(), rows)
    through = complete_through(now)
    tasks: list[MonthTask] = []
    for t in targets:
        for first, last in months(request.start, end):
            task = month_task(archive, request.interval, t, first, last, through)
            if task is None:
                summary.files_complete += 1
            else:
                tasks.append(task)
    groups = pack(tasks)
    run.total_requests = sum(len(pieces(g[0].fetch[0], g[-1].fetch[1], span)) for g in groups)
    run.total_files = len(tasks)
    for group in groups:
        _fetch_group(source, archive, request.interval, group, span, run)
    log.info(
        f"history {request.interval} {request.start}..{end}: {summary.requests} request(s), "
        f"{summary.files_written} file(s) written ({summary.rows} rows), "
        f"{summary.files_complete} already complete",
        extra={"component": "history"},
    )
    run.report("")
    return summary


def _validate(source: HistoricalData, request: FetchRequest, today: date) -> int:
    span = source.max_days(request.interval)
    if span is None or span < 1:
        raise HistoryInputError(f"the broker has no {request.interval!r} candles")
    if request.start > request.end:
        raise HistoryInputError(f"from {request.start} is after to {request.end}")
    if request.start > today:
        raise HistoryInputError(f"from {request.start} is in the future (today is {today})")
    if not (request.symbols or request.futures or request.indices):
        raise HistoryInputError("nothing to fetch: name symbols, a future or an index")
    return span


class _Run:
    """A run's waiting and progress: calls retried while the broker is unavailable, counters reported."""

    def __init__(
        self,
        summary: FetchSummary,
        sleep: Callable[[float], None],
        patience_s: float,
        progress: Callable[[Progress], None] | None,
    ) -> None:
        self.summary = summary
        self.sleep = sleep
        self.patience_s = patience_s
        self.progress = progress
        self.total_requests = 0
        self.total_files = 0

    def patiently(self, what: str, call: Callable[[], T]) -> T:
        """call(), waited on with backoff while it raises BrokerUnavailable, up to the patience."""
        pause, waited = FIRST_PAUSE_S, 0.0
        while True:
            try:
                return call()
            except BrokerUnavailable as e:
                if waited >= self.patience_s:
                    raise HistoryUnavailable(
                        f"{what}: the broker is still unavailable after {waited:.0f} s of waiting ({e}); "
                        "the files written are kept: run the same command again to resume"
                    ) from None
                self.summary.waits += 1
                note = f"the broker is unavailable ({e}); waiting {pause:g} s"
                log.warning(f"{what}: {note}", extra={"component": "history"})
                self.report(what, note)
                self.sleep(pause)
                waited += pause
                pause = min(pause * 2, MAX_PAUSE_S)

    def report(self, current: str, note: str = "") -> None:
        """Tell the progress callback where the run is."""
        if self.progress is not None:
            s = self.summary
            self.progress(
                Progress(
                    s.requests,
                    self.total_requests,
                    s.files_written + s.months_empty,
                    self.total_files,
                    s.rows,
                    current,
                    note,
                )
            )


# ---------------------------------------------------------------------------------------------- symbols
def resolve(rows: list[dict[str, Any]], request: FetchRequest, continuous: bool) -> list[Target]:
    """The request's instruments in today's dump, in the order asked (the same folder once);
    HistoryInputError naming every symbol the dump does not list."""
    equities: dict[str, dict[str, Any]] = {}
    indices: dict[str, dict[str, Any]] = {}
    futures: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("exchange") == "NSE" and r.get("segment") == "NSE" and r.get("instrument_type") == "EQ":
            equities[str(r["tradingsymbol"])] = r
        elif r.get("segment") == "INDICES":
            indices.setdefault(str(r["tradingsymbol"]), r)
        elif r.get("instrument_type") == "FUT" and r.get("exchange") == "NFO":
            futures.setdefault(str(r.get("name")), []).append(r)
    out: dict[str, Target] = {}
    unknown: list[str] = []
    for s in request.symbols:
        eq = equities.get(s)
        if eq is None:
            unknown.append(s)
        else:
            out.setdefault(s, Target(s, int(eq["instrument_token"]), "NSE", s))
    for u in request.futures:
        listed = [r for r in futures.get(u, []) if isinstance(r.get("expiry"), date)]
        if not listed:
            unknown.append(f"{u} future")
            continue
        near = min(listed, key=lambda r: r["expiry"])
        name = f"{u}-I" if continuous else str(near["tradingsymbol"])
        out.setdefault(
            name,
            Target(name, int(near["instrument_token"]), "NFO", str(near["tradingsymbol"]), continuous, True),
        )
    for i in request.indices:
        symbol = INDEX_NAMES.get(i, i)
        index = indices.get(symbol)
        if index is None:
            unknown.append(f"{i} index")
        else:
            out.setdefault(
                symbol, Target(symbol, int(index["instrument_token"]), str(index["exchange"]), symbol)
            )
    if unknown:
        raise HistoryInputError(
            "not in the broker's instruments list today: "
            + ", ".join(unknown)
            + " (equities by NSE tradingsymbol, futures by underlying, indices by name)"
        )
    return list(out.values())


def write_dump(archive: Archive, day: date, rows: list[dict[str, Any]]) -> str:
    """The instruments dump as instruments/{day}.csv.gz (Kite's columns), unless the day's is there."""
    path = f"instruments/{day.isoformat()}.csv.gz"
    if archive.read(path) is not None:
        return path
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(DUMP_COLUMNS)
    for r in rows:
        w.writerow(_cell(r.get(c)) for c in DUMP_COLUMNS)
    data = gzip.compress(text.getvalue().encode(), mtime=0)
    archive.write(path, data, "application/gzip")
    return path


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, date):
        return v.isoformat()
    return repr(v) if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------------------------------- planning
def complete_through(now: datetime) -> date:
    """The last day whose candles are final at ``now``: today from DAY_COMPLETE, else yesterday."""
    local = now.astimezone(IST)
    return local.date() if local.time() >= DAY_COMPLETE else local.date() - timedelta(days=1)


def months(start: date, end: date) -> Iterator[tuple[date, date]]:
    """The calendar months touching [start, end], each as its (first, last) day inside the range."""
    first = start
    while first <= end:
        nxt = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        yield first, min(end, nxt - timedelta(days=1))
        first = nxt


def month_path(interval: str, name: str, day: date) -> str:
    """The file of a symbol's month: {interval}/{name}/{YYYY-MM}.parquet."""
    return f"{interval}/{name}/{day:%Y-%m}.parquet"


def month_task(
    archive: Archive, interval: str, target: Target, first: date, last: date, through: date
) -> MonthTask | None:
    """The month's work, or None when its file already covers [first, last]. A file covering other days
    of the month is refetched over both ranges (they are merged into one file)."""
    path = month_path(interval, target.name, first)
    have = coverage(archive, path)
    if have is not None and have[0] <= first and have[1] >= last:
        return None
    lo, hi = (min(have[0], first), max(have[1], last)) if have is not None else (first, last)
    return MonthTask(target, path, (lo, hi), (lo, min(hi, through)))


def empty_path(path: str) -> str:
    """Where a month without candles is recorded: .{YYYY-MM}.empty.json beside its Parquet file's place."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name.removesuffix('.parquet')}.empty.json"


def coverage(archive: Archive, path: str) -> tuple[date, date] | None:
    """The (first, last) days a month file (or its empty-month record) says it covers; None when there is
    neither, or the file cannot be read (it is fetched again and replaced, with a WARNING)."""
    raw = archive.read(path)
    if raw is None:
        empty = archive.read(empty_path(path))
        return None if empty is None else _covered(empty_path(path), lambda: json.loads(empty))
    import pyarrow as pa
    import pyarrow.parquet as pq

    def meta() -> Any:
        return json.loads((pq.read_schema(pa.BufferReader(raw)).metadata or {})[METADATA_KEY])

    return _covered(path, meta)


def _covered(path: str, doc: Callable[[], Any]) -> tuple[date, date] | None:
    try:
        d = doc()
        return date.fromisoformat(d["from"]), date.fromisoformat(d["to"])
    except Exception as e:  # anything unreadable (Arrow, JSON, a missing key) is fetched again
        log.warning(f"{path} is unreadable ({e}): fetched again", extra={"component": "history"})
        return None


def pack(tasks: list[MonthTask]) -> list[list[MonthTask]]:
    """Runs of consecutive months of one symbol whose days join up: each run is requested as one range, cut
    into requests as long as the broker allows (:func:`pieces`), whatever the month boundaries."""
    groups: list[list[MonthTask]] = []
    for t in tasks:
        g = groups[-1] if groups else None
        if g is not None and g[-1].target == t.target and g[-1].fetch[1] + timedelta(days=1) == t.fetch[0]:
            g.append(t)
        else:
            groups.append([t])
    return groups


def pieces(first: date, last: date, span: int) -> list[tuple[date, date]]:
    """[first, last] cut into requests of at most ``span`` days."""
    out = []
    while first <= last:
        end = min(last, first + timedelta(days=span - 1))
        out.append((first, end))
        first = end + timedelta(days=1)
    return out


# ---------------------------------------------------------------------------------------------- fetching
def _fetch_group(
    source: HistoricalData,
    archive: Archive,
    interval: str,
    group: list[MonthTask],
    span: int,
    run: _Run,
) -> None:
    """Request a run of months piece by piece, writing each month as soon as its last day is in."""
    t = group[0].target
    todo = list(group)
    bars: dict[datetime, HistoryBar] = {}
    for a, b in pieces(group[0].fetch[0], group[-1].fetch[1], span):
        what = f"{t.name} {a}..{b}"
        end = ist(b, time(23, 59, 59))
        call = partial(source.candles, t.token, ist(a, time(0, 0)), end, interval, t.continuous, t.oi)
        for bar in run.patiently(what, call):
            bars[bar.ts] = bar  # a candle answered twice is kept once
        run.summary.requests += 1
        run.report(what)
        while todo and todo[0].fetch[1] <= b:
            task = todo.pop(0)
            lo, hi = task.fetch
            month = sorted(k for k in bars if lo <= k.astimezone(IST).date() <= hi)
            _write_month(archive, interval, task, [bars.pop(k) for k in month], run)


def _write_month(archive: Archive, interval: str, task: MonthTask, rows: list[HistoryBar], run: _Run) -> None:
    t, summary = task.target, run.summary
    meta = {
        "version": FORMAT_VERSION,
        "symbol": t.name,
        "tradingsymbol": t.tradingsymbol,
        "exchange": t.exchange,
        "instrument_token": t.token,
        "interval": interval,
        "continuous": t.continuous,
        "from": task.covers[0].isoformat(),
        "to": task.covers[1].isoformat(),
    }
    if rows:
        summary.written.append(archive.write(task.path, encode(rows, meta, t.oi), PARQUET))
        summary.files_written += 1
        summary.rows += len(rows)
    else:
        text = json.dumps(meta, separators=(",", ":"), sort_keys=True).encode()
        archive.write(empty_path(task.path), text, "application/json")
        summary.months_empty += 1
    run.report(task.path)


def history_schema(pa: Any, with_oi: bool) -> Any:
    """A month file's Arrow schema (see the module's table), built with the pyarrow module given."""
    fields = [("date", pa.timestamp("us", tz="Asia/Kolkata"))]
    fields += [(c, pa.float64()) for c in PRICE_COLUMNS]
    fields += [("volume", pa.int64())] + ([("oi", pa.int64())] if with_oi else [])
    return pa.schema(fields)


def encode(rows: list[HistoryBar], meta: dict[str, Any], with_oi: bool) -> bytes:
    """The month's candles as one Parquet file (zstd) with ``meta`` as JSON under ``tron.history``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = history_schema(pa, with_oi).with_metadata(
        {METADATA_KEY: json.dumps(meta, separators=(",", ":"), sort_keys=True).encode()}
    )
    columns: dict[str, list[Any]] = {
        "date": [b.ts for b in rows],
        "open": [b.open for b in rows],
        "high": [b.high for b in rows],
        "low": [b.low for b in rows],
        "close": [b.close for b in rows],
        "volume": [b.volume for b in rows],
    }
    if with_oi:
        columns["oi"] = [b.oi for b in rows]
    table = pa.Table.from_pydict(columns, schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=COMPRESSION)
    return bytes(sink.getvalue().to_pybytes())
