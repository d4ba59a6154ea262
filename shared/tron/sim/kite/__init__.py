"""A Kite Connect v3 compatible exchange simulator: the real `kiteconnect` client talks to it over HTTP.

sim = KiteSim(GeneratedMarketData(MarketGenerator(nifty50(), nse_calendar(), seed), clock), clock)
running = serve(sim)              # http://127.0.0.1:<port>, routes at the top level
kite = KiteConnect("sim", root=running.url)
"""

from tron.sim.kite.core import KiteError, KiteSim, Request, Response
from tron.sim.kite.server import RunningSim, serve

__all__ = ["KiteError", "KiteSim", "Request", "Response", "RunningSim", "serve"]
