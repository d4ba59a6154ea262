"""infra/terraform: formatted, valid against the google provider schema, and consistent with the code.

The hashicorp/google provider cannot be downloaded here, so init/validate/plan run through the schema-only
stand-in of <repo>/../shared/tools/terraform-offline (skipped when that folder or `terraform` is absent).
The saved plan's `terraform show -json` is then checked against functions/main.py and tron/data/jobs.yaml.
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
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from croniter import croniter

from tests.support.paths import REPO

TF_DIR = REPO / "infra" / "terraform"
OFFLINE = REPO.parent / "shared" / "tools" / "terraform-offline"
OFFLINE_CACHE = REPO / "var" / "tf-offline"
JOBS_FILE = REPO / "shared" / "tron" / "data" / "jobs.yaml"
MAIN_PY = REPO / "functions" / "main.py"
TERRAFORM = shutil.which("terraform")
DAY = date(2026, 11, 23)
SESSION = (time(9, 15), time(15, 29))
TICK_ASSETS = ("stocks", "futures", "options")
DUMMY_VARS = {
    "project_id": "tron-test-project",
    "alert_email": "alerts@example.com",
    "operators": '["user:ops@example.com"]',
}

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform binary not on PATH")


# ---- the data the infrastructure must agree with --------------------------------------------------------


def signatures() -> dict[str, str]:
    """Entry point → "http" or "cloud_event": the functions_framework decorator of each top-level function
    of functions/main.py not starting with "_" ("none" when it has neither)."""
    out = {}
    for n in ast.parse(MAIN_PY.read_text()).body:
        if isinstance(n, ast.FunctionDef) and not n.name.startswith("_"):
            kinds = {ast.unparse(d).removeprefix("functions_framework.") for d in n.decorator_list}
            out[n.name] = next((k for k in ("http", "cloud_event") if k in kinds), "none")
    return out


def entry_points() -> set[str]:
    return set(signatures())


# Functions that nothing schedules or pushes to: an operator calls them over HTTP (square_off is also
# scheduled). Listed here on purpose, so a function that silently lost its trigger cannot pass as "manual".
OPERATOR_FUNCTIONS = {"square_off", "kill_switch", "kite_login", "positions_page"}
WEBHOOK_FUNCTIONS = {"telegram_webhook"}  # called by Telegram (public, with its secret header)


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


def consistency_problems(
    functions: dict[str, str] | set[str],
    schedule: dict[str, Any],
    pushed: set[str],
    operator: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[str]:
    """Everything that would leave a function idle, call it the wrong way or get a tick window wrong; empty
    when consistent. `functions` maps each entry point to its signature ("http"/"cloud_event"); a plain set
    skips the signature checks. `operator` are the HTTP functions an operator calls by hand."""
    sig = functions if isinstance(functions, dict) else dict.fromkeys(functions, "")
    problems = []
    jobs = schedule.get("jobs") or []
    if schedule.get("time_zone") != "Asia/Kolkata":
        problems.append(f"time_zone is {schedule.get('time_zone')!r}, not Asia/Kolkata")
    scheduled = {j["function"] for j in jobs}
    names = [j["name"] for j in jobs]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"job name {n} is used twice (terraform and `tron ops` key jobs by name)")
    for j in jobs:
        if j["function"] not in sig:
            problems.append(f"job {j['name']} names missing function {j['function']}")
        elif j["function"] in pushed:
            problems.append(f"job {j['name']} targets {j['function']}, which Pub/Sub pushes to")
        elif sig[j["function"]] not in ("http", ""):
            problems.append(f"job {j['name']} targets {j['function']}, which is not an HTTP function")
        if not croniter.is_valid(j["cron"]):
            problems.append(f"job {j['name']} has invalid cron {j['cron']!r}")
    for p in sorted(pushed - set(sig)):
        problems.append(f"push subscription targets missing function {p}")
    for p in sorted(pushed & set(sig)):
        if sig[p] not in ("http", ""):  # a push is a plain HTTP POST of the JSON envelope
            problems.append(f"push subscription targets {p}, which is not an HTTP function")
    for f in sorted(operator - set(sig)):
        problems.append(f"operator function {f} does not exist")
    for f in sorted(operator & set(sig)):
        if f in pushed:
            problems.append(f"operator function {f} is the one Pub/Sub pushes to")
        elif sig[f] not in ("http", ""):
            problems.append(f"operator function {f} is not an HTTP function")
    for f in sorted(set(sig) - scheduled - pushed - operator):
        problems.append(
            f"function {f} has no trigger (no scheduler job, no push subscription, not an operator's)"
        )
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
def tf_workdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy of infra/terraform, initialised and validated with the offline provider; (dir, environment)."""
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
    # The configuration reads ../../shared/tron/data/jobs.yaml and packages ../../functions, ../../shared,
    # ../../requirements.txt and ../../config/tron.yaml.
    for name in ("functions", "shared", "requirements.txt", "config"):
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
    return work, env


@pytest.fixture(scope="module")
def tf(tf_workdir: tuple[Path, dict[str, str]]) -> dict[str, Any]:
    """Plans with the defaults (static egress on, secrets not mounted, Kite quotes) trading live with the sweep
    job, and the other branches (egress off, secrets mounted as env vars, the generated market, paper, no sweep
    job): `terraform show -json` of each."""
    work, env = tf_workdir
    plans = {}
    for label, egress, mount, market, mode in (
        ("on", "true", "false", "kite", "live"),
        ("off", "false", "true", "generated", "paper"),
    ):
        out = f"plan-{label}.bin"
        run_tf(
            [
                "plan",
                "-refresh=false",
                "-input=false",
                "-no-color",
                f"-out={out}",
                *var_args(
                    {
                        "enable_static_egress": egress,
                        "mount_secrets": mount,
                        "market_data": market,
                        "trading_mode": mode,
                        "telegram_chat_ids": "[12345]" if label == "on" else "[]",
                        "enable_sweep_job": "true" if label == "on" else "false",
                    }
                ),
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


PUSHED = {"execute_order"}


def test_schedule_and_functions_are_consistent() -> None:
    external = OPERATOR_FUNCTIONS | WEBHOOK_FUNCTIONS
    assert consistency_problems(signatures(), load_schedule(), PUSHED, external) == []


def test_consistency_checker_catches_mutations() -> None:
    fns, good = signatures(), load_schedule()
    ops = OPERATOR_FUNCTIONS | WEBHOOK_FUNCTIONS
    assert consistency_problems(fns, good, PUSHED, ops) == []

    # execute_order without its push subscription has no trigger
    assert any("execute_order has no trigger" in p for p in consistency_problems(fns, good, set(), ops))

    # kite_login is HTTP-only: without its operator listing it has no trigger; square_off is scheduled too
    assert any(
        "kite_login has no trigger" in p
        for p in consistency_problems(fns, good, PUSHED, {"square_off", "kill_switch", *WEBHOOK_FUNCTIONS})
    )
    manual = {"kite_login", "kill_switch", "positions_page", *WEBHOOK_FUNCTIONS}
    assert consistency_problems(fns, good, PUSHED, manual) == []

    # an operator function that is not in functions/main.py, or not an HTTP function
    assert any(
        "operator function ghost does not exist" in p
        for p in consistency_problems(fns, good, PUSHED, {*ops, "ghost"})
    )
    assert any(
        "execute_order is the one Pub/Sub pushes to" in p
        for p in consistency_problems(fns, good, PUSHED, {*ops, "execute_order"})
    )

    # a push subscription to a function that is not HTTP, a scheduler job to the pushed function
    as_event = {**fns, "execute_order": "cloud_event"}
    assert any("not an HTTP function" in p for p in consistency_problems(as_event, good, PUSHED, ops))
    bad = copy.deepcopy(good)
    bad["jobs"].append({"name": "run-executor", "function": "execute_order", "cron": "0 9 * * *", "body": {}})
    assert any("which Pub/Sub pushes to" in p for p in consistency_problems(fns, bad, PUSHED, ops))

    # a schedule naming a function that does not exist
    bad = copy.deepcopy(good)
    bad["jobs"].append({"name": "ghost", "function": "tick_crypto", "cron": "* * * * *", "body": {}})
    assert any("missing function tick_crypto" in p for p in consistency_problems(fns, bad, PUSHED, ops))

    # a function with no job at all
    bad = copy.deepcopy(good)
    bad["jobs"] = [j for j in bad["jobs"] if j["function"] != "end_of_day"]
    assert any("end_of_day has no trigger" in p for p in consistency_problems(fns, bad, PUSHED, ops))

    # two jobs of one name (terraform's for_each and `tron ops` key by name)
    bad = copy.deepcopy(good)
    bad["jobs"].append(dict(bad["jobs"][0]))
    assert any("used twice" in p for p in consistency_problems(fns, bad, PUSHED, ops))

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
        problems = consistency_problems(fns, bad, PUSHED, ops)
        asset = name.split("-")[1]
        assert any(p.startswith(f"tick_{asset} ticks wrong") for p in problems), (name, cron, problems)

    bad = copy.deepcopy(good)
    bad["time_zone"] = "UTC"
    assert any("time_zone" in p for p in consistency_problems(fns, bad, PUSHED, ops))


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


def operator_functions(plan: dict[str, Any]) -> set[str]:
    """Entry points terraform lets an operator call (output operator_functions, hyphenated names)."""
    return {n.replace("-", "_") for n in plan["planned_values"]["outputs"]["operator_functions"]["value"]}


def test_every_function_has_a_trigger_in_the_plan(tf: dict[str, Any]) -> None:
    plan = tf["on"]
    assert push_targets(plan) == PUSHED
    assert operator_functions(plan) == OPERATOR_FUNCTIONS
    assert (
        consistency_problems(
            signatures(), load_schedule(), push_targets(plan), operator_functions(plan) | WEBHOOK_FUNCTIONS
        )
        == []
    )


def named(plan: dict[str, Any], rtype: str) -> dict[tuple[str, Any], dict[str, Any]]:
    """(resource name, for_each key) → planned values, for every resource of a type."""
    return {(r["name"], r.get("index")): r["values"] for r in resources(plan, rtype)}


def test_invokers_are_exactly_scheduler_push_and_operators(tf: dict[str, Any]) -> None:
    plan = tf["on"]
    scheduled = {j["function"] for j in load_schedule()["jobs"]}
    grants: dict[str, set[str]] = {}
    for (name, _), b in named(plan, "google_cloud_run_v2_service_iam_member").items():
        assert b["role"] == "roles/run.invoker"
        grants.setdefault(name, set()).add(b["name"].replace("-", "_"))
    assert grants == {
        "scheduler_invoker": scheduled,  # never kite-login
        "orders_push_invoker": PUSHED,
        "operator_invoker": OPERATOR_FUNCTIONS,
        "telegram_public": WEBHOOK_FUNCTIONS,  # with telegram_chat_ids only (the "off" plan has none)
    }
    members = {
        name: config_resource(plan, f"google_cloud_run_v2_service_iam_member.{name}")["expressions"]["member"]
        for name in grants
    }
    assert "google_service_account.scheduler.email" in members["scheduler_invoker"]["references"]
    assert "google_service_account.orders_push.email" in members["orders_push_invoker"]["references"]
    operator = named(plan, "google_cloud_run_v2_service_iam_member")
    assert {b["member"] for (n, _), b in operator.items() if n == "operator_invoker"} == {
        "user:ops@example.com"
    }
    viewers = [
        b
        for (n, _), b in named(plan, "google_project_iam_member").items()
        if n == "operator_functions_viewer"
    ]
    assert [(b["member"], b["role"]) for b in viewers] == [
        ("user:ops@example.com", "roles/cloudfunctions.viewer")
    ]
    public = [b["member"] for (n, _), b in operator.items() if n == "telegram_public"]
    assert public == ["allUsers"]  # the one public function, and only with chats configured:
    off = named(tf["off"], "google_cloud_run_v2_service_iam_member")
    assert not [b for (n, _), b in off.items() if b.get("member") in ("allUsers", "allAuthenticatedUsers")]
    ops_role = named(plan, "google_project_iam_custom_role")[("schedule_operator", None)]
    assert sorted(ops_role["permissions"]) == [  # what `tron ops` needs; no create/update/delete
        "cloudscheduler.jobs.enable",
        "cloudscheduler.jobs.get",
        "cloudscheduler.jobs.list",
        "cloudscheduler.jobs.pause",
    ]
    assert ("schedule_operator", "user:ops@example.com") in named(plan, "google_project_iam_member")


def test_kite_login_account_only_adds_token_versions(tf: dict[str, Any]) -> None:
    plan = tf["on"]
    fn = by_index(plan, "google_cloudfunctions2_function")["kite_login"]
    assert (
        fn["service_config"][0]["vpc_connector_egress_settings"] == "ALL_TRAFFIC"
    )  # Kite sees the static IP
    assert fn["service_config"][0]["ingress_settings"] == "ALLOW_ALL"  # reached from the operator's machine
    grants = {
        (*k.split("/"), b["role"])
        for (_, k), b in named(plan, "google_secret_manager_secret_iam_member").items()
    }
    assert {(s, r) for f, s, r in grants if f == "kite_login"} == {
        ("kite_api_key", "roles/secretmanager.secretAccessor"),
        ("kite_api_secret", "roles/secretmanager.secretAccessor"),
        ("kite_access_token", "roles/secretmanager.secretVersionAdder"),
    }
    # nobody else may add versions or read the api secret
    assert {f for f, s, r in grants if r != "roles/secretmanager.secretAccessor"} == {"kite_login"}
    assert {f for f, s, r in grants if s == "kite_api_secret"} == {"kite_login"}
    # its own account; project-wide only Firestore and log writing, like every function
    project_roles = {
        b["role"]
        for (n, k), b in named(plan, "google_project_iam_member").items()
        if n == "fn" and k.startswith("kite_login/")
    }
    assert project_roles == {"roles/datastore.user", "roles/logging.logWriter"}
    assert ("fn", "kite_login") in named(plan, "google_service_account")


def test_the_positions_page_only_reads_the_state(tf: dict[str, Any]) -> None:
    """The live page: operators only (never public), no secret, Firestore read-only."""
    plan = tf["on"]
    fn = by_index(plan, "google_cloudfunctions2_function")["positions_page"]
    assert fn["name"] == "positions-page" and fn["service_config"][0]["ingress_settings"] == "ALLOW_ALL"
    invokers = {
        (n, b["member"])
        for (n, _), b in named(plan, "google_cloud_run_v2_service_iam_member").items()
        if b["name"] == "positions-page"
    }
    assert invokers == {("operator_invoker", "user:ops@example.com")}
    grants = named(plan, "google_secret_manager_secret_iam_member")
    assert not [k for (_, k) in grants if k.startswith("positions_page/")]
    project_roles = {
        b["role"]
        for (n, k), b in named(plan, "google_project_iam_member").items()
        if n == "fn" and k.startswith("positions_page/")
    }
    assert project_roles == {"roles/datastore.viewer", "roles/logging.logWriter"}


def code_secret_names() -> dict[str, str]:
    """Secret names the code reads or writes (NAME_SECRET = "..." constants, secrets.get/put("...")) → where."""
    found = {}
    pattern = re.compile(r'^\s*[A-Z_]*SECRET\s*=\s*"([^"]+)"|secrets\.(?:get|put)\(\s*"([^"]+)"', re.M)
    for path in sorted((REPO / "shared" / "tron").rglob("*.py")):
        for m in pattern.finditer(path.read_text()):
            found.setdefault(m.group(1) or m.group(2), str(path.relative_to(REPO)))
    return found


def test_the_secrets_the_code_uses_are_the_ones_terraform_creates(tf: dict[str, Any]) -> None:
    """On Secret Manager the name is the secret id: kite_access_token and kite-access-token are two
    secrets (the environment fallback maps both to TRON_SECRET_KITE_ACCESS_TOKEN, which hides the
    difference locally). A function asking for a secret terraform did not create gets None, or
    PermissionDenied when it tries to create it."""
    created = {s["secret_id"] for s in by_index(tf["on"], "google_secret_manager_secret").values()}
    used = code_secret_names()
    assert used, "found no secret names in shared/tron: the scan is broken"
    missing = {name: where for name, where in used.items() if name not in created}
    assert missing == {}, (
        f"secrets the code uses but terraform does not create ({sorted(created)}): {missing}"
    )


def test_bad_variables_are_refused_with_a_clear_message(tf_workdir: tuple[Path, dict[str, str]]) -> None:
    """One plan with three bad values: terraform reports every failed validation at once."""
    work, env = tf_workdir
    bad = {"operators": '["allUsers"]', "alert_email": "", "trading_mode": "demo"}
    proc = subprocess.run(
        [TERRAFORM or "terraform", "plan", "-refresh=false", "-input=false", "-no-color", *var_args(bad)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode != 0
    err = " ".join(proc.stderr.split())
    for message in ("never allUsers", "alert_email must be an e-mail address", "must be paper or live"):
        assert message in err, err[-3000:]


def test_live_trading_needs_kite_quotes_and_the_static_ip(tf_workdir: tuple[Path, dict[str, str]]) -> None:
    work, env = tf_workdir
    live_on_generated = {"trading_mode": "live", "market_data": "generated"}
    proc = subprocess.run(
        [
            TERRAFORM or "terraform",
            "plan",
            "-refresh=false",
            "-input=false",
            "-no-color",
            *var_args(live_on_generated),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode != 0
    assert "trading_mode live needs market_data" in " ".join(proc.stderr.split()), proc.stderr[-3000:]


def test_live_functions_send_orders_to_kite_and_paper_ones_do_not(tf: dict[str, Any]) -> None:
    """trading_mode live: every function on the Kite broker (orders only on armed days) with the static
    IPs in its settings; paper: no broker variable (paper fills)."""
    for f in by_index(tf["on"], "google_cloudfunctions2_function").values():
        env = f["service_config"][0]["environment_variables"]
        assert env["TRON_MODE"] == "live" and env["TRON_BROKER"] == "kite"
    for f in by_index(tf["off"], "google_cloudfunctions2_function").values():
        env = f["service_config"][0]["environment_variables"]
        assert env["TRON_MODE"] == "paper" and "TRON_BROKER" not in env


def test_secrets_are_mounted_only_when_asked(tf: dict[str, Any]) -> None:
    for f in by_index(tf["on"], "google_cloudfunctions2_function").values():
        assert not f["service_config"][0].get("secret_environment_variables")
    mounted = {
        key: {v["key"] for v in f["service_config"][0]["secret_environment_variables"]}
        for key, f in by_index(tf["off"], "google_cloudfunctions2_function").items()
    }
    assert mounted["tick_stocks"] == {
        "TRON_SECRET_KITE_API_KEY",
        "TRON_SECRET_KITE_ACCESS_TOKEN",
        "TRON_SECRET_TELEGRAM_BOT_TOKEN",
    }
    assert mounted["telegram_webhook"] >= {
        "TRON_SECRET_TELEGRAM_WEBHOOK_SECRET",
        "TRON_SECRET_TELEGRAM_BOT_TOKEN",
    }
    assert mounted["kite_login"] == {"TRON_SECRET_KITE_API_KEY", "TRON_SECRET_KITE_API_SECRET"}
    assert "TRON_SECRET_OPENAI_API_KEY" in mounted["plan_day"]


def test_ops_pause_is_not_undone_by_apply() -> None:
    """`tron ops pause` changes the jobs' `paused`; terraform must leave it alone after creation."""
    text = (TF_DIR / "scheduler.tf").read_text()
    assert re.search(r"lifecycle\s*\{\s*ignore_changes\s*=\s*\[paused\]", text)


def test_ops_names_the_jobs_terraform_creates(tf: dict[str, Any]) -> None:
    from tron.cli.ops import pause_targets, resume_targets
    from tron.config import schedule

    jobs = schedule.load()
    planned = set(by_index(tf["on"], "google_cloud_scheduler_job"))
    assert set(resume_targets(jobs, "all")) == planned
    for asset in ("all", *TICK_ASSETS):
        assert set(pause_targets(jobs, asset)) <= planned


def test_alerts_cover_the_failures_and_mail_the_channel(tf: dict[str, Any]) -> None:
    plan = tf["on"]
    metrics = {m["name"]: m for m in named(plan, "google_logging_metric").values()}
    assert {
        "tron-executor-errors",
        "tron-halts",
        "tron-tick-attempt-failures",
        "tron-job-attempt-failures",
        "tron-stuck-exits",
    } <= set(metrics)
    assert 'service_name="execute-order"' in metrics["tron-executor-errors"]["filter"]
    assert 'job_id=~"^tick-"' in metrics["tron-tick-attempt-failures"]["filter"]
    assert "severity>=ERROR" in metrics["tron-halts"]["filter"]
    policies = {n for n, _ in named(plan, "google_monitoring_alert_policy")}
    assert {"executor_errors", "halt", "dead_letters", "missed_tick", "job_failed", "stuck_exits"} <= policies
    assert "re-driven" in metrics["tron-stuck-exits"]["filter"]
    channel = resources(plan, "google_monitoring_notification_channel")[0]["values"]
    assert channel["type"] == "email" and channel["labels"] == {"email_address": DUMMY_VARS["alert_email"]}
    for r in plan["configuration"]["root_module"]["resources"]:
        if r["type"] == "google_monitoring_alert_policy":
            refs = r["expressions"]["notification_channels"]["references"]
            assert "google_monitoring_notification_channel.email" in refs, r["address"]
    dead = next(r for r in resources(plan, "google_monitoring_alert_policy") if r["name"] == "dead_letters")
    assert "orders-dead-letter-hold" in json.dumps(dead["values"]["conditions"])


def test_outputs_name_the_urls_and_the_static_ip(tf: dict[str, Any]) -> None:
    on, off = tf["on"]["planned_values"]["outputs"], tf["off"]["planned_values"]["outputs"]
    assert {"function_urls", "static_egress_ip", "operator_functions", "scheduler_targets"} <= set(on)
    assert off["static_egress_ip"]["value"] is None
    outputs = tf["on"]["configuration"]["root_module"]["outputs"]
    assert "google_compute_address.egress" in outputs["static_egress_ip"]["expression"]["references"]
    assert "google_cloudfunctions2_function.fn" in outputs["function_urls"]["expression"]["references"]


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


def test_no_public_iam_but_the_telegram_webhooks(tf: dict[str, Any]) -> None:
    """Only telegram-webhook is public (Telegram cannot authenticate to Cloud Run; it checks its secret
    header), and only when chats are configured (the "on" plan)."""
    webhook = "google_cloud_run_v2_service_iam_member.telegram_public[0]"
    for label, plan in tf.items():
        assert "allAuthenticatedUsers" not in json.dumps(plan)
        public = sorted(
            r["address"]
            for r in plan["planned_values"]["root_module"]["resources"]
            if "allUsers" in json.dumps(r["values"])
        )
        assert public == ([webhook] if label == "on" else []), public


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
    # the Pub/Sub service agent: mint the push account's OIDC tokens, forward dead letters, ack what it forwarded
    roles = {r["values"].get("role") for r in resources(tf["on"]) if r["type"].endswith("_iam_member")}
    assert {
        "roles/iam.serviceAccountTokenCreator",
        "roles/pubsub.publisher",
        "roles/pubsub.subscriber",
    } <= roles
    agent_grants = {
        "google_service_account_iam_member.pubsub_agent_token_creator": "roles/iam.serviceAccountTokenCreator",
        "google_pubsub_topic_iam_member.pubsub_agent_dead_letter_publisher": "roles/pubsub.publisher",
        "google_pubsub_subscription_iam_member.pubsub_agent_subscriber": "roles/pubsub.subscriber",
    }
    for address, role in agent_grants.items():
        r = config_resource(tf["on"], address)
        assert r["expressions"]["role"]["constant_value"] == role
        assert "local.pubsub_agent" in r["expressions"]["member"]["references"], address
    dl = config_resource(tf["on"], "google_pubsub_topic_iam_member.pubsub_agent_dead_letter_publisher")
    assert "google_pubsub_topic.orders_dead_letter.name" in dl["expressions"]["topic"]["references"]


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


def pinned_google_schema() -> dict[str, Any]:
    """The resource schemas of the google release the offline check uses, after checking that versions.tf
    pins that release's line."""
    pinned = re.search(r'google\s*=\s*\{[^}]*version\s*=\s*"([^"]+)"', (TF_DIR / "versions.tf").read_text())
    assert pinned, "no google provider version in versions.tf"
    schema_file = OFFLINE / "schema" / "google-6.50.0.json"
    if not schema_file.is_file():
        pytest.skip(f"offline provider schema not found at {schema_file}")
    assert pinned.group(1) == "~> 6.50", "the offline schema is google 6.50.0: the pin and it must agree"
    schema = json.loads(schema_file.read_text())
    return schema["provider_schemas"]["registry.terraform.io/hashicorp/google"]["resource_schemas"]


def test_pinned_provider_cannot_set_direct_vpc_egress() -> None:
    """Static egress keeps the Serverless VPC Access connector only because the pinned provider cannot give
    google_cloudfunctions2_function direct VPC egress (infra/terraform/README.md, "Static egress"; issue 19).
    When a pinned schema has the direct_vpc_* arguments this fails: move to direct VPC egress."""
    block = pinned_google_schema()["google_cloudfunctions2_function"]["block"]
    service_config = block["block_types"]["service_config"]["block"]
    names = set(service_config.get("attributes", {})) | set(service_config.get("block_types", {}))
    assert {"vpc_connector", "vpc_connector_egress_settings"} <= names
    assert not {n for n in names if "direct_vpc" in n}, (
        "the pinned provider can now set direct VPC egress on the functions: replace the connector"
    )
    readme = (TF_DIR / "README.md").read_text()
    assert "7.21.0 or later" in readme and "/26" in readme


def test_the_cost_estimate_prices_the_connector_terraform_creates(
    tf: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/cost_estimate.py (the README's cost table) prices CONNECTOR_MIN_INSTANCES always-on e2-micro."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cost_estimate", REPO / "bench" / "cost_estimate.py")
    assert spec and spec.loader
    cost = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "cost_estimate", cost)  # its dataclasses look their module up there
    spec.loader.exec_module(cost)
    connector = resources(tf["on"], "google_vpc_access_connector")[0]["values"]
    assert connector["machine_type"] == "e2-micro"
    assert connector["min_instances"] == cost.CONNECTOR_MIN_INSTANCES


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


def test_each_functions_environment_and_packaged_config_load(
    tf: dict[str, Any], tf_workdir: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a deployed function starts with — the zip (config/tron.yaml beside main.py) and the environment
    terraform sets — is a valid configuration: the gcp backend, the user's assets, and Kite quotes at the real
    API by default (the generated market when asked), with the login reaching Kite either way; live on the
    Kite broker with the static IP (the plan "on"), else paper."""
    from tron.config.settings import KITE_API, load_settings

    work, env = tf_workdir
    console = subprocess.run(
        [TERRAFORM or "terraform", "console", *var_args()],
        input="jsonencode(local.package_files)\n",
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    packaged = json.loads(json.loads(console.stdout))  # the JSON text, printed as a quoted string
    assert packaged["config/tron.yaml"] == "config/tron.yaml" and packaged["main.py"] == "functions/main.py"
    monkeypatch.chdir(REPO)  # the function's folder holds config/tron.yaml as the repository does
    for label, market in (("on", "kite"), ("off", "generated")):
        for key, f in by_index(tf[label], "google_cloudfunctions2_function").items():
            env = f["service_config"][0]["environment_variables"]
            for name in [n for n in os.environ if n.startswith("TRON_")]:
                monkeypatch.delenv(name)
            for name, value in env.items():
                if name == "TRON_LIVE__STATIC_IPS" and "null" in str(value):  # the address, known after apply
                    value = '["203.0.113.7"]'
                monkeypatch.setenv(name, value)
            s = load_settings()
            mode, broker = ("live", "kite") if label == "on" else ("paper", "paper")
            assert (s.backend, s.mode, s.market_data, s.broker) == ("gcp", mode, market, broker), key
            assert s.enabled() == load_settings(backend="embedded").enabled()
            reaches_kite = market == "kite" or key == "kite_login"
            assert s.kite.root == (KITE_API if reaches_kite else None), (label, key)


SWEEP_TYPES = (
    "google_cloud_run_v2_job",
    "google_cloud_run_v2_job_iam_member",
    "google_artifact_registry_repository",
)


def test_the_sweep_job_exists_only_when_enabled(tf: dict[str, Any]) -> None:
    """`tron optimize --runner cloud-run`'s job (sweep.tf): nothing without enable_sweep_job (the "off" plan);
    with it, a job running `tron sweep-task` as its own account, which may touch sweeps/ of the archive bucket
    and nothing else, and the operators may run it with overrides and read and write those objects."""
    from tron.adapters.cloud_run_jobs import CONTAINER, RUN_ENV
    from tron.backtest.sweep import PREFIX
    from tron.cli.optimize import REGION, SWEEP_JOB

    on, off = tf["on"], tf["off"]
    project, bucket = DUMMY_VARS["project_id"], f"{DUMMY_VARS['project_id']}-tron-logs"
    for rtype in SWEEP_TYPES:
        assert resources(off, rtype) == [], rtype
    assert not [n for n, _ in named(off, "google_service_account") if n == "sweep"]
    assert not [n for n, _ in named(off, "google_storage_bucket_iam_member") if n.startswith("sweep")]
    outputs = off["planned_values"]["outputs"]
    assert outputs["sweep_job"]["value"] == "" and outputs["sweep_image"]["value"] == ""

    (job,) = [r["values"] for r in resources(on, "google_cloud_run_v2_job")]
    assert (job["name"], job["location"]) == (SWEEP_JOB, REGION)  # what `tron optimize` runs by default
    execution = job["template"][0]
    task = execution["template"][0]
    (container,) = task["containers"]
    assert container["name"] == CONTAINER  # the run's environment override names it
    assert container["command"] == ["tron", "sweep-task"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"TRON_BACKEND": "gcp", "GOOGLE_CLOUD_PROJECT": project, "TRON_ARCHIVE_BUCKET": bucket}
    assert RUN_ENV not in env  # set by each execution
    assert 1 <= task["max_retries"] <= 3 and task["timeout"] == "3600s"
    assert container["resources"][0]["limits"] == {"cpu": "1", "memory": "2Gi"}  # modest
    assert execution["parallelism"] == 20 and execution["task_count"] == 1
    expr = config_resource(on, "google_cloud_run_v2_job.sweep")["expressions"]["template"][0]["template"][0]
    assert "google_service_account.sweep" in expr["service_account"]["references"]
    text = (TF_DIR / "sweep.tf").read_text()  # Cloud Build sets the image; terraform leaves it alone
    assert re.search(r"ignore_changes\s*=\s*\[template\[0\]\.template\[0\]\.containers\[0\]\.image", text)

    # the job's account: objectUser on sweeps/ of the archive bucket, no other grant anywhere
    grants = [
        r["address"]
        for r in on["configuration"]["root_module"]["resources"]
        if r["type"].endswith("_iam_member")
        and "google_service_account.sweep" in json.dumps(r["expressions"].get("member", {}))
    ]
    assert grants == ["google_storage_bucket_iam_member.sweep_objects"]
    sweep_only = f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{PREFIX}/")'
    objects = named(on, "google_storage_bucket_iam_member")
    account = objects[("sweep_objects", "sweep")]
    assert (account["bucket"], account["role"]) == (bucket, "roles/storage.objectUser")
    assert account["condition"][0]["expression"] == sweep_only
    assert named(on, "google_service_account")[("sweep", "sweep")]["account_id"] == "tron-sweep"

    # the operators: run with overrides and read executions on this job; sweeps/ objects in the bucket
    runs = {
        (b["role"], b["member"], b["name"])
        for b in by_index(on, "google_cloud_run_v2_job_iam_member").values()
    }
    assert runs == {
        ("roles/run.jobsExecutorWithOverrides", "user:ops@example.com", SWEEP_JOB),
        ("roles/run.viewer", "user:ops@example.com", SWEEP_JOB),
    }
    ops = objects[("sweep_operator_objects", "user:ops@example.com")]
    assert ops["role"] == "roles/storage.objectUser" and ops["condition"][0]["expression"] == sweep_only

    # the image's repository, trimmed on every push, and where Cloud Build reads what to build and update
    (repo,) = [r["values"] for r in resources(on, "google_artifact_registry_repository")]
    assert (repo["format"], repo["repository_id"], repo["location"]) == ("DOCKER", "tron", REGION)
    assert {p["id"] for p in repo["cleanup_policies"]} == {"keep-recent", "delete-old"}
    outputs = on["planned_values"]["outputs"]
    assert outputs["sweep_image"]["value"] == f"{REGION}-docker.pkg.dev/{project}/tron/sweep"
    assert outputs["sweep_job"]["value"] == f"projects/{project}/locations/{REGION}/jobs/{SWEEP_JOB}"
    # sweeps/ objects expire with the logs
    logs = next(r["values"] for r in resources(on, "google_storage_bucket") if r["values"]["name"] == bucket)
    assert any(
        f"{PREFIX}/" in (rule["condition"][0].get("matches_prefix") or [])
        and rule["action"][0]["type"] == "Delete"
        for rule in logs["lifecycle_rule"]
    )
