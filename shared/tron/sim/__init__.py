"""Simulated markets: the seeded minute-data generator (and, later, the Kite-compatible exchange)."""
