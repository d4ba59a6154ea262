"""The positions page as one HTML document (:func:`render`): markup, inline CSS and one inline SVG chart,
no script and no external resource, refreshing itself every few seconds (``<meta http-equiv=refresh>``).
Every value from the store goes through :func:`html.escape`; the chart's coordinates are numbers computed
here."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

from tron.domain.timeutil import IST
from tron.services.notify import rupees

if TYPE_CHECKING:  # the view model's module imports this one
    from tron.services.positions_page import AssetRow, PageView

REFRESH_SECONDS = 5

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1rem 2rem;color:#222}
h1{font-size:1.4rem;margin:0}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse}th,td{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
td.why{white-space:normal;text-align:left}
th:first-child,td:first-child,td.text,th.text{text-align:left}
.neg{color:#b00}.pos{color:#070}.warn{background:#fff3cd;padding:.4rem .8rem}.muted{color:#777}
.halt{color:#b00;font-weight:600}svg{background:#fafafa;border:1px solid #ddd}
"""


def e(value: object) -> str:
    """Any value as escaped HTML text (quotes too: values also go into attributes)."""
    return escape(str(value), quote=True)


def money(x: Decimal | None, coloured: bool = True) -> str:
    """A rupee amount, a P&L in a span coloured by its sign; "–" when unknown."""
    if x is None:
        return '<span class="muted">–</span>'
    cls = ("neg" if x < 0 else "pos" if x > 0 else "") if coloured else ""
    return f'<span class="{cls}">{e(rupees(x))}</span>'


def price(x: float | Decimal | None) -> str:
    return "–" if x is None else e(f"{x:,.2f}")


def render(view: PageView) -> str:
    """The whole page of ``view``."""
    head = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>TRON {e(view.day)} positions</title><style>{STYLE}</style></head><body>"
    )
    parts = [
        head,
        _header(view),
        _unreadable(view),
        _halts(view),
        _loss_limit(view),
        _positions(view),
        _assets(view),
        _chart(view),
        _orders(view),
        "</body></html>",
    ]
    return "".join(parts)


def unavailable(day: date, now: datetime, why: str) -> str:
    """The page when the state store cannot be read: why, and it keeps refreshing until it can."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}"><title>TRON {e(day)} positions</title>'
        f"<style>{STYLE}</style></head><body><h1>TRON {e(day)}</h1>"
        f'<p class="warn">the state store could not be read at {e(f"{now.astimezone(IST):%H:%M:%S}")} IST: '
        f"{e(why[:500])}; retrying every {REFRESH_SECONDS} s</p></body></html>"
    )


def _header(view: PageView) -> str:
    if view.status is None:
        state = f"no plan for {e(view.day)} yet (plan_day runs before the open)"
    else:
        why = f" ({e(view.reason)})" if view.reason else ""
        mode = f", mode {e(view.mode)}" if view.mode else ""
        state = f"day {e(view.status)}{why}{mode}"
    marked = (
        f"; net {money(view.net)}, open MTM {money(view.open_mtm)}, marked {money(view.net + view.open_mtm)}"
        if view.net is not None
        else ""
    )
    return (
        f"<header><h1>TRON {e(view.day)}</h1><p>{state}{marked}</p>"
        f'<p class="muted">read at {e(f"{view.now.astimezone(IST):%H:%M:%S}")} IST from the state store; '
        f"refreshes every {REFRESH_SECONDS} s</p></header>"
    )


def _unreadable(view: PageView) -> str:
    if not view.unreadable:
        return ""
    items = "".join(f"<li>{e(u)}</li>" for u in view.unreadable)
    return (
        '<section id="unreadable" class="warn"><h2>Unreadable documents</h2>'
        f"<p>left out of what follows:</p><ul>{items}</ul></section>"
    )


def _halts(view: PageView) -> str:
    items = []
    ks = view.kill
    if ks.engaged:
        what = "flattening every position" if ks.flatten else "positions kept"
        by = f" by {e(ks.by)}" if ks.by else ""
        at = f" at {e(ks.at[11:16])}" if ks.at else ""
        items.append(f'<li class="halt">kill switch ENGAGED{by}{at}: {e(ks.reason)} ({what})</li>')
    if view.halted:
        items.append(f'<li class="halt">entries halted for the day: {e(view.halted)}</li>')
    if view.squaring:
        items.append(f'<li class="halt">squared off, no more entries: {e(", ".join(view.squaring))}</li>')
    for symbol, why in sorted(view.frozen.items()):
        items.append(f"<li>frozen {e(symbol)}: {e(why)}</li>")
    if not items:
        items.append("<li>none: the kill switch is released and no asset is halted</li>")
    return f'<section id="halts"><h2>Halts</h2><ul>{"".join(items)}</ul></section>'


def _loss_limit(view: PageView) -> str:
    rows = []
    for a in view.assets:
        if a.loss_limit is None:
            continue
        used = f"{-a.checked / a.loss_limit:.0%}" if a.checked is not None and a.loss_limit > 0 else "–"
        rows.append(
            f"<tr><td>{e(a.asset)}</td><td>{money(a.loss_limit, coloured=False)}</td><td>{money(a.checked)}</td>"
            f"<td>{money(a.headroom)}</td><td>{e(used)}</td></tr>"
        )
    if not rows:
        return (
            '<section id="loss-limit"><h2>Loss limit headroom</h2>'
            "<p>no loss limit: the day has no readable plan</p></section>"
        )
    return (
        '<section id="loss-limit"><h2>Loss limit headroom</h2><p class="muted">the daily loss limit halts '
        "entries and flattens every position when the marked P&amp;L an asset's tick checks (its book "
        "marked to market plus the other assets' realised net) reaches it</p>"
        '<table id="loss-limit-table"><thead><tr><th class="text">asset</th><th>loss limit</th>'
        "<th>marked P&amp;L checked</th><th>headroom</th><th>used</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _positions(view: PageView) -> str:
    rows = [
        f'<tr class="position"><td>{e(p.asset)}</td><td class="symbol text">{e(p.symbol)}</td>'
        f"<td>{e(f'{p.qty:+d}')}</td><td>{price(p.avg_price)}</td><td>{price(p.last)}</td>"
        f"<td>{money(p.mtm)}</td><td>{price(p.stop)}{' resting' if p.resting and p.stop is not None else ''}"
        f'</td><td>{price(p.target)}</td><td class="text">{e(p.strategy)}</td>'
        f'<td class="text">{e(p.opened_at[11:19])}</td></tr>'
        for p in view.positions
    ]
    body = "".join(rows) or '<tr class="empty"><td colspan="10">no open positions</td></tr>'
    return (
        '<section><h2>Positions</h2><table id="positions"><thead><tr><th class="text">asset</th>'
        '<th class="text">symbol</th><th>qty</th><th>avg price</th><th>last</th><th>MTM</th><th>stop</th>'
        '<th>target</th><th class="text">strategy</th><th class="text">opened</th></tr></thead>'
        f"<tbody>{body}</tbody></table></section>"
    )


def _tick(view: PageView, a: AssetRow) -> str:
    if a.last_tick is None:
        return "–"
    age = ""
    if a.last_tick.date() == view.now.astimezone(IST).date():
        minutes = int((view.now - a.last_tick).total_seconds() // 60)
        age = f" ({minutes} min ago)" if minutes >= 1 else ""
    return e(f"{a.last_tick:%H:%M} IST{age}")


def _assets(view: PageView) -> str:
    rows = []
    for a in view.assets:
        plan = "–" if a.enabled is None else "on" if a.enabled else "off"
        why = a.halted or (view.kill.why if view.kill.engaged else None)  # the tick reads both
        halted = f'<span class="halt">{e(why)}</span>' if why else ""
        b = a.book
        figures = (
            f"<td>{b.trades}</td><td>{b.wins}</td><td>{money(b.realized)}</td><td>{money(b.charges, coloured=False)}</td>"
            f"<td>{money(b.net)}</td><td>{money(a.open_mtm)}</td>"
            f"<td>{money(None if a.open_mtm is None else b.net + a.open_mtm)}</td>"
            if b is not None
            else '<td colspan="7" class="muted">book unreadable</td>'
        )
        rows.append(
            f"<tr><td>{e(a.asset)}</td><td>{plan}</td><td>{_tick(view, a)}</td>{figures}"
            f'<td class="text">{halted}</td></tr>'
        )
    return (
        '<section><h2>P&amp;L and last tick per asset</h2><table id="assets"><thead><tr>'
        '<th class="text">asset</th><th>plan</th><th>last tick</th><th>trades</th><th>wins</th>'
        "<th>gross</th><th>charges</th><th>net</th><th>open MTM</th><th>marked</th>"
        f'<th class="text">entries stopped</th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>'
    )


def _chart(view: PageView, width: int = 720, height: int = 200) -> str:
    """The account's marked P&L at each minute ticked, as one polyline over a zero line."""
    title = "<section><h2>Marked P&amp;L today</h2>"
    if not view.curve:
        return f'{title}<p class="muted" id="mtm-chart">no minute ticked yet</p></section>'
    ys = [float(v) for _, v in view.curve]
    lo, hi = min([0.0, *ys]), max([0.0, *ys])
    span = (hi - lo) or 1.0
    pad = 10
    n = len(ys)

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return pad + (height - 2 * pad) * (hi - v) / span

    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(ys))
    first, last = view.curve[0][0], view.curve[-1][0]
    return (
        f'{title}<svg id="mtm-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="the day\'s marked P&amp;L by minute">'
        f'<line x1="0" x2="{width}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#999" stroke-dasharray="4 3"/>'
        f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{points}"/></svg>'
        f'<p class="muted">{e(first)} to {e(last)} IST, {n} minutes; low {e(rupees(Decimal(str(lo))))}, '
        f"high {e(rupees(Decimal(str(hi))))}, last {e(rupees(view.curve[-1][1]))}: each asset's realised "
        "net plus its open positions at the minute's prices, as its tick recorded them</p></section>"
    )


def _orders(view: PageView) -> str:
    counts = ", ".join(f"{n} {e(s)}" for s, n in sorted(view.order_counts.items()))
    shown = f" (the latest {len(view.orders)} below)" if len(view.orders) < view.orders_total else ""
    summary = (
        f"{view.orders_total} order intents: {counts}{shown}" if view.orders_total else "no orders today"
    )
    rows = "".join(
        f'<tr><td>{e(o.at)}</td><td>{e(o.asset)}</td><td class="text">{e(o.symbol)}</td>'
        f"<td>{e(o.purpose)}</td><td>{e(o.side)}</td><td>{e(o.qty)}</td><td>{e(o.state)}</td>"
        f'<td>{e(o.fill)}</td><td class="text">{e(o.order_id)}</td><td class="why">{e(o.note[:200])}</td></tr>'
        for o in view.orders
    )
    return (
        f"<section><h2>Orders</h2><p>{summary}</p>"
        '<table id="orders"><thead><tr><th class="text">claimed</th><th>asset</th><th class="text">symbol'
        "</th><th>purpose</th><th>side</th><th>qty</th><th>state</th><th>fill</th>"
        f'<th class="text">order id</th><th class="text">why</th></tr></thead><tbody>{rows}</tbody></table>'
        "</section>"
    )
