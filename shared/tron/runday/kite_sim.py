"""`tron run-day --broker kite-sim` (and `--market kite-sim`): the Kite simulator in-process on loopback, on
the day loop's VirtualClock, with TRON's Kite adapters (the official client over HTTP) pointed at it — the
live code path, market data and orders, against a simulated exchange (or its quotes with paper fills, as a
deployed paper TRON runs on Kite's). The default run-day stays paper fills on generated quotes.

Rate limits are off on both sides (a day of 375 virtual minutes runs in seconds; the limits are tested in
tests/unit and tests/integration), and an order still working is followed for two reads before its rest is
cancelled (the virtual clock does not move while the executor waits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from tron.adapters.kite import API_SECRET_SECRET, KiteBroker, KiteTokenExchange
from tron.bootstrap import seeded_market
from tron.config.settings import Settings
from tron.domain.money import PAISA, paise
from tron.ports import Clock
from tron.services.deps import Deps
from tron.services.kite_login import complete_login
from tron.services.live import DayBroker
from tron.services.paths import intents_path
from tron.sim.kite import KiteSim, RunningSim, serve

HALF_PAISA = Decimal("0.005")


@dataclass
class Flow:
    """One symbol's net quantity, cash flow and traded quantity over the day."""

    net: int = 0
    cash: Decimal = Decimal(0)
    traded: int = 0

    def add(self, side: str, qty: int, price: str) -> None:
        sign = 1 if side == "BUY" else -1
        self.net += sign * qty
        self.cash -= sign * qty * Decimal(price)
        self.traded += qty

    def agrees(self, other: Flow) -> bool:
        tolerance = HALF_PAISA * max(self.traded, other.traded) + PAISA
        return self.net == other.net and abs(self.cash - other.cash) <= tolerance

    def __str__(self) -> str:
        return f"net {self.net} (traded {self.traded}) cash ₹{paise(self.cash)}"


@dataclass
class KiteSimRun:
    sim: KiteSim
    running: RunningSim
    settings: Settings  # the run's settings with broker kite pointed at the simulator

    @property
    def url(self) -> str:
        return self.running.url

    def login(self, deps: Deps) -> dict[str, Any]:
        """The daily login against the simulator: request token → access token in deps.secrets."""
        deps.secrets.put(API_SECRET_SECRET, self.sim.api_secret)
        k = self.settings.kite
        exchange = KiteTokenExchange(k.api_key, deps.secrets, k.root, k.timeout_s)
        return complete_login(deps.secrets, exchange, f"runday{deps.clock.now():%Y%m%d%H%M}", deps.clock)

    def reconcile(self, deps: Deps, day: date) -> dict[str, Any]:
        """The day's book against the simulator (see `reconcile`)."""
        return reconcile(deps, day, self.url)

    def stop(self) -> None:
        self.running.stop()


def reconcile(deps: Deps, day: date, url: str) -> dict[str, Any]:
    """TRON's filled intents against the simulator's trades and positions, read through the broker
    adapter (the official client): per symbol the net quantity must agree exactly and the cash flow to
    half a paisa a share (TRON books an order at Kite's average price rounded to paise), and nothing
    may be left open or squared off by the broker. A mode-live day that ran on paper (not armed) only
    counts the orders at the simulator: none should be there."""
    routed = deps.broker
    broker = routed.live if isinstance(routed, DayBroker) else routed
    assert isinstance(broker, KiteBroker)
    if isinstance(routed, DayBroker) and not routed.is_live(day):
        return {"simulator": url, "paper_day": True, "orders": len(broker.orders())}
    trades, orders = broker.trades(), broker.orders()
    ours: dict[str, Flow] = {}
    for _, d in deps.store.list(intents_path(day.isoformat())):
        if d.get("state") == "filled":
            ours.setdefault(d["symbol"], Flow()).add(d["side"], int(d["fill"]["qty"]), d["fill"]["price"])
    theirs: dict[str, Flow] = {}
    for t in trades:
        theirs.setdefault(t["tradingsymbol"], Flow()).add(
            t["transaction_type"], int(t["quantity"]), str(t["average_price"])
        )
    mismatches = [
        f"{s}: TRON {ours.get(s, Flow())}, Kite {theirs.get(s, Flow())}"
        for s in sorted(set(ours) | set(theirs))
        if not ours.get(s, Flow()).agrees(theirs.get(s, Flow()))
    ]
    return {
        "simulator": url,
        "orders": len(orders),
        "orders_tagged_by_tron": sum(1 for o in orders if o.get("tag")),
        "auto_square_offs": sum(1 for o in orders if o.get("placed_by") == "ADMINSQF"),
        "manual_orders": sum(1 for o in orders if not o.get("tag") and o.get("placed_by") != "ADMINSQF"),
        "trades": len(trades),
        "open_positions": {p.symbol: p.quantity for p in broker.positions() if p.quantity},
        "book_matches_broker": not mismatches,
        "mismatches": mismatches,
    }


def start(settings: Settings, clock: Clock, orders: bool = True) -> KiteSimRun:
    """Serve a simulator of the same seeded market and universe on 127.0.0.1 (a free port); the run's
    settings read its quotes, and send it orders (orders=True) or fill them on paper."""
    sim = KiteSim(seeded_market(settings, clock), clock, rate_limits=False)
    running = serve(sim, "127.0.0.1", 0)
    kite = settings.kite.model_copy(
        update={
            "root": running.url,
            "api_key": sim.api_key,
            "rate_limits": False,
            "follow_polls": 50,  # the simulator is asynchronous: its orders end in some 30 ms of wall time
            "poll_interval_s": 0.01,
        }
    )
    return KiteSimRun(
        sim,
        running,
        settings.model_copy(
            update={"market_data": "kite", "broker": "kite" if orders else "paper", "kite": kite}
        ),
    )
