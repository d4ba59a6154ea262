"""Count StateStore reads and writes per function invocation, as Firestore bills them (:class:`MeteredStore`,
installed by :func:`meter`), so a whole day's Firestore cost can be measured quickly on the embedded backend.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tron.ports import Doc

T = TypeVar("T")
PAPER_ROOT = "paper"


@dataclass
class Ops:
    """Reads and writes counted, with the paper broker's own (`paper/…`) kept apart."""

    reads: int = 0
    writes: int = 0
    paper_reads: int = 0
    paper_writes: int = 0

    def add(self, root: str, reads: int, writes: int) -> None:
        """Count operations on a path under the top-level collection ``root``."""
        if root == PAPER_ROOT:
            self.paper_reads += reads
            self.paper_writes += writes
        else:
            self.reads += reads
            self.writes += writes


@dataclass
class FunctionOps:
    """One function's invocations: how many, the totals and the largest single invocation."""

    invocations: int = 0
    reads: int = 0
    writes: int = 0
    max_reads: int = 0
    max_writes: int = 0
    paper_reads: int = 0
    paper_writes: int = 0

    def record(self, ops: Ops) -> None:
        """Add one invocation's counts."""
        self.invocations += 1
        self.reads += ops.reads
        self.writes += ops.writes
        self.max_reads = max(self.max_reads, ops.reads)
        self.max_writes = max(self.max_writes, ops.writes)
        self.paper_reads += ops.paper_reads
        self.paper_writes += ops.paper_writes

    def as_dict(self) -> dict[str, int]:
        """Every count by field name."""
        return dict(self.__dict__)


_current: ContextVar[Ops | None] = ContextVar("tron_metered_invocation", default=None)


def _root(path: str) -> str:
    return path.strip("/").split("/", 1)[0]


class _MeteredTxn:
    def __init__(self, meter: MeteredStore, txn: Any) -> None:
        self.meter = meter
        self.txn = txn

    def get(self, path: str) -> Doc | None:
        self.meter._count(path, reads=1)
        return self.txn.get(path)

    def set(self, path: str, data: Doc) -> None:
        self.meter._count(path, writes=1)
        self.txn.set(path, data)

    def create(self, path: str, data: Doc) -> None:
        self.meter._count(path, writes=1)
        self.txn.create(path, data)


@dataclass
class MeteredStore:
    """A StateStore that counts its calls, then delegates them to ``inner`` (SQLite or Firestore).

    Counts are taken at the port: get = 1 read, list = 1 read per document returned, set/create = 1 write,
    and inside a transaction the same per call (a transaction that Firestore retries on contention runs its
    function again and is counted again, as it is billed again). Because it counts the services' port
    calls, not what an adapter does underneath, the embedded and the Firestore backend give identical counts
    for the same day (tests/integration/test_emulated_day.py checks it). Counts are kept in ``total``, per
    invocation (:meth:`invocation`; a contextvar names the function being served, so threads of the
    functions host do not mix) and per top-level collection: `paper/…` is the paper broker's own
    bookkeeping, which Kite replaces in production, and is reported apart.
    """

    inner: Any
    total: Ops = field(default_factory=Ops)
    by_function: dict[str, FunctionOps] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _count(self, path: str, reads: int = 0, writes: int = 0) -> None:
        root = _root(path)
        with self._lock:
            self.total.add(root, reads, writes)
        current = _current.get()
        if current is not None:
            current.add(root, reads, writes)

    @contextlib.contextmanager
    def invocation(self, function: str) -> Iterator[Ops]:
        """Attribute the store calls made inside (in this thread or task) to one invocation of `function`."""
        ops = Ops()
        token = _current.set(ops)
        try:
            yield ops
        finally:
            _current.reset(token)
            with self._lock:
                self.by_function.setdefault(function, FunctionOps()).record(ops)

    def report(self) -> dict[str, dict[str, int]]:
        """Per function, by name: its invocations, totals and largest single invocation."""
        with self._lock:
            return {name: f.as_dict() for name, f in sorted(self.by_function.items())}

    # The StateStore port, delegated.
    def get(self, path: str) -> Doc | None:
        self._count(path, reads=1)
        return self.inner.get(path)

    def set(self, path: str, data: Doc) -> None:
        self._count(path, writes=1)
        self.inner.set(path, data)

    def create(self, path: str, data: Doc) -> bool:
        self._count(path, writes=1)
        return bool(self.inner.create(path, data))

    def list(self, collection: str) -> list[tuple[str, Doc]]:
        out: list[tuple[str, Doc]] = self.inner.list(collection)
        self._count(collection, reads=len(out))
        return out

    def transaction(self, fn: Callable[[Any], T]) -> T:
        return self.inner.transaction(lambda txn: fn(_MeteredTxn(self, txn)))


def meter(deps: Any) -> MeteredStore:
    """Wrap deps.store (and the paper broker's view of it) in a MeteredStore; returns the meter."""
    store = MeteredStore(deps.store)
    deps.store = store
    if getattr(deps.broker, "store", None) is store.inner:
        deps.broker.store = store
    return store
