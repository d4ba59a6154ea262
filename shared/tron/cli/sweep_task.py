"""`tron sweep-task`: one Cloud Run task of a sweep, the command of the sweep job (infra/terraform/sweep.tf).

Cloud Run sets CLOUD_RUN_TASK_INDEX and CLOUD_RUN_TASK_COUNT; `tron optimize --runner cloud-run` sets
TRON_SWEEP_RUN (the run id) when it starts the execution; the archive comes from the configuration (the job
sets TRON_BACKEND=gcp, TRON_ARCHIVE_BUCKET and GOOGLE_CLOUD_PROJECT; with the embedded backend, the data
folder's archive). The task reads sweeps/{run}/tasks.json, downloads the bars to a temporary folder, runs its
share of the backtests (every COUNT-th task from INDEX) and writes them as one object,
sweeps/{run}/results/{INDEX:05d}.json. Run again (Cloud Run retries a failed task), it writes the same bytes,
or does nothing when the object is already there. A variable missing or malformed, an index out of range, an
unknown run, an unreadable task list or a failed backtest: a message on stderr, exit code 2, nothing
written."""

from __future__ import annotations

import argparse
import os
from typing import Any

from tron.cli.errors import CommandError

INDEX, COUNT, RUN = "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT", "TRON_SWEEP_RUN"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sweep-task`` subcommand to the ``tron`` CLI's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sweep-task",
        help="run this Cloud Run task's share of a sweep (the sweep job's command)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=run)
    return p


def _whole(name: str) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        raise CommandError(f"{name} is not set: this command runs as a task of the Cloud Run sweep job")
    try:
        return int(raw)
    except ValueError:
        raise CommandError(f"{name}={raw!r} is not a whole number") from None


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    index, count = _whole(INDEX), _whole(COUNT)
    run_id = os.environ.get(RUN, "").strip()
    if not run_id:
        raise CommandError(f"{RUN} is not set: `tron optimize --runner cloud-run` sets it on each execution")
    if count < 1 or not 0 <= index < count:
        raise CommandError(f"{INDEX}={index} is out of range for {COUNT}={count}")

    from tron.backtest import sweep
    from tron.bootstrap import sweep_archive
    from tron.config.settings import load_settings

    archive = sweep_archive(load_settings())
    try:
        with tempfile.TemporaryDirectory(prefix="tron-sweep-") as tmp:
            done = sweep.run_share(archive, run_id, index, count, Path(tmp))
    except sweep.SweepError as e:
        raise CommandError(str(e)) from None
    what = "already in the bucket" if done.skipped else "written"
    print(f"sweep {run_id} task {index} of {count}: {done.tasks} backtests, results {what}: {done.location}")
    return 0
