"""The Archive contract: LocalArchive (a folder) and GcsArchive (on fake-gcs-server) behave alike."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tron.adapters.localfs import LocalArchive
from tron.ports import Archive


@pytest.fixture(params=["local", "gcs"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Archive]:
    if request.param == "local":
        yield LocalArchive(tmp_path / "archive")
    elif request.param == "gcs":
        from tron.adapters.gcs_archive import GcsArchive

        bucket = request.getfixturevalue("gcs_bucket")  # an empty bucket on a freshly wiped server
        yield GcsArchive(request.getfixturevalue("gcs_client"), bucket, seed=7)


def test_write_read_roundtrip_and_location(archive: Archive, request: pytest.FixtureRequest) -> None:
    data = bytes(range(256)) * 3
    where = archive.write("reports/2026-11-23/report.json", data, "application/json")
    assert archive.read("reports/2026-11-23/report.json") == data
    if isinstance(archive, LocalArchive):
        assert Path(where).read_bytes() == data
    else:
        assert where == f"gs://{request.getfixturevalue('gcs_bucket')}/reports/2026-11-23/report.json"


def test_write_replaces(archive: Archive) -> None:
    archive.write("a/b.txt", b"first")
    archive.write("a/b.txt", b"second")
    assert archive.read("a/b.txt") == b"second"


def test_missing_path_reads_none(archive: Archive) -> None:
    assert archive.read("logs/2026-11-23/nothing.jsonl") is None


def test_append_lines_appends_in_order_across_calls(archive: Archive) -> None:
    path = "logs/2026-11-23/tick.jsonl"
    archive.append_lines(path, ['{"i": 1}', '{"i": 2}\n'])
    archive.append_lines(path, [])
    archive.append_lines(path, iter(['{"i": 3}']))
    assert archive.read(path) == b'{"i": 1}\n{"i": 2}\n{"i": 3}\n'


def test_interleaving_appenders_lose_no_line(archive: Archive) -> None:
    path = "logs/2026-11-23/both.jsonl"
    n = 15
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def appender(who: str) -> None:
        try:
            start.wait()
            for i in range(n):
                archive.append_lines(path, [f"{who}-{i:02d}"])
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=appender, args=(w,)) for w in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    got = (archive.read(path) or b"").decode().splitlines()
    assert sorted(got) == sorted(f"{w}-{i:02d}" for w in ("a", "b") for i in range(n))
    for w in ("a", "b"):  # each appender's lines stay in its own order
        assert [x for x in got if x.startswith(w)] == [f"{w}-{i:02d}" for i in range(n)]


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/tron-escape", "a/../../outside.txt"])
def test_escaping_paths_are_refused(archive: Archive, path: str) -> None:
    with pytest.raises(ValueError, match="escapes the archive"):
        archive.write(path, b"x")
    with pytest.raises(ValueError, match="escapes the archive"):
        archive.append_lines(path, ["x"])
