"""A Kite Connect v3 compatible exchange simulator: the real `kiteconnect` client (and its KiteTicker) talk to
it over HTTP and WebSocket on loopback exactly as they talk to Kite.

    sim = KiteSim(GeneratedMarketData(MarketGenerator(nifty50(), nse_calendar(), seed), clock), clock)
    running = serve(sim)              # http://127.0.0.1:<port>, routes at the top level, ticker on ws://…/
    kite = KiteConnect("sim", root=running.url)

`sim.KiteSim` is the facade (dispatch, auth, test hooks) wiring plain state objects (`venue`, `portfolio`,
`order_book`, `trading_day`, `gtt_book`) into the route classes (`accounts`, `market_routes`, `order_routes`,
`calculators`, `gtt_routes`); `engine` is the pure matching, `server` the HTTP layer, `ticker` the WebSocket.
"""

from tron.sim.kite.protocol import KiteError, Request, Response
from tron.sim.kite.server import RunningSim, serve
from tron.sim.kite.sim import KiteSim

__all__ = ["KiteError", "KiteSim", "Request", "Response", "RunningSim", "serve"]
