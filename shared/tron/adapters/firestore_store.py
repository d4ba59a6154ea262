"""The StateStore on Cloud Firestore: a path like `days/2026-11-23/intents/ID` is the Firestore document of
that path, so the layout reads the same in the Firestore console as in the SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore

from tron.ports import AlreadyExists, Doc

if TYPE_CHECKING:
    from google.cloud.firestore_v1.document import DocumentReference

T = TypeVar("T")


def _doc_path(path: str) -> str:
    clean = path.strip("/")
    parts = clean.split("/")
    if len(parts) % 2 or not all(parts):
        raise ValueError(f"{path!r} is not a document path (collection/doc[/collection/doc…])")
    return clean


def _collection_path(collection: str) -> str:
    clean = collection.strip("/")
    parts = clean.split("/")
    if len(parts) % 2 == 0 or not all(parts):
        raise ValueError(f"{collection!r} is not a collection path (collection[/doc/collection…])")
    return clean


class _FirestoreTxn:
    def __init__(self, store: FirestoreStore, transaction: firestore.Transaction) -> None:
        self.store = store
        self.transaction = transaction

    def _ref(self, path: str) -> DocumentReference:
        return self.store.client.document(_doc_path(path))

    def get(self, path: str) -> Doc | None:
        self.store.reads += 1
        snap = self._ref(path).get(transaction=self.transaction)
        return snap.to_dict() if snap.exists else None

    def set(self, path: str, data: Doc) -> None:
        self.store.writes += 1
        self.transaction.set(self._ref(path), data)

    def create(self, path: str, data: Doc) -> None:
        """Buffered like every transactional write: an existing document fails the commit (AlreadyExists)."""
        self.store.writes += 1
        self.transaction.create(self._ref(path), data)


class FirestoreStore:
    """The StateStore port on a Firestore client; behaviour matches SqliteStore (the contract suite in
    tests/contract runs against both).

    Reads and writes are counted in ``reads``/``writes`` like SqliteStore counts them (list: one read per
    document returned), as Firestore bills them; a transaction retried on contention is counted once per
    attempt. A path of the wrong shape (a document path needs an even number of segments, a collection
    path an odd one) raises ValueError.
    """

    def __init__(self, client: firestore.Client, max_attempts: int = 5) -> None:
        self.client = client
        self.max_attempts = max_attempts
        self.reads = 0
        self.writes = 0

    def get(self, path: str) -> Doc | None:
        """The document's data, or None if it does not exist."""
        self.reads += 1
        snap = self.client.document(_doc_path(path)).get()
        return snap.to_dict() if snap.exists else None

    def set(self, path: str, data: Doc) -> None:
        """Write the whole document (replacing it)."""
        self.writes += 1
        self.client.document(_doc_path(path)).set(data)

    def create(self, path: str, data: Doc) -> bool:
        """Create-if-absent: True if this call created it, False if it already existed."""
        self.writes += 1
        try:
            self.client.document(_doc_path(path)).create(data)
        except gexc.Conflict:  # AlreadyExists (409) is a Conflict
            return False
        return True

    def list(self, collection: str) -> list[tuple[str, Doc]]:
        """The documents directly in a collection, as (id, data), ordered by id."""
        query = self.client.collection(_collection_path(collection)).order_by("__name__")
        out = [(snap.id, snap.to_dict() or {}) for snap in query.stream()]
        self.reads += len(out)
        return out

    def transaction(self, fn: Callable[[Any], T]) -> T:
        """Run fn in a Firestore transaction, retried on contention up to ``max_attempts`` times.

        Firestore requires every read of a transaction to come before its first write (the Txn protocol
        already asks for that). Unlike SqliteStore, a `Txn.create` on an existing document is only detected
        at commit, so AlreadyExists is raised here (after the whole transaction has been rolled back) rather
        than by the `create` call itself.
        """

        @firestore.transactional
        def run(transaction: firestore.Transaction) -> T:
            return fn(_FirestoreTxn(self, transaction))

        try:
            return run(self.client.transaction(max_attempts=self.max_attempts))
        except gexc.AlreadyExists as e:
            # A Txn.create found its document at commit: nothing of the transaction was written.
            raise AlreadyExists(str(e)) from e
