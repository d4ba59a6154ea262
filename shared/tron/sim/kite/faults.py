"""Scripted failures for tests: the next requests matching a path prefix get an error envelope or a dropped
connection instead of their answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tron.sim.kite.protocol import JSON, Response


@dataclass
class Fault:
    """A scripted failure: the next `times` requests matching method and prefix get this instead of their
    answer."""

    method: str | None
    prefix: str
    status: int
    error_type: str | None
    message: str
    times: int
    drop: bool = False
    after: bool = False  # process the request first (e.g. the order is placed), then fail the response


class Faults:
    """The pending faults, first added first used. Not thread-safe: the simulator calls it under its lock."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def fail_next(
        self,
        path_prefix: str,
        error_type: str | None,
        status: int,
        message: str,
        times: int,
        method: str | None,
        after: bool,
    ) -> None:
        """Answer the next `times` matching requests with this error envelope (see `KiteSim.fail_next`)."""
        self.pending.append(Fault(method, path_prefix, status, error_type, message, times, after=after))

    def drop_connection_next(self, path_prefix: str, times: int, method: str | None, after: bool) -> None:
        """Close the connection of the next `times` matching requests without an answer."""
        self.pending.append(Fault(method, path_prefix, 0, None, "", times, drop=True, after=after))

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching the request, counted as used once (removed when used up); None if none."""
        for f in self.pending:
            if path.startswith(f.prefix) and (f.method is None or f.method == method):
                f.times -= 1
                if f.times <= 0:
                    self.pending.remove(f)
                return f
        return None


def fault_response(f: Fault) -> Response:
    """What the client gets for a fault: a dropped connection, or the error envelope (without error_type
    when the fault has none, which is what crashes the client)."""
    if f.drop:
        return Response(0, JSON, b"", drop=True)
    body: dict[str, Any] = {"status": "error", "message": f.message, "data": None}
    if f.error_type is not None:
        body["error_type"] = f.error_type
    return Response(f.status, JSON, json.dumps(body).encode())
