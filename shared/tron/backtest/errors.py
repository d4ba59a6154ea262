"""The backtester's one error for bad input files (kept free of imports, so `tron` can catch it without
loading the backtester)."""

from __future__ import annotations


class InputError(Exception):
    """A problem with an input file, reported to the user as it is (the file and row named)."""
