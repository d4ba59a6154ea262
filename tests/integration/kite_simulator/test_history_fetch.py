"""`tron data fetch` against the Kite simulator: the files and rows it lands, Kite's span limits and 3
requests a second, a 429 storm ridden out, a crash resumed, and bad input refused.

The CLI runs in-process on the real clock (the simulator's November 2026 is in the past). The storm and the
crash drive the service on a fake monotonic time shared by the client's pacing, retries and breaker, the
service's waits and the simulator's rate windows: every wait is real in kind but instant."""

from __future__ import annotations

import gzip
import random
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tests.support.kite_sim import KiteSimHandle, running_kite_sim
from tests.support.logs import tron_records
from tron.adapters.calendar import nse_calendar
from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.kite import CircuitBreaker, KiteSession, RateLimiter
from tron.adapters.kite.history import KiteHistory
from tron.adapters.localfs import LocalArchive
from tron.cli.app import main
from tron.domain.timeutil import IST
from tron.services.history import (
    FetchRequest,
    FetchSummary,
    HistoryInputError,
    fetch_history,
    months,
    pack,
    pieces,
)

CAL = nse_calendar()


def _days(first: date, last: date) -> list[date]:
    """The trading days from first to last."""
    out, d = [], first
    while d <= last:
        if CAL.is_trading_day(d):
            out.append(d)
        d = date.fromordinal(d.toordinal() + 1)
    return out


def files(root: Path) -> dict[str, bytes]:
    """Every file under root (hidden ones too) by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class FakeTime:
    """A monotonic clock that moves only when slept on."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds + 0.001  # a real sleep overshoots a little (an exact one meets Kite's window edge)
        self.slept += seconds


def session(ks: KiteSimHandle, ft: FakeTime, pacing: bool = True, factory: Any = KiteConnect) -> KiteSession:
    """The CLI's session (pacing, retries, breaker at their defaults) on the fake time."""
    return KiteSession(
        "sim",
        EnvSecrets({"TRON_SECRET_KITE_ACCESS_TOKEN": ks.sim.login()}),
        ks.url,
        limiter=RateLimiter(monotonic=ft, sleep=ft.sleep, enabled=pacing),
        breaker=CircuitBreaker(monotonic=ft),
        sleep=ft.sleep,
        monotonic=ft,
        rng=random.Random(7),
        timeout=30,
        client_factory=factory,
    )


def fetch(
    ks: KiteSimHandle, out: Path, request: FetchRequest, ft: FakeTime, archive: LocalArchive | None = None
) -> tuple[FetchSummary, KiteSession]:
    ft.sleep(1.0)  # a new process: its pacing knows nothing of the last one's requests, a second ago
    s = session(ks, ft)
    summary = fetch_history(KiteHistory(s), archive or LocalArchive(out), ks.clock, request, sleep=ft.sleep)
    return summary, s


# ---------------------------------------------------------------------------------------------- the CLI
def test_fetch_lands_month_files_with_every_candle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_kite_sim(symbols=5, rate_limits=True) as ks:  # Kite's 3 requests/s enforced (429 beyond)
        monkeypatch.setenv("TRON_SECRET_KITE_ACCESS_TOKEN", ks.sim.login())
        out = tmp_path / "hist"
        args = ["data", "fetch", "--symbols", "ADANIENT,axisbank", "--index", "NIFTY", "--futures", "NIFTY"]
        args += ["--from", "2026-10-28", "--to", "2026-11-04", "--interval", "minute", "--out", str(out)]
        args += ["--kite-root", ks.url]
        assert main(args) == 0
        october, november = (
            _days(date(2026, 10, 28), date(2026, 10, 31)),
            _days(date(2026, 11, 1), date(2026, 11, 4)),
        )
        rows = 375 * (len(october) + len(november)) * 4
        std = capsys.readouterr()
        assert f"8 file(s) written ({rows:,} rows, 4 request(s))" in std.out  # one request a symbol
        assert f"4/4 requests · 8/8 files · {rows:,} rows" in std.err  # the progress line
        future = min((r for r in ks.sim.catalog().rows if r.is_future), key=lambda r: r.expiry).tradingsymbol
        for symbol in ("ADANIENT", "AXISBANK", "NIFTY 50", future):
            for month, sessions in (("2026-10", october), ("2026-11", november)):
                t = pq.read_table(out / "minute" / symbol / f"{month}.parquet")
                assert t.schema.field("date").type.tz == "Asia/Kolkata"
                assert [str(f.type) for f in t.schema] == ["timestamp[us, tz=Asia/Kolkata]"] + [
                    "double"
                ] * 4 + ["int64"] * (2 if symbol == future else 1)
                stamps = t.column("date").to_pylist()
                assert len(stamps) == 375 * len(sessions) and stamps == sorted(set(stamps))
                assert sorted({s.astimezone(IST).date() for s in stamps}) == sessions
                assert stamps[0].astimezone(IST).time() == time(9, 15)
        # the same rows as Kite's own answer (asked outside the rate limits: this is the test reading)
        ks.sim.rate_windows.enabled = False
        kite = ks.client()
        token = ks.sim.catalog().by_key["NSE:ADANIENT"].instrument_token
        want = kite.historical_data(token, "2026-11-01 00:00:00", "2026-11-04 23:59:59", "minute")
        got = pq.read_table(out / "minute" / "ADANIENT" / "2026-11.parquet").to_pylist()
        assert [(r["date"], r["open"], r["high"], r["low"], r["close"], r["volume"]) for r in got] == [
            (c["date"], c["open"], c["high"], c["low"], c["close"], c["volume"]) for c in want
        ]
        ks.sim.rate_windows.enabled = True
        dump = gzip.decompress((out / "instruments").glob("*.csv.gz").__next__().read_bytes()).decode()
        assert dump.splitlines()[0].startswith("instrument_token,exchange_token,tradingsymbol,name")
        assert len(dump.splitlines()) == len(ks.sim.catalog().rows) + 1

        before = files(out)
        assert main([*args, "--json"]) == 0  # all there: nothing requested, nothing rewritten
        assert '"requests": 0' in capsys.readouterr().out and files(out) == before

        # day candles of the future: continuous (Kite splices expired contracts at day), with OI
        day = ["data", "fetch", "--futures", "NIFTY", "--symbols", "ADANIENT", "--from", "2026-10-26"]
        day += ["--to", "2026-11-06", "--interval", "day", "--out", str(out), "--kite-root", ks.url]
        assert main(day) == 0
        t = pq.read_table(out / "day" / "NIFTY-I" / "2026-11.parquet")
        assert t.column_names == ["date", "open", "high", "low", "close", "volume", "oi"]
        stamps = t.column("date").to_pylist()
        assert [s.astimezone(IST) for s in stamps] == [
            datetime.combine(d, time(0, 0), tzinfo=IST) for d in _days(date(2026, 11, 2), date(2026, 11, 6))
        ]
        assert b'"continuous":true' in t.schema.metadata[b"tron.history"]
        t = pq.read_table(out / "day" / "ADANIENT" / "2026-10.parquet")
        assert t.num_rows == len(_days(date(2026, 10, 26), date(2026, 10, 31)))


def test_bad_input_is_refused_before_anything_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hist"
    with running_kite_sim(symbols=5) as ks:
        base = ["data", "fetch", "--interval", "minute", "--out", str(out), "--kite-root", ks.url]
        days = ["--from", "2026-11-02", "--to", "2026-11-03"]
        assert main([*base, *days, "--symbols", "ADANIENT"]) == 1  # no token stored: log in first
        assert "no Kite access token is stored" in capsys.readouterr().err
        monkeypatch.setenv("TRON_SECRET_KITE_ACCESS_TOKEN", ks.sim.login())
        for argv, message in (
            ([*days, "--symbols", "ADANIENT,NOPE", "--futures", "BANKNIFTY"], "NOPE, BANKNIFTY future"),
            (["--from", "2026-11-04", "--to", "2026-11-03", "--symbols", "ADANIENT"], "after --to"),
            (["--from", "2099-01-01", "--to", "2099-01-02", "--symbols", "ADANIENT"], "in the future"),
            (days, "nothing to fetch"),
        ):
            assert main([*base, *argv]) == 2
            assert message in capsys.readouterr().err
        for argv in (
            [*days, "--symbols", "ADANIENT", "--interval", "hour"],
            [*days, "--symbols", "ADANIENT,", "--interval", "day"],
            [*days, "--symbols", "ADANIENT", "--kite-root", "https://example.com"],
        ):
            with pytest.raises(SystemExit) as e:
                main([*base, *argv])
            assert e.value.code == 2
        assert "invalid choice: 'hour'" in capsys.readouterr().err
        assert not out.exists()
        # an interval the broker lacks, through the service; Kite refuses continuous intraday candles
        with pytest.raises(HistoryInputError, match="no '2minute' candles"):
            fetch(
                ks,
                out,
                FetchRequest(date(2026, 11, 2), date(2026, 11, 3), "2minute", ("ADANIENT",)),
                FakeTime(),
            )
        fut = next(r for r in ks.sim.catalog().rows if r.is_future)
        with pytest.raises(kex.InputException, match="day interval"):
            ks.client().historical_data(
                fut.instrument_token, "2026-11-02", "2026-11-03", "minute", continuous=True
            )
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- resilience
LONG = FetchRequest(date(2026, 9, 1), date(2026, 11, 20), "minute", ("ADANIENT", "ADANIPORTS"))


def test_a_429_storm_is_ridden_out_without_losing_or_duplicating_a_row(tmp_path: Path) -> None:
    """81 days of minute candles need two requests a symbol (Kite's 60-day limit). Against the simulator's own 3-a-second window without client pacing, then
    with eight 429s in a row on top (past the session's retries and its breaker), the files are byte for
    byte those of an undisturbed run."""
    ft = FakeTime()
    with running_kite_sim(symbols=2, rate_limits=True, timer=ft) as ks:
        clean, s = fetch(ks, tmp_path / "clean", LONG, ft)
        assert clean.requests == 4 and s.retried == 0 and clean.files_written == 6
        assert clean.rows == 375 * len(_days(LONG.start, LONG.end)) * 2

        ft.sleep(1.0)
        storm = session(ks, ft, pacing=False)  # the simulator's window answers the 4th request with a 429
        ks.sim.fail_next("/instruments/historical", "NetworkException", 429, "Too many requests", times=8)
        with tron_records() as logs:
            summary = fetch_history(
                KiteHistory(storm), LocalArchive(tmp_path / "storm"), ks.clock, LONG, sleep=ft.sleep
            )
        assert not ks.sim.faults  # all eight were answered
        assert summary.waits >= 2 and storm.retried >= 4 and storm.breaker.opened >= 1
        assert logs.at("WARNING", "the broker is unavailable")
        assert summary.requests == 4 and summary.rows == clean.rows
    assert files(tmp_path / "storm") == files(tmp_path / "clean")


class Crash(Exception):
    """The process dies here."""


class CrashingArchive(LocalArchive):
    """Dies on the (n+1)-th month file, as a killed process would between two writes."""

    def __init__(self, root: Path, n: int) -> None:
        super().__init__(root)
        self.left = n

    def write(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        if path.endswith(".parquet"):
            if self.left == 0:
                raise Crash(path)
            self.left -= 1
        return super().write(path, data, content_type)


def test_a_crash_then_a_rerun_fetches_only_what_is_missing(tmp_path: Path) -> None:
    request = FetchRequest(
        date(2026, 10, 26), date(2026, 11, 6), "minute", ("ADANIENT", "AXISBANK", "APOLLOHOSP")
    )
    ft = FakeTime()
    with running_kite_sim(symbols=5, rate_limits=True, timer=ft) as ks:
        clean, _ = fetch(ks, tmp_path / "clean", request, ft)
        assert (clean.requests, clean.files_written) == (3, 6)  # Oct and Nov in one request a symbol

        out = tmp_path / "crashed"
        with pytest.raises(Crash, match="AXISBANK/2026-11"):
            fetch(ks, out, request, ft, CrashingArchive(out, 3))
        assert sorted(p.name for p in (out / "minute" / "AXISBANK").iterdir()) == ["2026-10.parquet"]
        again, s = fetch(ks, out, request, ft)
        assert (again.requests, again.files_written, again.files_complete) == (2, 3, 3)
        assert s.calls == {"instruments": 1, "historical_data": 2}
        assert files(out) == files(tmp_path / "clean")

        # a file cut short (a copy interrupted, a disk fault) never passes for complete: fetched again
        cut = out / "minute" / "ADANIENT" / "2026-11.parquet"
        cut.write_bytes(cut.read_bytes()[:1000])
        (cut.parent / ".2026-10.parquet.0123.tmp").write_bytes(b"half")  # a temporary a kill left behind
        with tron_records() as logs:
            third, _ = fetch(ks, out, request, ft)
        assert (third.requests, third.files_written) == (1, 1)
        assert logs.at("WARNING", "2026-11.parquet is unreadable")
        assert {k: v for k, v in files(out).items() if not k.endswith(".tmp")} == files(tmp_path / "clean")


def test_a_month_without_candles_is_recorded_and_not_asked_again(tmp_path: Path) -> None:
    """The simulator's market starts on 2024-01-01, as a listing would: December 2023 holds no candle,
    so it gets no Parquet file (it would hold no rows) but a hidden record, and a rerun asks nothing."""
    request = FetchRequest(date(2023, 12, 27), date(2024, 1, 3), "day", ("ADANIENT",))
    ft = FakeTime()
    with running_kite_sim(symbols=5, rate_limits=True, timer=ft) as ks:
        first, _ = fetch(ks, tmp_path, request, ft)
        assert (first.requests, first.months_empty, first.files_written) == (1, 1, 1)
        again, _ = fetch(ks, tmp_path, request, ft)
    assert again.requests == 0 and again.files_complete == 2
    folder = tmp_path / "day" / "ADANIENT"
    assert (folder / ".2023-12.empty.json").exists() and not (folder / "2023-12.parquet").exists()
    assert pq.read_table(folder / "2024-01.parquet").num_rows == len(
        _days(date(2024, 1, 1), date(2024, 1, 3))
    )


def test_requests_are_cut_to_the_span_limit() -> None:
    assert list(months(date(2026, 1, 30), date(2026, 3, 2))) == [
        (date(2026, 1, 30), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 2)),
    ]
    assert pieces(date(2026, 1, 1), date(2026, 3, 31), 60) == [
        (date(2026, 1, 1), date(2026, 3, 1)),
        (date(2026, 3, 2), date(2026, 3, 31)),
    ]
    assert pack([]) == []


class PublicClient:
    """The official client seen through its public methods only (as another version might be)."""

    def __init__(self, *args: object, **kw: object) -> None:
        self.client = KiteConnect(*args, **kw)

    def historical_data(self, *args: object) -> object:
        return self.client.historical_data(*args)


def test_candles_parsed_here_equal_the_official_clients(tmp_path: Path) -> None:
    ft = FakeTime()
    with running_kite_sim(symbols=5, rate_limits=True, timer=ft) as ks:
        fut = min((r for r in ks.sim.catalog().rows if r.is_future), key=lambda r: r.expiry)
        a, b = datetime(2026, 11, 19, tzinfo=IST), datetime(2026, 11, 20, 23, 59, tzinfo=IST)
        ours = KiteHistory(session(ks, ft)).candles(fut.instrument_token, a, b, "minute", oi=True)
        theirs = KiteHistory(session(ks, ft, factory=PublicClient)).candles(
            fut.instrument_token, a, b, "minute", oi=True
        )
    assert len(ours) == 2 * 375 and ours == theirs
    assert all(bar.ts.tzinfo is IST for bar in ours)
