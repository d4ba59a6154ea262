"""`tron run-day --broker kite --kite-root URL` (or `--market kite`): a whole day against a Kite simulator
started separately (`tron kite-sim --port P --date D --time 08:59 --speed X`), so faults can be injected
from outside while the day runs (its control API, sim/kite/control.py).

The day follows the simulator's clock: it is read once from the control API and then run at its speed, each
minute's jobs fired when the simulator reaches that minute (late ones at once). The access token comes from
the simulator's control API (the login a user would do in the browser). Orders go to the simulator
(`--broker kite`) or fill on paper at its quotes (`--market kite`)."""

from __future__ import annotations

import json
import shutil
import urllib.request
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tron.adapters.clock import ScaledClock
from tron.adapters.kite import ACCESS_TOKEN_SECRET
from tron.bootstrap import embedded
from tron.config.settings import Settings
from tron.runday.embedded import DayRun, drive_run, operator_controls, run_root
from tron.runday.kite_sim import reconcile
from tron.runday.loop import OnMinute


class ExternalSimError(RuntimeError):
    """The simulator at the given root does not answer its control API."""


def control(root: str, what: str, body: dict[str, Any] | None = None) -> Any:
    """Call the simulator's control API (GET without a body, POST with one); its `data`."""
    req = urllib.request.Request(
        f"{root.rstrip('/')}/__sim/{what}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["data"]
    except (OSError, ValueError, KeyError) as e:
        raise ExternalSimError(f"no Kite simulator answers at {root} ({e})") from None


def prepare_external_day(
    settings: Settings, day: date, root_url: str, broker: str = "kite", root: Path | None = None
) -> DayRun:
    """The run of `day` against the simulator at `root_url` (broker "kite": its orders; "paper": paper fills
    on its quotes), on its clock and logged in, ready for `finish_external_day`."""
    clock_doc = control(root_url, "clock")
    now = datetime.fromisoformat(clock_doc["now"])
    if now.date() != day:
        raise ExternalSimError(f"the simulator at {root_url} is on {now.date()}, not {day}")
    clock = ScaledClock(now, float(clock_doc.get("speed") or 1.0))
    kite = settings.kite.model_copy(
        update={
            "root": root_url,
            "api_key": clock_doc["api_key"],
            "follow_polls": 50,
            "poll_interval_s": 0.01,
            "rate_limits": bool(clock_doc.get("rate_limits", True)),
        }
    )
    settings = settings.model_copy(update={"market_data": "kite", "broker": broker, "kite": kite})
    root = root or run_root(settings, day).with_name(run_root(settings, day).name + "-external")
    if root.exists():
        shutil.rmtree(root)  # a fresh store, as `prepare` makes: a day run again is not "already processed"
    deps, bus = embedded(settings, clock, root)
    operator_controls(settings, deps)
    deps.secrets.put(ACCESS_TOKEN_SECRET, control(root_url, "login", {})["access_token"])
    return DayRun(deps, bus, root, broker=broker, market="kite")


def finish_external_day(
    run: DayRun, day: date, root_url: str, on_minute: OnMinute | None = None
) -> dict[str, Any]:
    """Drive the prepared run through the day: the embedded backend's summary, and with broker kite the
    book reconciled with the simulator's trades."""
    result = drive_run(run, day, on_minute)
    if run.broker == "kite":
        # As the operator would after a lost session: log in again to read the account (a no-op otherwise).
        run.deps.secrets.put(ACCESS_TOKEN_SECRET, control(root_url, "login", {})["access_token"])
        result["kite"] = reconcile(run.deps, day, root_url)
    return result


def run_external_day(
    settings: Settings,
    day: date,
    root_url: str,
    broker: str = "kite",
    root: Path | None = None,
    on_minute: OnMinute | None = None,
) -> dict[str, Any]:
    """Run `day` against the simulator at `root_url`: `prepare_external_day`, then `finish_external_day`."""
    return finish_external_day(
        prepare_external_day(settings, day, root_url, broker, root), day, root_url, on_minute
    )
