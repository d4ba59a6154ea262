"""`tron ops pause|resume|status`: switch TRON's Cloud Scheduler jobs off for a day and back on.

The job names come from the schedule (tron/data/jobs.yaml, the file terraform creates the jobs from; the
job name is the entry's `name`), so there is one source of truth. Pause never touches square-off or
end-of-day (:func:`pause_targets`).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

from tron.cli.args import json_option
from tron.cli.errors import CommandError

if TYPE_CHECKING:
    from tron.config import schedule

ASSETS = ("stocks", "futures", "options")
DEFAULT_REGION = "asia-south1"  # infra/terraform's default `region`
NEVER_PAUSED = ("square_off", "end_of_day")


def pause_targets(jobs: list[schedule.Job], asset: str) -> list[str]:
    """Names of the jobs `tron ops pause --asset <asset>` pauses, in file order.

    One asset: its tick jobs (no new entries and no position management for it; plan-day keeps running,
    as the plan is shared by all assets). ``all`` (the default: "I do not want to trade today"): every tick
    job and plan-day, so no plan is armed and even a tick resumed later in the day only skips.

    Square-off and end-of-day are never paused. If anything is open when the ticks stop (a pause in the
    middle of a session, an order that filled just before), the scheduled square-off is the only exit left
    before the broker's own auto square-off (which costs a fee per order and sells at any price); on a day
    with nothing open it sends nothing. End-of-day then writes the day's report and archives the logs.
    """
    functions = {f"tick_{a}" for a in ASSETS} | {"plan_day"} if asset == "all" else {f"tick_{asset}"}
    return [j.name for j in jobs if j.function in functions]


def resume_targets(jobs: list[schedule.Job], asset: str) -> list[str]:
    """What pause pauses, plus the jobs that must always run: the asset's square-off (every square-off
    for ``all``; a square-off job without an asset counts for every asset) and end-of-day, so resume also
    turns them back on if found paused (e.g. by terraform's `pause_schedules`)."""
    names = set(pause_targets(jobs, asset))
    for j in jobs:
        square_off_of = str(j.body.get("asset", "all"))
        if j.function == "end_of_day" or (
            j.function == "square_off" and (asset == "all" or square_off_of in (asset, "all"))
        ):
            names.add(j.name)
    return [j.name for j in jobs if j.name in names]


def _cmd(args: argparse.Namespace) -> int:
    from tron.adapters.scheduler import SchedulerJobs, make_client
    from tron.config import schedule

    project = (
        args.project or os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("CLOUDSDK_CORE_PROJECT")
    )
    if not project:
        raise CommandError("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
    try:
        jobs = schedule.load()
    except (OSError, ValueError) as e:
        raise CommandError(f"cannot read the schedule ({schedule.DEFAULT_PATH}): {e}") from None
    from google.auth.exceptions import DefaultCredentialsError

    try:
        client = make_client(args.endpoint)
    except DefaultCredentialsError as e:
        raise CommandError(
            f"no Google credentials ({e}); run `gcloud auth application-default login`"
        ) from None
    try:
        return _run(args, jobs, SchedulerJobs(client, project, args.region, timeout_s=args.timeout))
    finally:
        client.transport.close()


def _run(args: argparse.Namespace, jobs: list[schedule.Job], sched: Any) -> int:
    """Run status, pause or resume against ``sched``; the exit code, or CommandError.

    A job missing from the project/region (terraform not applied there) is refused before anything changes
    (exit 2; an unknown asset is already refused by argparse, no project by the caller). If listing the jobs
    fails nothing changed (exit 1); if some pause/resume calls fail, the others are still made and every job
    is reported with what happened to it (exit 1).
    """
    from tron.adapters.scheduler import SchedulerUnavailable, UnknownJobs

    try:
        if args.action == "status":
            return _status(sched.states(), jobs, args.json)
        wanted = (pause_targets if args.action == "pause" else resume_targets)(jobs, args.asset)
        changes = sched.set_paused(wanted, paused=args.action == "pause")
    except UnknownJobs as e:
        raise CommandError(str(e)) from None
    except SchedulerUnavailable as e:
        raise CommandError(str(e), 1) from None
    failed = [c for c in changes if c.error]
    if args.json:
        print(json.dumps({"action": args.action, "asset": args.asset, "jobs": [_row(c) for c in changes]}))
    else:
        for c in changes:
            if c.error:
                what = f"FAILED, still {c.before}: {c.error}"
            elif c.changed:
                what = f"{c.before} -> {c.after}"
            else:
                what = f"already {c.after}"
            print(f"{c.job:28} {what}")
        if args.action == "pause":
            kept = [j.name for j in jobs if j.function in NEVER_PAUSED]
            print(f"left running on purpose: {', '.join(kept)}")
    if failed:
        raise CommandError(
            f"{len(failed)} of {len(changes)} jobs could not be {args.action}d "
            f"({', '.join(c.job for c in failed)}); the others are as listed. Fix the cause "
            f"(permissions: roles/cloudscheduler.admin) and run the same command again.",
            1,
        )
    return 0


def _row(c: Any) -> dict[str, Any]:
    return {"job": c.job, "before": c.before, "after": c.after, "changed": c.changed, "error": c.error}


def _status(states: dict[str, str], jobs: list[schedule.Job], as_json: bool) -> int:
    rows = {j.name: states.get(j.name, "MISSING") for j in jobs}
    if as_json:
        print(json.dumps(rows))
    else:
        for name, state in rows.items():
            print(f"{name:28} {state}")
    missing = [n for n, s in rows.items() if s == "MISSING"]
    if missing:
        raise CommandError(f"not deployed in this project/region: {', '.join(missing)}")
    return 0


def register(subparsers: Any) -> None:
    """Add `tron ops pause|resume|status` to the tron CLI."""
    ops = subparsers.add_parser("ops", help="pause or resume the Cloud Scheduler jobs (a day off)")
    actions = ops.add_subparsers(dest="action", required=True)
    for action, text in (
        ("pause", "pause the tick jobs (and plan-day for --asset all); never square-off or end-of-day"),
        ("resume", "resume them (and any paused square-off / end-of-day)"),
        ("status", "show the state of every job of the schedule"),
    ):
        p = actions.add_parser(action, parents=[json_option()], help=text)
        if action != "status":
            p.add_argument("--asset", choices=(*ASSETS, "all"), default="all", help="default: all")
        p.add_argument("--project", help="Google Cloud project (default: $GOOGLE_CLOUD_PROJECT)")
        p.add_argument(
            "--region", default=DEFAULT_REGION, help=f"region of the jobs (default {DEFAULT_REGION})"
        )
        p.add_argument("--endpoint", help=argparse.SUPPRESS)  # host:port of a local stand-in (tests)
        p.add_argument("--timeout", type=float, default=30.0, help="seconds per API call (default 30)")
        p.set_defaults(func=_cmd)
