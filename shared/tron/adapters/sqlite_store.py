"""The StateStore on SQLite: one table of JSON documents keyed by path; transactions are BEGIN IMMEDIATE."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tron.ports import AlreadyExists, Doc

T = TypeVar("T")


def _parent(path: str) -> str:
    parts = path.strip("/").split("/")
    if len(parts) % 2:
        raise ValueError(f"{path!r} is not a document path (collection/doc[/collection/doc…])")
    return "/".join(parts[:-1])


class _Txn:
    def __init__(self, conn: sqlite3.Connection, counts: SqliteStore | None = None) -> None:
        self.conn = conn
        self.counts = counts

    def _count(self, reads: int = 0, writes: int = 0) -> None:
        if self.counts is not None:
            self.counts.reads += reads
            self.counts.writes += writes

    def get(self, path: str) -> Doc | None:
        self._count(reads=1)
        row = self.conn.execute("SELECT data FROM docs WHERE path=?", (path,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set(self, path: str, data: Doc) -> None:
        self._count(writes=1)
        self.conn.execute(
            "INSERT INTO docs(path, parent, data) VALUES(?,?,?) ON CONFLICT(path) DO UPDATE SET data=excluded.data",
            (path, _parent(path), json.dumps(data, sort_keys=True)),
        )

    def create(self, path: str, data: Doc) -> None:
        self._count(writes=1)
        try:
            self.conn.execute(
                "INSERT INTO docs(path, parent, data) VALUES(?,?,?)",
                (path, _parent(path), json.dumps(data, sort_keys=True)),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(path) from None


class SqliteStore:
    """The StateStore port on one SQLite file (or ":memory:"), safe to share between threads.

    Counts document reads and writes in ``reads``/``writes`` (list counts one read per document, as
    Firestore bills). Writing to a path that is not a document path (an odd number of segments) raises
    ValueError.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS docs(path TEXT PRIMARY KEY, parent TEXT NOT NULL, data TEXT NOT NULL)"
        )
        self.conn.execute("CREATE INDEX IF NOT EXISTS docs_parent ON docs(parent)")
        self.reads = 0
        self.writes = 0

    def get(self, path: str) -> Doc | None:
        """The document's data, or None if it does not exist."""
        with self._lock:
            return _Txn(self.conn, self).get(path)

    def set(self, path: str, data: Doc) -> None:
        """Write the whole document (replacing it)."""
        with self._lock:
            _Txn(self.conn, self).set(path, data)

    def create(self, path: str, data: Doc) -> bool:
        """Create-if-absent: True if this call created it, False if it already existed."""
        with self._lock:
            try:
                _Txn(self.conn, self).create(path, data)
                return True
            except AlreadyExists:
                return False

    def list(self, collection: str) -> list[tuple[str, Doc]]:
        """The documents directly in a collection, as (id, data), ordered by id."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT path, data FROM docs WHERE parent=? ORDER BY path", (collection.strip("/"),)
            ).fetchall()
            self.reads += len(rows)
            return [(p.rsplit("/", 1)[1], json.loads(d)) for p, d in rows]

    def transaction(self, fn: Callable[[Any], T]) -> T:
        """Run fn inside BEGIN IMMEDIATE … COMMIT, rolled back if it raises (AlreadyExists included). It
        runs once: SQLite's write lock means no contention retry."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(_Txn(self.conn, self))
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            return result

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
