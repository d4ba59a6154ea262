"""The Archive as a local folder (the embedded stand-in for the GCS bucket)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path


class LocalArchive:
    """The Archive port on a folder: a path is a file under ``root`` (ValueError for one that climbs out)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _file(self, path: str) -> Path:
        f = (self.root / path).resolve()
        if self.root.resolve() not in f.parents:
            raise ValueError(f"archive path {path!r} escapes the archive")
        f.parent.mkdir(parents=True, exist_ok=True)
        return f

    def write(self, path: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Write the file (folders created, content type ignored); returns its path. Atomic, as a GCS upload
        is: the bytes go to a hidden temporary file beside it, then renamed over it, so a reader, or a
        crash of the process, never sees half a file."""
        f = self._file(path)
        tmp = f.with_name(f".{f.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, f)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return str(f)

    def append_lines(self, path: str, lines: Iterable[str]) -> None:
        """Append the lines, each ending in one newline, creating the file if needed."""
        with self._file(path).open("a", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line.rstrip("\n") + "\n")

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None if there is none."""
        f = self.root / path
        return f.read_bytes() if f.exists() else None
