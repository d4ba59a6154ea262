"""The Kite simulator for tests: a real HTTP server on 127.0.0.1 (free port) that the real `kiteconnect`
client talks to, driven by a VirtualClock the test moves.

    def test_x(kite_sim):                      # 2026-11-23 10:00 IST, seed 7, the NIFTY 50, no rate limits
        kite = kite_sim.client()               # logged in: KiteConnect(api_key, root=url, access_token=…)
        kite.place_order(...)
        kite_sim.advance(minutes=3)            # working orders fill against later minutes' books
        kite_sim.sim.fail_next("/orders", "NetworkException", 503)

Other settings: `with running_kite_sim(start=..., rate_limits=True, timer=fake, symbols=10) as ks: ...`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from kiteconnect import KiteConnect

from tron.adapters.calendar import nse_calendar
from tron.adapters.clock import VirtualClock
from tron.domain.timeutil import IST
from tron.sim.kite import KiteSim, RunningSim, serve
from tron.sim.market import GeneratedMarketData, MarketGenerator, nifty50

__all__ = ["DEFAULT_START", "KiteSimHandle", "kite_sim", "kite_sim_process", "running_kite_sim"]

DEFAULT_START = datetime(2026, 11, 23, 10, 0, tzinfo=IST)


@dataclass
class KiteSimHandle:
    sim: KiteSim
    clock: VirtualClock
    running: RunningSim
    market: GeneratedMarketData

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def api_key(self) -> str:
        return self.sim.api_key

    @property
    def api_secret(self) -> str:
        return self.sim.api_secret

    def client(self, login: bool = True, timeout: float = 30) -> KiteConnect:
        """A real KiteConnect pointed at the simulator; logged in through POST /session/token by default."""
        kite = KiteConnect(self.api_key, root=self.url, timeout=timeout)
        if login:
            kite.generate_session(f"rt{self.sim.requests}x{id(kite)}", self.api_secret)
        return kite

    def advance(self, minutes: float = 0, seconds: float = 0) -> None:
        self.clock.advance(timedelta(minutes=minutes, seconds=seconds))

    def set(self, when: datetime) -> None:
        self.clock.set(when)


@contextmanager
def running_kite_sim(
    start: datetime = DEFAULT_START,
    seed: int = 7,
    symbols: int | None = None,
    rate_limits: bool = False,
    timer: Callable[[], float] | None = None,
    **kw: Any,
) -> Iterator[KiteSimHandle]:
    clock = VirtualClock(start)
    market = GeneratedMarketData(MarketGenerator(nifty50(symbols), nse_calendar(), seed), clock)
    sim = KiteSim(market, clock, rate_limits=rate_limits, timer=timer, **kw)
    running = serve(sim)
    try:
        yield KiteSimHandle(sim, clock, running, market)
    finally:
        running.stop()


@pytest.fixture
def kite_sim() -> Iterator[KiteSimHandle]:
    with running_kite_sim() as handle:
        yield handle


@contextmanager
def kite_sim_process(*args: str) -> Iterator[str]:
    """`tron kite-sim --port 0 ARGS…` in a process of its own (as a user starts it); its URL, from the line
    it prints once listening. Terminated on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tron.cli", "kite-sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        yield line.removeprefix("listening on ")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
