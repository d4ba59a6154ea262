"""Simulated markets: the seeded minute-data generator (`market`, `derivatives`) and the Kite Connect
compatible exchange simulator (`kite`)."""
