"""Facts of Kite Connect's published API that TRON's Kite adapters and the Kite simulator both follow, kept
once: the instruments dump's columns and the historical API's longest span per request."""

from __future__ import annotations

# The columns of Kite's instruments dump (GET /instruments), in order.
DUMP_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)

# The most days one historical request may span, by interval (Kite's documented limits).
HISTORICAL_MAX_DAYS: dict[str, int] = {
    "minute": 60,
    "3minute": 100,
    "5minute": 100,
    "10minute": 100,
    "15minute": 200,
    "30minute": 200,
    "60minute": 400,
    "day": 2000,
}
