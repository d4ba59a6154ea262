"""The Archive on Cloud Storage: objects `gs://BUCKET/PATH` (:class:`GcsArchive`)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from google.api_core import exceptions as gexc

if TYPE_CHECKING:
    import google.cloud.storage as storage


def _object_name(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"archive path {path!r} escapes the archive or is not a clean relative path")
    return path


class GcsArchive:
    """The Archive port on one bucket.

    Paths are object names relative to the bucket; like LocalArchive, names that would climb out of the
    archive (a leading `/`, `.` or `..` segments, empty segments) raise ValueError.
    """

    def __init__(
        self, client: storage.Client, bucket: str, max_attempts: int = 50, seed: int | None = None
    ) -> None:
        self.client = client
        self.bucket_name = bucket
        self.bucket = client.bucket(bucket)
        self.max_attempts = max_attempts
        self._rng = random.Random(seed)

    def write(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Upload (replacing any object of that name); returns its `gs://` URL."""
        name = _object_name(path)
        self.bucket.blob(name).upload_from_string(data, content_type=content_type)
        return f"gs://{self.bucket_name}/{name}"

    def read(self, path: str) -> bytes | None:
        """The object's bytes, or None if there is none."""
        try:
            return self.bucket.blob(_object_name(path)).download_as_bytes()
        except gexc.NotFound:
            return None

    def append_lines(self, path: str, lines: Iterable[str]) -> None:
        """Append the lines (each ending in one newline) to the object, creating it if needed.

        GCS objects are immutable, so this is a read-modify-write guarded by a generation precondition:
        read the object and its generation, upload old + new lines with `if_generation_match=<that
        generation>` (0 when the object does not exist yet), and start over after a short random wait on
        PreconditionFailed. Concurrent appenders therefore never lose each other's lines, and the object is
        always one readable file. The cost is that each append rewrites the whole object (three requests
        and O(size) bytes): fine for the per-day, per-function logs this archive holds (a few MB at most);
        for anything bigger, write numbered parts and compose them instead. RuntimeError after
        ``max_attempts`` lost races.
        """
        name = _object_name(path)
        payload = "".join(line.rstrip("\n") + "\n" for line in lines).encode("utf-8")
        if not payload:
            return
        for attempt in range(self.max_attempts):
            current = self.bucket.get_blob(name)
            try:
                if current is None:
                    old, generation = b"", 0
                else:
                    generation = int(current.generation or 0)
                    old = current.download_as_bytes(if_generation_match=generation)
                self.bucket.blob(name).upload_from_string(
                    old + payload, content_type="text/plain; charset=utf-8", if_generation_match=generation
                )
                return
            except (gexc.PreconditionFailed, gexc.NotFound):
                # Another appender got there first (or the object went away): read again and retry.
                time.sleep(self._rng.uniform(0, min(0.5, 0.005 * 2**attempt)))
        raise RuntimeError(
            f"append to gs://{self.bucket_name}/{name} lost the race {self.max_attempts} times"
        )
