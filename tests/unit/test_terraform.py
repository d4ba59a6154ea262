"""infra/terraform: formatted, valid against the google provider schema, and consistent with the code.

The hashicorp/google provider cannot be downloaded here, so init/validate/plan run through the schema-only
stand-in of <repo>/../shared/tools/terraform-offline (skipped when that folder or `terraform` is absent).
The saved plan's `terraform show -json` is then checked against functions/main.py and schedules/jobs.yaml.
"""

from __future__ import annotations

import ast
import base64
import copy
import json
import os
import re
import shutil
import subprocess
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from croniter import croniter

REPO = Path(__file__).resolve().parents[2]
TF_DIR = REPO / "infra" / "terraform"
OFFLINE = REPO.parent / "shared" / "tools" / "terraform-offline"
OFFLINE_CACHE = REPO / "var" / "tf-offline"
JOBS_FILE = REPO / "schedules" / "jobs.yaml"
MAIN_PY = REPO / "functions" / "main.py"
TERRAFORM = shutil.which("terraform")
DAY = date(2026, 11, 23)
SESSION = (time(9, 15), time(15, 29))
TICK_ASSETS = ("stocks", "futures", "options")
DUMMY_VARS = {"project_id": "tron-test-project", "alert_email": "alerts@example.com"}

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform binary not on PATH")


# ---- the data the infrastructure must agree with --------------------------------------------------------


def entry_points() -> set[str]:
    """Top-level functions of functions/main.py not starting with "_"."""
    tree = ast.parse(MAIN_PY.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}


def load_schedule() -> dict[str, Any]:
    return yaml.safe_load(JOBS_FILE.read_text())


def minutes_of(cron: str, day: date) -> list[time]:
    """The minutes a cron fires on `day` (cron evaluated in the schedule's own time zone)."""
    start = datetime.combine(day, time(0, 0)) - timedelta(seconds=1)
    it = croniter(cron, start)
    out = []
    while (t := it.get_next(datetime)).date() == day:
        out.append(t.time())
    return out


def session_minutes() -> list[time]:
    first = datetime.combine(DAY, SESSION[0])
    last = datetime.combine(DAY, SESSION[1])
    return [
        (first + timedelta(minutes=i)).time() for i in range(int((last - first).total_seconds()) // 60 + 1)
    ]


def consistency_problems(functions: set[str], schedule: dict[str, Any], pushed: set[str]) -> list[str]:
    """Everything that would leave a function idle or a tick window wrong; empty when consistent."""
    problems = []
    jobs = schedule.get("jobs") or []
    if schedule.get("time_zone") != "Asia/Kolkata":
        problems.append(f"time_zone is {schedule.get('time_zone')!r}, not Asia/Kolkata")
    scheduled = {j["function"] for j in jobs}
    for j in jobs:
        if j["function"] not in functions:
            problems.append(f"job {j['name']} names missing function {j['function']}")
        if not croniter.is_valid(j["cron"]):
            problems.append(f"job {j['name']} has invalid cron {j['cron']!r}")
    for p in sorted(pushed - functions):
        problems.append(f"push subscription targets missing function {p}")
    for f in sorted(functions - scheduled - pushed):
        problems.append(f"function {f} has no trigger (no scheduler job, no push subscription)")
    expected = session_minutes()
    for asset in TICK_ASSETS:
        fn = f"tick_{asset}"
        fired = sorted(
            t
            for j in jobs
            if j["function"] == fn and croniter.is_valid(j["cron"])
            for t in minutes_of(j["cron"], DAY)
        )
        if fired != expected:
            missing = sorted(set(expected) - set(fired))
            extra = sorted(set(fired) - set(expected))
            twice = len(fired) - len(set(fired))
            problems.append(f"{fn} ticks wrong: missing {missing[:5]}, extra {extra[:5]}, {twice} duplicates")
    return problems


# ---- the offline plan -----------------------------------------------------------------------------------


def run_tf(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 240) -> str:
    proc = subprocess.run(
        [TERRAFORM or "terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"terraform {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def var_args(extra: dict[str, str] | None = None) -> list[str]:
    values = {**DUMMY_VARS, **(extra or {})}
    return [f"-var={k}={v}" for k, v in values.items()]


@pytest.fixture(scope="module")
def tf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Init + validate + plan (static egress on and off) in a copy of infra/terraform; returns the plans."""
    if TERRAFORM is None:
        pytest.skip("terraform binary not on PATH")
    if not (OFFLINE / "setup.sh").is_file():
        pytest.skip(f"offline provider tools not found at {OFFLINE}")
    setup = subprocess.run(
        ["bash", str(OFFLINE / "setup.sh"), str(OFFLINE_CACHE)], capture_output=True, text=True, timeout=300
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    rc_file = setup.stdout.strip().splitlines()[-1]
    root = tmp_path_factory.mktemp("tf")
    work = root / "infra" / "terraform"
    shutil.copytree(
        TF_DIR,
        work,
        ignore=shutil.ignore_patterns(".terraform", ".build", ".terraform.lock.hcl", "*.tfstate*"),
    )
    # The configuration reads ../../schedules and packages ../../functions, ../../shared, ../../requirements.txt.
    for name in ("functions", "shared", "schedules", "requirements.txt"):
        (root / name).symlink_to(REPO / name)
    (work / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": rc_file,
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }
    run_tf(["init", "-input=false", "-no-color"], work, env)
    run_tf(["validate", "-no-color"], work, env)
    plans = {}
    for label, egress in (("on", "true"), ("off", "false")):
        out = f"plan-{label}.bin"
        run_tf(
            [
                "plan",
                "-refresh=false",
                "-input=false",
                "-no-color",
                f"-out={out}",
                *var_args({"enable_static_egress": egress}),
            ],
            work,
            env,
        )
        plans[label] = json.loads(run_tf(["show", "-json", out], work, env))
    return plans


def resources(plan: dict[str, Any], rtype: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(module: dict[str, Any]) -> None:
        found.extend(module.get("resources", []))
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan["planned_values"]["root_module"])
    return [r for r in found if rtype is None or r["type"] == rtype]


def by_index(plan: dict[str, Any], rtype: str) -> dict[Any, dict[str, Any]]:
    return {r.get("index"): r["values"] for r in resources(plan, rtype)}


def config_resource(plan: dict[str, Any], address: str) -> dict[str, Any]:
    for r in plan["configuration"]["root_module"]["resources"]:
        if r["address"] == address:
            return r
    raise AssertionError(f"{address} not in configuration")


def push_targets(plan: dict[str, Any]) -> set[str]:
    """Entry points that a push subscription delivers to (from the push_endpoint reference)."""
    functions = by_index(plan, "google_cloudfunctions2_function")
    targets = set()
    for r in plan["configuration"]["root_module"]["resources"]:
        if r["type"] != "google_pubsub_subscription":
            continue
        for push in r["expressions"].get("push_config", []):
            for ref in push["push_endpoint"].get("references", []):
                m = re.fullmatch(r'google_cloudfunctions2_function\.fn\["(\w+)"\]\.url', ref)
                if m:
                    targets.add(functions[m.group(1)]["build_config"][0]["entry_point"])
    return targets


# ---- tests ----------------------------------------------------------------------------------------------


@needs_terraform
def test_terraform_fmt() -> None:
    proc = subprocess.run(
        [TERRAFORM or "terraform", "fmt", "-check", "-recursive", "-diff", str(TF_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"run `terraform fmt -recursive infra/terraform`:\n{proc.stdout}"


def test_schedule_and_functions_are_consistent() -> None:
    assert consistency_problems(entry_points(), load_schedule(), pushed={"execute_order"}) == []


def test_consistency_checker_catches_mutations() -> None:
    fns, good = entry_points(), load_schedule()
    assert consistency_problems(fns, good, {"execute_order"}) == []

    # execute_order without its push subscription has no trigger
    assert any("execute_order has no trigger" in p for p in consistency_problems(fns, good, set()))

    # a schedule naming a function that does not exist
    bad = copy.deepcopy(good)
    bad["jobs"].append({"name": "ghost", "function": "tick_crypto", "cron": "* * * * *", "body": {}})
    assert any("missing function tick_crypto" in p for p in consistency_problems(fns, bad, {"execute_order"}))

    # a function with no job at all
    bad = copy.deepcopy(good)
    bad["jobs"] = [j for j in bad["jobs"] if j["function"] != "end_of_day"]
    assert any("end_of_day has no trigger" in p for p in consistency_problems(fns, bad, {"execute_order"}))

    # tick windows off by one minute at either end, or overlapping
    for name, cron in (
        ("tick-futures-open", "16-59 9 * * *"),
        ("tick-futures-open", "14-59 9 * * *"),
        ("tick-options-close", "0-30 15 * * *"),
        ("tick-options-close", "0-28 15 * * *"),
        ("tick-stocks-day", "* 10-15 * * *"),
    ):
        bad = copy.deepcopy(good)
        next(j for j in bad["jobs"] if j["name"] == name)["cron"] = cron
        problems = consistency_problems(fns, bad, {"execute_order"})
        asset = name.split("-")[1]
        assert any(p.startswith(f"tick_{asset} ticks wrong") for p in problems), (name, cron, problems)

    bad = copy.deepcopy(good)
    bad["time_zone"] = "UTC"
    assert any("time_zone" in p for p in consistency_problems(fns, bad, {"execute_order"}))


def test_every_entry_point_is_a_cloud_function(tf: dict[str, Any]) -> None:
    functions = by_index(tf["on"], "google_cloudfunctions2_function")
    assert set(functions) == entry_points()
    for key, f in functions.items():
        assert f["name"] == key.replace("_", "-")
        assert f["build_config"][0]["entry_point"] == key
        assert f["build_config"][0]["runtime"] == "python312"
        assert f["service_config"][0]["ingress_settings"] in {
            "ALLOW_INTERNAL_ONLY",
            "ALLOW_INTERNAL_AND_GCLB",
            "ALLOW_ALL",
        }
    accounts = by_index(tf["on"], "google_service_account")
    assert entry_points() <= set(accounts), "one service account per function"


def test_every_function_has_a_trigger_in_the_plan(tf: dict[str, Any]) -> None:
    assert push_targets(tf["on"]) == {"execute_order"}
    assert consistency_problems(entry_points(), load_schedule(), push_targets(tf["on"])) == []


def test_scheduler_jobs_mirror_the_schedule_file(tf: dict[str, Any]) -> None:
    plan = tf["on"]
    schedule = load_schedule()
    jobs = by_index(plan, "google_cloud_scheduler_job")
    functions = {f["name"]: f for f in by_index(plan, "google_cloudfunctions2_function").values()}
    targets = plan["planned_values"]["outputs"]["scheduler_targets"]["value"]
    assert set(jobs) == {j["name"] for j in schedule["jobs"]}
    for spec in schedule["jobs"]:
        job = jobs[spec["name"]]
        assert job["time_zone"] == "Asia/Kolkata"
        assert job["schedule"] == spec["cron"]
        http = job["http_target"][0]
        assert http["http_method"] == "POST"
        assert json.loads(base64.b64decode(http["body"])) == (spec.get("body") or {})
        assert len(http["oidc_token"]) == 1
        assert functions[targets[spec["name"]]]["build_config"][0]["entry_point"] == spec["function"]
    # the uri and audience are the function's own URL (unknown until apply, so checked as references)
    http_expr = config_resource(plan, "google_cloud_scheduler_job.job")["expressions"]["http_target"][0]
    for expr in (http_expr["uri"], http_expr["oidc_token"][0]["audience"]):
        assert {"google_cloudfunctions2_function.fn", "each.value.function"} <= set(expr["references"])


def test_no_public_iam_anywhere(tf: dict[str, Any]) -> None:
    for plan in tf.values():
        text = json.dumps(plan)
        assert "allUsers" not in text and "allAuthenticatedUsers" not in text


def test_log_bucket_is_private_versioned_and_expires(tf: dict[str, Any]) -> None:
    buckets = {b["name"]: b for b in (r["values"] for r in resources(tf["on"], "google_storage_bucket"))}
    logs = buckets[f"{DUMMY_VARS['project_id']}-tron-logs"]
    for b in buckets.values():
        assert b["uniform_bucket_level_access"] is True
        assert b["public_access_prevention"] == "enforced"
        assert b["versioning"] == [{"enabled": True}]
    actions = {rule["action"][0]["type"] for rule in logs["lifecycle_rule"]}
    assert "Delete" in actions
    assert any(rule["condition"][0].get("age") for rule in logs["lifecycle_rule"])


def test_orders_push_subscription(tf: dict[str, Any]) -> None:
    subs = {s["name"]: s for s in (r["values"] for r in resources(tf["on"], "google_pubsub_subscription"))}
    push = subs["orders-execute-order"]
    assert len(push["push_config"]) == 1 and len(push["push_config"][0]["oidc_token"]) == 1
    assert push["dead_letter_policy"][0]["max_delivery_attempts"] >= 5
    assert push["retry_policy"]
    expr = config_resource(tf["on"], "google_pubsub_subscription.orders_push")["expressions"]
    assert (
        "google_pubsub_topic.orders_dead_letter.id"
        in expr["dead_letter_policy"][0]["dead_letter_topic"]["references"]
    )
    roles = {r["values"]["role"] for r in resources(tf["on"]) if r["type"].endswith("_iam_member")}
    assert {
        "roles/iam.serviceAccountTokenCreator",
        "roles/pubsub.publisher",
        "roles/pubsub.subscriber",
    } <= roles


def test_static_egress_switch(tf: dict[str, Any]) -> None:
    on, off = tf["on"], tf["off"]
    for rtype in ("google_compute_address", "google_compute_router_nat", "google_vpc_access_connector"):
        assert len(resources(on, rtype)) == 1, rtype
        assert resources(off, rtype) == [], rtype
    nat = resources(on, "google_compute_router_nat")[0]["values"]
    assert nat["nat_ip_allocate_option"] == "MANUAL_ONLY"
    for f in by_index(on, "google_cloudfunctions2_function").values():
        assert f["service_config"][0]["vpc_connector_egress_settings"] == "ALL_TRAFFIC"
    for f in by_index(off, "google_cloudfunctions2_function").values():
        assert f["service_config"][0].get("vpc_connector_egress_settings") is None
        assert f["service_config"][0].get("vpc_connector") is None


def checkov_executable() -> str | None:
    local = REPO / "var" / "checkov" / "bin" / "checkov"
    return shutil.which("checkov") or (str(local) if local.is_file() else None)


def test_checkov() -> None:
    exe = checkov_executable()
    if exe is None:
        pytest.skip(
            "checkov not installed (python3 -m venv var/checkov && var/checkov/bin/pip install checkov==3.3.30)"
        )
    proc = subprocess.run(
        [exe, "--skip-download", "-d", str(TF_DIR), "--compact", "--quiet"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
