"""What a `tron` command raises for a user's mistake or a failure it reports."""

from __future__ import annotations


class CommandError(Exception):
    """Reported as `tron <command>: <message>` with exit code `code`: 2 for bad input (the default, as
    argparse uses), 1 for a failure the user did not cause (a port in use, a stand-in that did not start)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code
