"""The positions_page entry point served by functions-framework as Cloud Run would, on the embedded backend
at virtual time: the page of the day the functions are trading, ?date=, and what it refuses."""

from __future__ import annotations

import sys
from datetime import time
from pathlib import Path

import pytest
from functions_framework import create_app

from tests.support.days import TRADING_DAY, settings
from tests.support.paths import REPO
from tron.adapters.clock import VirtualClock
from tron.bootstrap import embedded
from tron.domain.timeutil import ist

MAIN = str(REPO / "functions" / "main.py")


@pytest.fixture
def deps(tmp_path: Path):
    deps, _ = embedded(
        settings(tmp_path, symbols=5),
        VirtualClock(ist(TRADING_DAY, time(9, 0))),
        tmp_path / "run",
        log_to_archive=False,
    )
    return deps


def client(target: str, deps):
    app = create_app(target=target, source=MAIN, signature_type="http")
    sys.modules["main"]._deps = deps  # the composition the entry point would build from the environment
    return app.test_client()


def test_the_page_of_the_day_in_progress_and_what_it_refuses(deps) -> None:
    assert client("plan_day", deps).post("/").status_code == 200
    for minute in range(15, 25):
        deps.clock.set(ist(TRADING_DAY, time(9, minute)))
        assert client("tick_futures", deps).post("/").status_code == 200
    page = client("positions_page", deps)
    r = page.get("/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert (
        r.headers["Cache-Control"] == "no-store"
        and "default-src 'none'" in r.headers["Content-Security-Policy"]
    )
    assert f"TRON {TRADING_DAY}" in html and 'id="positions"' in html and "day armed" in html
    assert "09:24 IST" in html  # the futures' last tick
    other = page.get("/?date=2026-11-20").get_data(as_text=True)
    assert "no plan for 2026-11-20 yet" in other
    head = page.head("/")
    assert head.status_code == 200 and head.get_data() == b""
    bad = page.get("/?date=2026-02-30")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    assert page.get("/?date=" + "9" * 300).status_code == 400
    assert page.get("/?date=2026-11-23&date=2026-11-24").status_code == 400
    post = page.post("/", data=b"{}")
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"
    assert page.get("/elsewhere").status_code == 404
