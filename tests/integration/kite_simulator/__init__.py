"""The Kite simulator driven by the real `kiteconnect` client over loopback HTTP, by topic."""
