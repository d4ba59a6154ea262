"""Shared builders, fakes and local servers for the tests (imported by test modules, never the reverse):

- days: TRADING_DAY, HOLIDAY, settings(), at(), embedded_deps()
- domain: quotes, an entry on stock A, daily bars, the limits of a ₹10 lakh account, rupee amounts
- backtest: the simulator's minute bars as CSV, an orb + vwap plan
- day: ManualDay, a trading day driven by hand minute by minute
- logs: TRON's log records
- paths: the repository's root
- emulators: the Firestore, Pub/Sub and GCS stand-in fixtures (tests/conftest.py registers them)
- kite_sim, kite_client: the Kite simulator fixture, and the calls its tests share
- netfault: a TCP proxy that holds a request in the network
- fakes/: OpenAI, Cloud Scheduler, Secret Manager, and the Kite Connect client the adapters call
"""
