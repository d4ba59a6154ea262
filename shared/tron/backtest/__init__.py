"""`tron backtest`: replay bars or recorded snapshots through the live decision code.

Two modes share the loaders, the metrics and the HTML report:

* intraday (``engine``): each session is replayed snapshot by snapshot into ``tron.domain.decide.decide``
  with a plan of one registry strategy and the configured risk limits, a simulated ``Book``, a selectable
  fill model (``fills``), Zerodha charges and the equity square-off, so strategy, sizing, risk and exits are
  the live tick's;
* peer (``peer``): long-only, all-in, whole shares, next-bar-open fills, no costs, no square-off — the
  conventions of backtesting.py, to compare with it (tests) and to benchmark against it (bench/).

Nothing here reads the clock or touches the network; backtesting.py and backtrader are test/bench-only.
"""
