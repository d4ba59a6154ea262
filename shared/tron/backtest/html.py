"""The backtest report as one self-contained HTML page: metrics, the equity curve, the drawdown and the
trades marked on the price chart, all inline SVG (no scripts, no CDN), like tron.domain.report."""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

import numpy as np

from tron.backtest.result import BacktestResult, PriceSeries, Trade

W, H = 760, 200
MAX_POINTS = 1500  # long curves are thinned to keep the page small
MAX_CHARTS = 4
MAX_TRADE_ROWS = 300


def _thin(n: int) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    idx = np.linspace(0, n - 1, MAX_POINTS).round().astype(int)
    return np.unique(idx)


def _scale(lo: float, hi: float) -> tuple[float, float]:
    span = (hi - lo) or abs(hi) or 1.0
    return lo, span


def _line(x: np.ndarray, y: np.ndarray, n: int, lo: float, span: float, color: str) -> str:
    pick = _thin(len(x))
    pts = " ".join(
        f"{x[i] / max(n - 1, 1) * W:.1f},{H - (y[i] - lo) / span * H:.1f}" for i in pick if np.isfinite(y[i])
    )
    return f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>'


def _svg(label: str, body: str) -> str:
    return (
        f'<svg viewBox="-4 -8 {W + 8} {H + 16}" width="{W}" height="{H + 8}" role="img" '
        f'aria-label="{html.escape(label)}">{body}</svg>'
    )


def equity_svg(equity: np.ndarray) -> str:
    """The equity curve as inline SVG with its range below ("No bars." when empty)."""
    if len(equity) == 0:
        return "<p>No bars.</p>"
    lo, span = _scale(float(np.min(equity)), float(np.max(equity)))
    return _svg("equity curve", _line(np.arange(len(equity)), equity, len(equity), lo, span, "#1565c0")) + (
        f'<p class="axis">₹{np.min(equity):,.2f} … ₹{np.max(equity):,.2f} over {len(equity)} bars</p>'
    )


def drawdown_svg(equity: np.ndarray, capital: float) -> str:
    """The drawdown from the running peak (the capital being the first), in %, as inline SVG ("" when
    empty)."""
    if len(equity) == 0:
        return ""
    peak = np.maximum.accumulate(np.concatenate([[capital], equity]))[1:]
    dd = (equity - peak) / peak * 100
    lo, span = _scale(float(np.min(dd)), 0.0)
    area = _line(np.arange(len(dd)), dd, len(dd), lo, span, "#c62828")
    return _svg("drawdown", area) + f'<p class="axis">drawdown 0 … {np.min(dd):.2f} %</p>'


def price_svg(series: PriceSeries, trades: list[Trade], n: int) -> str:
    """One symbol's closes over the ``n`` bars of the equity curve, with each trade's entry (▲ long,
    ▼ short) and exit (○) marked, as inline SVG."""
    y = np.asarray(series.close, dtype=np.float64)
    lo, span = _scale(float(np.min(y)), float(np.max(y)))
    parts = [_line(np.asarray(series.bars), y, n, lo, span, "#555")]

    def xy(bar: int, price: float) -> tuple[float, float]:
        return bar / max(n - 1, 1) * W, H - (price - lo) / span * H

    for t in trades:
        x, yy = xy(t.entry_bar, float(t.entry_price))
        color = "#2e7d32" if t.direction == "long" else "#c62828"
        tip = html.escape(f"{t.direction} {t.qty} @ {t.entry_price} {t.entry_time:%Y-%m-%d %H:%M}")
        d = -6 if t.direction == "long" else 6
        parts.append(
            f'<path d="M{x:.1f},{yy:.1f} l-5,{-d} l10,0 z" fill="{color}"><title>entry: {tip}</title></path>'
        )
        if t.closed and t.exit_bar is not None and t.exit_price is not None:
            x2, y2 = xy(t.exit_bar, float(t.exit_price))
            tip2 = html.escape(f"exit {t.exit_price} ({t.exit_reason}) P&L {t.pnl}")
            parts.append(
                f'<line x1="{x:.1f}" y1="{yy:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                f'stroke-dasharray="3"/><circle cx="{x2:.1f}" cy="{y2:.1f}" r="3.5" fill="#fff" '
                f'stroke="{color}"><title>{tip2}</title></circle>'
            )
    return _svg(f"{series.symbol} price and trades", "".join(parts)) + (
        f'<p class="axis">{html.escape(series.symbol)}: {lo:,.2f} … {lo + span:,.2f}; ▲ long entry, ▼ short '
        f"entry, ○ exit</p>"
    )


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.4f}"
    return html.escape(str(v))


def head(title: str) -> str:
    """The page's start up to its <body>: the title and the reports' one style sheet."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em;max-width:{W + 40}px}}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:right}th:first-child,td:first-child{text-align:left}.axis{color:#666;font-size:small}"
        "</style></head><body>"
    )


def render(result: BacktestResult, summary: dict[str, Any], title: str = "TRON backtest") -> str:
    """The whole report page: the metrics of ``summary`` (tron.backtest.metrics.summarize), the value at
    risk table, the equity and drawdown charts, price charts of the most traded symbols (``MAX_CHARTS``)
    and the first ``MAX_TRADE_ROWS`` trades."""
    e = html.escape
    n = len(result.times)
    parts = [head(title), f"<h1>{e(title)}: {e(result.strategy)} ({e(result.mode)})</h1>"]
    if n:
        parts.append(
            f"<p>{result.times[0]:%Y-%m-%d %H:%M} → {result.times[-1]:%Y-%m-%d %H:%M} IST, {n} bars</p>"
        )
    keys = (
        "capital", "final_equity", "total_return_pct", "trades", "open_trades", "win_rate", "charges",
        "max_drawdown_pct", "sharpe", "sortino", "cagr_pct", "calmar", "exposure_pct", "entries_refused",
    )  # fmt: skip
    parts.append("<table>" + "".join(f"<tr><th>{k}</th><td>{_fmt(summary.get(k))}</td></tr>" for k in keys))
    parts.append(f"<tr><th>settings</th><td>{e(str(summary.get('settings', {})))}</td></tr></table>")
    risk = summary.get("risk")
    if risk:
        cols = list(next(iter(risk.values())))
        parts.append(
            "<h2>One-day value at risk (% of equity)</h2><table><tr><th>method</th>"
            + "".join(f"<th>{e(c)}</th>" for c in cols)
            + "</tr>"
            + "".join(
                f"<tr><td>{e(m)}</td>" + "".join(f"<td>{row[c]:.4f}</td>" for c in cols) + "</tr>"
                for m, row in risk.items()
            )
            + "</table>"
        )
    parts.append(f"<h2>Equity</h2>{equity_svg(result.equity)}")
    parts.append(f"<h2>Drawdown</h2>{drawdown_svg(result.equity, float(result.capital))}")
    by_symbol: dict[str, list[Trade]] = {}
    for t in result.trades:
        by_symbol.setdefault(t.symbol, []).append(t)
    ranked = [s for s, _ in Counter({s: len(v) for s, v in by_symbol.items()}).most_common(MAX_CHARTS)]
    if not ranked and result.prices:
        ranked = [result.prices[0].symbol]
    series = {p.symbol: p for p in result.prices}
    for s in ranked:
        if s in series:
            parts.append(f"<h2>{e(s)}: price and trades</h2>{price_svg(series[s], by_symbol.get(s, []), n)}")
    if result.trades:
        parts.append(
            "<h2>Trades</h2><table><tr><th>symbol</th><th>side</th><th>qty</th><th>entry</th><th>price</th>"
            "<th>exit</th><th>price</th><th>net P&amp;L ₹</th><th>why out</th></tr>"
        )
        for t in result.trades[:MAX_TRADE_ROWS]:
            parts.append(
                f"<tr><td>{e(t.symbol)}</td><td>{t.direction}</td><td>{t.qty}</td>"
                f"<td>{t.entry_time:%Y-%m-%d %H:%M}</td><td>{t.entry_price}</td>"
                f"<td>{'' if t.exit_time is None else f'{t.exit_time:%Y-%m-%d %H:%M}'}</td>"
                f"<td>{'' if t.exit_price is None else t.exit_price}</td><td>{t.pnl:,.2f}</td>"
                f"<td>{e(t.exit_reason or ('open' if not t.closed else ''))}</td></tr>"
            )
        parts.append("</table>")
        if len(result.trades) > MAX_TRADE_ROWS:
            parts.append(f"<p>… and {len(result.trades) - MAX_TRADE_ROWS} more trades (see --json).</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
