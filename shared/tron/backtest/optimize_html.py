"""The walk-forward report as one self-contained HTML page, in the backtest report's style
(tron.backtest.html): the degradation, the chosen set per window, the parameter stability, a heat map of
the in-sample objective over the grid, and the stitched out-of-sample equity and drawdown. No scripts, no
CDN."""

from __future__ import annotations

import html
from typing import Any

from tron.backtest.html import drawdown_svg, equity_svg, head
from tron.backtest.optimize import NAMES, WalkForward, fmt, label

NONE_COLOUR = "#eee"
OOS_KEYS = (
    "capital", "final_equity", "net", "total_return_pct", "trades", "sharpe", "calmar", "max_drawdown_pct",
)  # fmt: skip


def colour(v: float | None, lo: float, hi: float) -> str:
    """A cell's background: red at the lowest value through yellow to green at the highest (grey when
    undefined; yellow when every value is the same)."""
    if v is None:
        return NONE_COLOUR
    t = 0.5 if hi <= lo else (v - lo) / (hi - lo)
    return f"hsl({120 * t:.0f},65%,78%)"


def heat_map(wf: WalkForward) -> str:
    """The mean in-sample objective of every parameter set over the windows, each cell coloured by it and
    marked with how many windows chose it: a matrix for two parameters, a row for one, a list otherwise."""
    e = html.escape
    heat = wf.heat()
    finite = [v for v, _ in heat.values() if v is not None]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    points = wf.grid.points()

    def cell(i: int) -> str:
        v, n = heat.get(i, (None, 0))
        text = "skipped" if i not in heat else "–" if v is None else f"{v:,.3f}"
        mark = f"<br><small>chosen ×{n}</small>" if n else ""
        border = "border:2px solid #333;" if n else ""
        return f'<td style="background:{colour(v, lo, hi)};{border}">{text}{mark}</td>'

    keys, values = wf.grid.keys, wf.grid.values
    if len(keys) == 2:
        top = "".join(f"<th>{fmt(v)}</th>" for v in values[1])
        rows = [f"<tr><th>{e(keys[0])} \\ {e(keys[1])}</th>{top}</tr>"]
        for a, va in enumerate(values[0]):
            cells = "".join(cell(a * len(values[1]) + b) for b in range(len(values[1])))
            rows.append(f"<tr><th>{fmt(va)}</th>{cells}</tr>")
        body = "".join(rows)
    elif len(keys) == 1:
        body = (
            f"<tr><th>{e(keys[0])}</th>" + "".join(f"<th>{fmt(v)}</th>" for v in values[0]) + "</tr>"
            f"<tr><th>{e(NAMES[wf.objective] if wf.objective != 'net' else 'net ₹')}</th>"
            + "".join(cell(i) for i in range(len(points)))
            + "</tr>"
        )
    else:
        body = "<tr>" + "".join(f"<th>{e(k)}</th>" for k in keys) + f"<th>{e(wf.objective)}</th></tr>"
        for i, p in enumerate(points):
            body += "<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in p.values()) + cell(i) + "</tr>"
    what = "net P&L ₹" if wf.objective == "net" else NAMES[wf.objective]
    return (
        f"<table>{body}</table><p class='axis'>mean in-sample {e(what)} over the {len(wf.outcomes)} "
        f"windows, red (low) to green (high); a framed cell was chosen in some window</p>"
    )


def _num(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:,.4f}" if isinstance(v, float) else html.escape(str(v))


def render(wf: WalkForward, strategy: str, title: str = "TRON walk-forward") -> str:
    """The whole report page of a walk-forward run of ``strategy``."""
    e = html.escape
    doc = wf.to_doc()
    obj = wf.objective
    how = "anchored" if wf.anchored else "rolling"
    parts = [
        head(title),
        f"<h1>{e(title)}: {e(strategy)}</h1>",
        f"<p>{how} windows, {wf.train_days} training and {wf.test_days} test trading days, objective "
        f"{e(obj)}, {len(wf.points)} parameter sets × {len(wf.outcomes)} windows</p>",
        f"<p><strong>{e(doc['summary'])}</strong></p>",
        "<h2>Chosen per window</h2><table><tr><th>window</th><th>train</th><th>test</th><th>chosen</th>"
        f"<th>IS {e(obj)}</th><th>OOS {e(obj)}</th><th>OOS net ₹</th><th>OOS trades</th></tr>",
    ]
    for w in doc["windows"]:
        ins, oos = w["in_sample"], w["out_of_sample"]
        tr, te = w["train"], w["test"]
        parts.append(
            f"<tr><td>{w['window']}</td><td>{tr['from']} … {tr['to']} ({tr['days']})</td>"
            f"<td>{te['from']} … {te['to']} ({te['days']})</td><td>{e(label(w['chosen']))}</td>"
            f"<td>{_num(ins[obj] if obj != 'net' else float(ins['net']))}</td>"
            f"<td>{_num(oos[obj] if obj != 'net' else float(oos['net']))}</td>"
            f"<td>{float(oos['net']):,.2f}</td><td>{oos['trades']}</td></tr>"
        )
    parts.append("</table><h2>Parameter stability</h2><table><tr><th>parameter</th><th>value</th>")
    parts.append("<th>windows that chose it</th><th>share</th></tr>")
    n = len(wf.outcomes)
    for key, st in doc["stability"].items():
        for v, count in st["counts"].items():
            parts.append(f"<tr><td>{e(key)}</td><td>{e(v)}</td><td>{count}</td><td>{count / n:.0%}</td></tr>")
    parts.append("</table>")
    what = "net P&L ₹" if obj == "net" else NAMES[obj]
    parts.append(f"<h2>In-sample {e(what)} over the grid</h2>{heat_map(wf)}")
    o = doc["out_of_sample"]
    parts.append(
        f"<h2>Out of sample, stitched</h2><p>{o['from']} … {o['to']}, {o['days']} days</p><table>"
        + "".join(f"<tr><th>{k}</th><td>{_num(o[k])}</td></tr>" for k in OOS_KEYS)
        + "</table>"
    )
    parts.append(
        "<h2>Out of sample against in sample</h2><table><tr><th>objective</th><th>in sample</th>"
        "<th>out of sample</th><th>OOS / IS</th></tr>"
        + "".join(
            f"<tr><td>{e(NAMES[k])}</td><td>{_num(r['in_sample'])}</td><td>{_num(r['out_of_sample'])}</td>"
            f"<td>{_num(r['ratio'])}</td></tr>"
            for k, r in doc["degradation"].items()
        )
        + "</table><p class='axis'>in sample: the mean over the windows of the chosen set's value; net P&amp;L "
        "per trading day</p>"
    )
    parts.append(f"<h2>Out-of-sample equity</h2>{equity_svg(wf.oos.equity)}")
    parts.append(f"<h2>Out-of-sample drawdown</h2>{drawdown_svg(wf.oos.equity, float(wf.oos.capital))}")
    if doc["skipped"]:
        parts.append("<h2>Left out</h2><ul>")
        parts.extend(f"<li>{e(label(s['params']))}: {e(s['reason'])}</li>" for s in doc["skipped"])
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
