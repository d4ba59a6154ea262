"""A Kite Connect v3 compatible exchange simulator: the real `kiteconnect` client (and its KiteTicker) talk to
it over HTTP and WebSocket on loopback exactly as they talk to Kite.

    sim = KiteSim(GeneratedMarketData(MarketGenerator(nifty50(), nse_calendar(), seed), clock), clock)
    running = serve(sim)              # http://127.0.0.1:<port>, routes at the top level, ticker on ws://…/
    kite = KiteConnect("sim", root=running.url)

Modules: `core` (KiteSim: routes, accounts, lazy order advancement), `engine` (pure matching against simulated
depth), `catalog` (the instruments dump), `market_view` (quotes, books and candles from the generator),
`portfolio` (positions and margin rules), `auth` (sessions), `limits` (rate limits), `gtt`, `postbacks`,
`ticker` (the WebSocket protocol) and `server` (the HTTP layer).
"""

from tron.sim.kite.core import KiteSim
from tron.sim.kite.protocol import KiteError, Request, Response
from tron.sim.kite.server import RunningSim, serve

__all__ = ["KiteError", "KiteSim", "Request", "Response", "RunningSim", "serve"]
