"""Kite Connect adapters on the official `kiteconnect` client: market data, broker, the daily login's token
exchange, and the client-side protections (rate limits, circuit breaker, error classification)."""

from tron.adapters.kite.broker import KiteBroker, KitePosition
from tron.adapters.kite.errors import Kind, TokenExpired, classify
from tron.adapters.kite.limits import CircuitBreaker, CircuitOpen, RateLimiter, TokenBucket
from tron.adapters.kite.login import KiteTokenExchange
from tron.adapters.kite.market import KiteMarketData
from tron.adapters.kite.session import (
    ACCESS_TOKEN_SECRET,
    API_KEY_SECRET,
    API_SECRET_SECRET,
    KiteSession,
    app_api_key,
)

__all__ = [
    "ACCESS_TOKEN_SECRET",
    "API_KEY_SECRET",
    "API_SECRET_SECRET",
    "CircuitBreaker",
    "CircuitOpen",
    "Kind",
    "KiteBroker",
    "KiteMarketData",
    "KitePosition",
    "KiteSession",
    "KiteTokenExchange",
    "RateLimiter",
    "TokenBucket",
    "TokenExpired",
    "app_api_key",
    "classify",
]
