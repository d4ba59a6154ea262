"""The live positions page in a real headless browser, during a running day.

The day is `tron run-day`'s own code (tron.runday.embedded.run_day on the embedded backend) in a thread,
its minutes held at chosen points by the on-minute hook; `tron serve` runs as a separate process over the
same SQLite store (found from the same --date, --seed and --symbols, as a user runs the two side by side);
Debian's Chromium, driven by Playwright, loads the page while the day is held with positions open, reads
the positions table (the symbols the books hold), then watches the page reload itself to a later minute.

Skipped, with the reason printed, where /usr/bin/chromium or the playwright package is missing (.ci/run
installs Debian's chromium where the machine allows). Never `playwright install`: the browser is Debian's."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.days import TRADING_DAY, settings
from tests.support.paths import REPO
from tron.domain.book import Book
from tron.domain.models import Asset
from tron.domain.timeutil import ist
from tron.runday.embedded import prepare, run_day
from tron.services.paths import book_path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SYMBOLS = 10
DAY = TRADING_DAY.isoformat()


def missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not CHROMIUM.is_file():
        return f"no browser: {CHROMIUM} is not installed (apt-get install chromium; .ci/run does it as root)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (requirements-dev.txt pins it)"
    return None


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    why = missing()
    if why:
        plugins = request.config.pluginmanager
        reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
        if reporter is not None and capture is not None:  # shown even under -q, where skip reasons are not
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"\n{request.node.nodeid} SKIPPED: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def tron_logger() -> Iterator[None]:
    """run_day installs its archive handler on the "tron" logger: put the logger back as it was after."""
    logger = logging.getLogger("tron")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for h in list(logger.handlers):
        logger.removeHandler(h)
    for h in saved[0]:
        logger.addHandler(h)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


class _Enough(Exception):
    """Raised by the hook to end the day once the page has been read."""


class HeldDay:
    """The day in a thread; the on-minute hook holds it (1) at the first minute from 09:25 with positions
    open, then (2) ten minutes later, each until the test releases it, and stops it after that."""

    def __init__(self, tmp: Path) -> None:
        self.settings = settings(tmp, symbols=SYMBOLS)
        self.run = prepare(self.settings, TRADING_DAY)  # <data_dir>/runs/<day>-seed7-n10, as `tron run-day`
        self.held = threading.Event()
        self.release = threading.Event()
        self.at: datetime | None = None
        self.holds = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def open_symbols(self) -> set[str]:
        store = self.run.deps.store
        return {s for a in Asset for s in Book.from_doc(store.get(book_path(DAY, a))).positions}

    def _hook(self, t: datetime, i: int, total: int) -> None:
        if self.holds == 2:
            raise _Enough
        due = (
            t >= ist(TRADING_DAY, time(9, 25)) and bool(self.open_symbols())
            if self.holds == 0
            else self.at is not None and t >= self.at + timedelta(minutes=10)
        )
        if not due:
            if t >= ist(TRADING_DAY, time(11, 0)) and self.holds == 0:
                raise AssertionError("no position open by 11:00: nothing to read")
            return
        self.at, self.holds = t, self.holds + 1
        self.release.clear()
        self.held.set()
        if not self.release.wait(30):
            raise AssertionError("the test never released the day")

    def _run(self) -> None:
        try:
            run_day(self.settings, TRADING_DAY, on_minute=self._hook, run=self.run)
        except _Enough:
            pass
        except BaseException as e:
            self.error = e
            self.held.set()

    def wait_held(self) -> datetime:
        assert self.held.wait(30), "the day did not reach the minute to hold"
        self.held.clear()
        if self.error is not None:
            raise self.error
        assert self.at is not None and self.thread.is_alive()
        return self.at

    def go_on(self) -> None:
        self.release.set()


def serve(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    """`tron serve` on a free port over the run-day store of the same date, seed and symbols; its URL."""
    env = {**os.environ, "TRON_DATA_DIR": str(tmp)}
    env = {k: v for k, v in env.items() if not k.startswith("TRON_") or k == "TRON_DATA_DIR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tron.cli", "serve", "--port", "0", "--date", DAY, "--symbols", str(SYMBOLS)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "positions page of D from PATH at http://127.0.0.1:PORT/ (Ctrl-C stops)"
    if " at http://" not in line:
        proc.kill()
        raise AssertionError(
            f"tron serve did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    assert f"runs/{DAY}-seed7-n{SYMBOLS}/state.sqlite" in line, line
    return proc, line.split(" at ", 1)[1].split()[0]


def table(page: Any) -> list[list[str]]:
    rows = page.locator("#positions tbody tr.position")
    return [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]


def test_the_page_shows_the_running_days_positions_and_reloads_itself(
    tmp_path: Path, browser: Any, tron_logger: None
) -> None:
    day = HeldDay(tmp_path)
    proc, url = serve(tmp_path)
    try:
        day.thread.start()
        first = day.wait_held()
        held = day.open_symbols()
        page = browser.new_page()
        response = page.goto(url)
        assert response is not None and response.status == 200
        rows = table(page)
        assert {r[1] for r in rows} == held and all(r[0] in ("stocks", "futures", "options") for r in rows)
        assert all(r[5].replace("-", "").startswith("₹") for r in rows if r[4] != "–")  # marked to market
        assert f"{first:%H:%M} IST" in page.locator("#assets").inner_text()  # the last tick, held there
        assert page.locator("#mtm-chart polyline").count() == 1
        day.go_on()
        later = day.wait_held()
        # the page reloads itself (meta refresh every 5 s) and shows the later minute; the test never reloads
        page.locator("#assets").get_by_text(f"{later:%H:%M} IST").first.wait_for(timeout=8000)
        assert {r[1] for r in table(page)} == day.open_symbols()
        day.go_on()
        day.thread.join(30)
        assert not day.thread.is_alive() and day.error is None
    finally:
        day.go_on()
        proc.terminate()
        proc.wait(10)
