"""The end-of-day report: per asset trades, P&L, charges, win rate, intraday drawdown and the realised
equity curve (net of charges, stepped at each fill), as data and as a self-contained HTML page."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

from tron.domain.money import ZERO


def build(day: str, summary: dict[str, Any], fills: list[dict[str, Any]]) -> dict[str, Any]:
    """fills: filled intent documents of the day (any order)."""
    assets: dict[str, Any] = {}
    for asset, s in summary["assets"].items():
        mine = sorted(
            (f for f in fills if f["asset"] == asset), key=lambda f: (f["fill"]["at"], f["intent_id"])
        )
        equity, curve, peak, drawdown = ZERO, [], ZERO, ZERO
        for f in mine:
            equity += Decimal(f["fill"]["realized"]) - Decimal(f["fill"]["charges"]["total"])
            peak = max(peak, equity)
            drawdown = max(drawdown, peak - equity)
            curve.append([f["fill"]["at"], float(equity)])
        trades = s["trades"]
        assets[asset] = {
            **s,
            "win_rate": round(s["wins"] / trades, 4) if trades else None,
            "max_intraday_drawdown": float(drawdown),
            "equity_curve": curve,
            "fills": [
                {k: f[k] for k in ("intent_id", "symbol", "side", "qty", "purpose", "strategy", "reason")}
                | {
                    "price": f["fill"]["price"],
                    "at": f["fill"]["at"],
                    "charges": f["fill"]["charges"]["total"],
                }
                for f in mine
            ],
        }
    return {"date": day, "status": summary.get("status"), "halted": summary.get("halted"), "assets": assets}


def _svg(curve: list[list[Any]], width: int = 640, height: int = 180) -> str:
    if not curve:
        return "<p>No fills.</p>"
    ys = [0.0] + [float(p[1]) for p in curve]
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    step = width / max(len(ys) - 1, 1)
    pts = " ".join(f"{i * step:.1f},{height - (y - lo) / span * height:.1f}" for i, y in enumerate(ys))
    zero = height - (0 - lo) / span * height
    return (
        f'<svg class="equity" viewBox="-4 -4 {width + 8} {height + 8}" width="{width}" height="{height}" '
        f'role="img" aria-label="equity curve"><line x1="0" x2="{width}" y1="{zero:.1f}" y2="{zero:.1f}" '
        f'stroke="#999" stroke-dasharray="4"/><polyline fill="none" stroke="#1565c0" stroke-width="2" '
        f'points="{pts}"/></svg><p class="axis">₹{lo:,.2f} … ₹{hi:,.2f}, {len(curve)} fills</p>'
    )


def _structure_html(st: dict[str, Any]) -> str:
    """A structure: why it exited, its net P&L, worst MTM, margin and greeks, its MTM path, and its legs."""
    e = html.escape
    g = st.get("greeks") or {}
    greeks_text = ", ".join(f"{k} {v:,.2f}" for k, v in g.items()) or "–"
    parts = [
        f"<h2>options: {e(st['id'])}</h2><p>{e(st['entry_time'][11:16])}–"
        f"{e((st.get('exit_time') or '')[11:16])}, {e(str(st.get('exit_reason')))}; net ₹{st['net_pnl']:,.2f}, "
        f"worst MTM ₹{st['max_adverse_mtm']:,.2f}, margin ₹{st['margin']:,.2f}; greeks {e(greeks_text)}</p>",
        _svg(st.get("mtm_path", [])).replace("fills</p>", "minutes of MTM</p>"),
        "<table><tr><th>leg</th><th>qty</th><th>entry</th><th>price</th><th>exit</th><th>price</th><th>why</th></tr>",
    ]
    for leg in st["legs"]:
        name = f"{leg['side']} {leg['type']} {leg['strike']:g} {leg['expiry']}" + (
            f" (re-entry {leg['reentry']})" if leg.get("reentry") else ""
        )
        parts.append(
            f"<tr><td>{e(name)}</td><td>{leg['qty']}</td><td>{e((leg['entry_time'] or '–')[11:16])}</td>"
            f"<td>{leg['entry_price'] or '–'}</td><td>{e((leg['exit_time'] or '–')[11:16])}</td>"
            f"<td>{leg['exit_price'] or '–'}</td><td>{e(str(leg['exit_reason']))}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """The report :func:`build` made as one self-contained HTML page (no scripts, no external files): the
    halt if any, a table per asset, and per asset with fills its realised equity curve and its fills."""
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>TRON {e(report['date'])}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}.axis{color:#666;font-size:small}</style></head><body>",
        f"<h1>TRON — {e(report['date'])}</h1>",
    ]
    if report.get("halted"):
        parts.append(f"<p style='color:#b00'>Entries halted: {e(str(report['halted']))}</p>")
    parts.append(
        "<table><tr><th>asset</th><th>trades</th><th>win rate</th><th>gross ₹</th><th>charges ₹</th>"
        "<th>net ₹</th><th>max drawdown ₹</th><th>open at close</th></tr>"
    )
    for asset, a in report["assets"].items():
        wr = "–" if a["win_rate"] is None else f"{a['win_rate']:.0%}"
        parts.append(
            f"<tr><td>{e(asset)}</td><td>{a['trades']}</td><td>{wr}</td><td>{a['gross_pnl']:,.2f}</td>"
            f"<td>{a['charges']:,.2f}</td><td>{a['net_pnl']:,.2f}</td>"
            f"<td>{a['max_intraday_drawdown']:,.2f}</td><td>{a['open_positions_at_close']}</td></tr>"
        )
    parts.append("</table>")
    for st in report["assets"].get("options", {}).get("structures", []):
        parts.append(_structure_html(st))
    for asset, a in report["assets"].items():
        if not a["fills"]:
            continue
        parts.append(f"<h2>{e(asset)}: realised equity, net of charges</h2>{_svg(a['equity_curve'])}")
        parts.append(
            "<table><tr><th>time</th><th>symbol</th><th>side</th><th>qty</th><th>price</th><th>why</th></tr>"
        )
        for f in a["fills"]:
            parts.append(
                f"<tr><td>{e(f['at'][11:16])}</td><td>{e(f['symbol'])}</td><td>{e(f['side'])}</td>"
                f"<td>{f['qty']}</td><td>{e(f['price'])}</td><td>{e(f['reason'])}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def structures(states: list[dict[str, Any]], intents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The day's multi-leg structures (their tick state, tron.domain.structure_decide) with each leg's
    entry and exit as filled: the intents of a structure carry its id as their strategy. A leg's exit is
    its exit order's fill or its stop's at the broker; net P&L is the legs' realised P&L less every
    order's charges."""
    out = []
    for st in states:
        mine = [d for d in intents if d.get("strategy") == st["id"] and "fill" in d]
        net = sum(
            (Decimal(d["fill"]["realized"]) - Decimal(d["fill"]["charges"]["total"]) for d in mine), ZERO
        )
        entries = {d["intent_id"]: d for d in mine if d["purpose"] == "entry"}
        legs = []
        for leg in st["legs"]:
            entry = entries.get(leg.get("entry_id") or "")
            start = entry["fill"]["at"] if entry else None
            later = [
                e["fill"]["at"]
                for e in entries.values()
                if e["symbol"] == leg["symbol"] and start and e["fill"]["at"] > start
            ]
            until = min(later, default=None)  # the next entry of its contract (a re-entry) starts another leg
            exits = sorted(
                (
                    d
                    for d in mine
                    if d["symbol"] == leg["symbol"]
                    and d["purpose"] != "entry"
                    and start is not None
                    and start <= d["fill"]["at"]
                    and (until is None or d["fill"]["at"] < until)
                ),
                key=lambda d: d["fill"]["at"],
            )
            last = exits[-1] if exits else None
            why = leg.get("dropped") or "not entered"
            if last is not None:
                why = (
                    f"stop {_trigger_at_fill(intents, last):g} filled at the broker"
                    if last["purpose"] == "protect"
                    else last["reason"]
                )
            legs.append(
                {
                    "side": leg["side"],
                    "type": leg["type"],
                    "strike": leg["strike"],
                    "expiry": leg["expiry"],
                    "qty": entry["fill"]["qty"] if entry else 0,
                    "symbol": leg["symbol"],
                    "reentry": leg.get("reentries", 0),
                    "entry_time": start,
                    "entry_price": float(entry["fill"]["price"]) if entry else None,
                    "exit_time": last["fill"]["at"] if last else None,
                    "exit_price": float(last["fill"]["price"]) if last else None,
                    "exit_reason": why,
                }
            )
        out.append(
            {
                "id": st["id"],
                "template": st["template"],
                "entry_time": st["entry_time"],
                "exit_time": st.get("exit_time"),
                "exit_reason": st.get("exit_reason"),
                "net_pnl": float(net),
                "max_adverse_mtm": float(st.get("max_adverse", 0)),
                "margin": float(st.get("margin", 0)),
                "worst_case": float(st.get("worst", 0)),
                "greeks": st.get("greeks"),
                "mtm_path": st.get("path", []),
                "legs": legs,
            }
        )
    return out


def _trigger_at_fill(intents: list[dict[str, Any]], stop: dict[str, Any]) -> float:
    """The trigger a resting stop had when it filled: the last trail that moved it before, else its own."""
    moved = [
        d
        for d in intents
        if d.get("purpose") == "trail"
        and d.get("state") == "resting"
        and d.get("symbol") == stop["symbol"]
        and d.get("order_id") == stop.get("order_id")
        and d["decided_at"] <= stop["fill"]["at"]
    ]
    return float(max(moved, key=lambda d: d["decided_at"])["trigger"]) if moved else float(stop["trigger"])
