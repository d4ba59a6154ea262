"""cloudbuild.yaml: tests, then the terraform checks and plan, then an apply gated on main, then the sweep job's
image (built from the Dockerfile, pushed, set on the job) only after an apply that has the job. Docker does not
run here: the Dockerfile is checked as text."""

from __future__ import annotations

import re

import yaml

from tests.support.paths import REPO


def _cloudbuild() -> dict:
    return yaml.safe_load((REPO / "cloudbuild.yaml").read_text())


def test_cloudbuild_tests_and_applies_only_on_main_when_asked() -> None:
    doc = _cloudbuild()
    steps = {s["id"]: " ".join(s["args"]) for s in doc["steps"]}
    # in this order: tests (lint included, emulators installed), terraform checks and plan, gated apply
    assert [s["id"] for s in doc["steps"]] == [
        "test",
        "terraform-validate",
        "terraform-apply",
        "sweep-image",
        "sweep-deploy",
    ]
    assert not any("waitFor" in s for s in doc["steps"]), "each step waits for the one before"
    assert "make test" in steps["test"]
    assert "firestore-emulator" in steps["test"] and "pubsub-emulator" in steps["test"]
    validate = steps["terraform-validate"]
    for cmd in (
        "terraform fmt -check",
        "terraform init",
        "terraform validate",
        "terraform plan",
        "-out=tfplan",
    ):
        assert cmd in validate, cmd
    assert validate.index("terraform validate") < validate.index("terraform plan")
    apply = steps["terraform-apply"]
    assert 'BRANCH_NAME" = "main"' in apply and '_APPLY}" = "true"' in apply
    assert "terraform apply -input=false tfplan" in apply  # exactly the plan shown above, nothing re-planned
    assert doc["substitutions"]["_APPLY"] == "false"
    # every user substitution is used (Cloud Build rejects unused ones) and the alert e-mail is required
    text = (REPO / "cloudbuild.yaml").read_text()
    for key in doc["substitutions"]:
        assert text.count("${" + key + "}") >= 1, key
    assert '-z "${_ALERT_EMAIL}"' in validate


def test_the_sweep_image_is_built_and_set_only_after_an_apply_with_the_job() -> None:
    doc = _cloudbuild()
    steps = {s["id"]: s for s in doc["steps"]}
    assert doc["substitutions"]["_SWEEP_JOB"] == "false"  # off unless the trigger asks: no image, no job
    validate = " ".join(steps["terraform-validate"]["args"])
    assert '-var "enable_sweep_job=${_SWEEP_JOB}"' in validate
    apply = " ".join(steps["terraform-apply"]["args"])
    # the outputs are written only inside the gated branch, right after the apply
    gated = apply[apply.index("terraform apply -input=false tfplan") : apply.index("else")]
    assert "terraform output -raw sweep_image > /workspace/sweep_image" in gated
    assert "terraform output -raw sweep_job > /workspace/sweep_job" in gated

    image = steps["sweep-image"]
    assert image["name"] == "gcr.io/cloud-builders/docker"
    script = " ".join(image["args"])
    assert 'if [ -z "$$IMAGE" ]' in script and "exit 0" in script  # no job applied: nothing built
    assert 'docker build -t "$$IMAGE:$BUILD_ID" .' in script
    assert 'docker push "$$IMAGE:$BUILD_ID"' in script
    deploy = " ".join(steps["sweep-deploy"]["args"])
    assert "gcloud run jobs update" in deploy and '--image "$$IMAGE:$BUILD_ID"' in deploy
    assert '--project "$PROJECT_ID"' in deploy
    # Cloud Build substitutes $NAME and ${NAME}: the scripts' own variables are escaped as $$NAME
    text = (REPO / "cloudbuild.yaml").read_text()
    for var in ("IMAGE", "JOB", "REGION"):
        assert re.search(rf"(?<!\$)\$\{{?{var}\b", text) is None, var


def test_the_dockerfile_runs_the_sweep_task() -> None:
    """The image of infra/terraform/sweep.tf: Python 3.11, the pinned requirements, the package, a non-root
    user, and `tron sweep-task` as the command (the job sets the same)."""
    lines = [
        ln.strip()
        for ln in (REPO / "Dockerfile").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    text = "\n".join(lines)
    assert "COPY requirements.txt ." in text and "RUN pip install -r requirements.txt" in text
    assert "COPY pyproject.toml ." in text and "COPY shared/ shared/" in text
    assert re.search(r"RUN pip install --no-deps \.( |$)", text, re.M)
    assert text.index("requirements.txt") < text.index("COPY shared/")  # the dependency layer is cached
    user = next(ln for ln in lines if ln.startswith("USER "))
    assert user != "USER root" and lines.index(user) < len(lines) - 1
    assert lines[-1] == 'ENTRYPOINT ["tron", "sweep-task"]'
    ignore = (REPO / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:4] == ["*", "!requirements.txt", "!pyproject.toml", "!shared/"]
    sweep_tf = (REPO / "infra" / "terraform" / "sweep.tf").read_text()
    assert 'command = ["tron", "sweep-task"]' in sweep_tf
    # the command the image runs exists: `tron sweep-task --help` lists it
    from tron.cli.app import build_parser

    assert "sweep-task" in build_parser().format_help()
