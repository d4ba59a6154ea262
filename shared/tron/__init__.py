"""TRON: automated intraday trading for NSE on Zerodha Kite Connect."""

__version__ = "0.1.0"
