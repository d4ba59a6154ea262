"""`tron backtest`: replay bars or recorded snapshots through the live decision code.

Two modes share the loaders (``data``), the metrics and the HTML report: intraday (``engine``: the live
tick's decide(), so strategy, sizing, risk and exits are the live ones, with a selectable fill model, Zerodha
charges and the square-off) and peer (``peer``: backtesting.py's conventions, to compare with it in tests and
to benchmark against it in bench/). Nothing here reads the clock or touches the network; backtesting.py and
backtrader are test/bench-only.
"""
