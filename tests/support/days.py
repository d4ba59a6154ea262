"""The days the tests run on, the settings they start from, and the embedded backend on them."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

from tron.adapters.clock import VirtualClock
from tron.bootstrap import embedded
from tron.config.settings import Settings, load_settings
from tron.domain.timeutil import ist
from tron.services.deps import Deps

TRADING_DAY = date(2026, 11, 23)
HOLIDAY = date(2026, 11, 24)


def settings(tmp: Path, **kw: object) -> Settings:
    """The configuration load_settings reads (config/tron.yaml where it exists), with data under tmp."""
    return load_settings(data_dir=tmp, **kw)


def at(h: int, m: int) -> datetime:
    """h:m IST on TRADING_DAY."""
    return ist(TRADING_DAY, time(h, m))


def embedded_deps(tmp_path: Path) -> Deps:
    """The embedded backend for three symbols at 09:10 on TRADING_DAY, logs not archived."""
    s = load_settings(data_dir=tmp_path, symbols=3)
    deps, _ = embedded(s, VirtualClock(at(9, 10)), tmp_path, log_to_archive=False)
    return deps
