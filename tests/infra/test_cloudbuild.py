"""cloudbuild.yaml: tests, then the terraform checks and plan, then an apply gated on main."""

from __future__ import annotations

import yaml

from tests.support.paths import REPO


def _cloudbuild() -> dict:
    return yaml.safe_load((REPO / "cloudbuild.yaml").read_text())


def test_cloudbuild_tests_and_applies_only_on_main_when_asked() -> None:
    doc = _cloudbuild()
    steps = {s["id"]: " ".join(s["args"]) for s in doc["steps"]}
    # in this order: tests (lint included, emulators installed), terraform checks and plan, gated apply
    assert [s["id"] for s in doc["steps"]] == ["test", "terraform-validate", "terraform-apply"]
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
