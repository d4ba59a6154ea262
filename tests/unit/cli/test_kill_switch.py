"""`tron kill-switch`: engage (with a reason), status, release."""

from __future__ import annotations

import json

import pytest


def test_kill_switch_command(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from tron.cli import main

    state = str(tmp_path / "state.sqlite")
    assert main(["kill-switch", "engage", "--state", state]) == 2
    assert "needs a reason" in capsys.readouterr().err
    assert (
        main(["kill-switch", "engage", "--reason", "drill", "--by", "ops", "--state", state, "--json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert (doc["engaged"], doc["reason"], doc["flatten"], doc["by"]) == (True, "drill", True, "ops")
    assert main(["kill-switch", "status", "--state", state]) == 0
    assert "ENGAGED: drill" in capsys.readouterr().out
    assert main(["kill-switch", "release", "--state", state]) == 0
    assert main(["kill-switch", "status", "--state", state, "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["engaged"] is False
    assert main(["kill-switch", "status", "--state", str(tmp_path / "nope.sqlite")]) == 2
