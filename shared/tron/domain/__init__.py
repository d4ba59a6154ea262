"""Pure trading logic: no I/O, no clock reads, deterministic (standard library, numpy and pandas only)."""
