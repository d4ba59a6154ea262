"""`tron live arm|disarm|status`: the operator's arming of a day, its refusals, and what status shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tron.cli import main


def test_live_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "state.sqlite")
    assert main(["live", "status", "--state", state]) == 2  # no store yet
    assert main(["live", "arm", "--reason", "x", "--state", state]) == 2
    assert "--date" in capsys.readouterr().err
    assert main(["live", "arm", "--date", "2026-11-23", "--state", state]) == 2
    assert "needs a reason" in capsys.readouterr().err
    assert main(["live", "disarm", "--state", state]) == 1
    assert "nothing is armed" in capsys.readouterr().err

    assert (
        main(
            ["live", "arm", "--date", "2026-11-23", "--reason", "first day", "--by", "asha", "--state", state]
        )
        == 0
    )
    assert "ARMED for 2026-11-23 by asha" in capsys.readouterr().out
    assert main(["live", "status", "--date", "2026-11-24", "--state", state]) == 0
    assert "2026-11-24: not armed: the arming was for 2026-11-23 and has expired" in capsys.readouterr().out
    assert main(["live", "disarm", "--reason", "not today", "--by", "ravi", "--state", state]) == 0
    capsys.readouterr()
    assert main(["live", "status", "--date", "2026-11-23", "--state", state, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert not status["armed"] and "disarmed by ravi" in status["why_not"]


def test_a_bad_date_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["live", "arm", "--date", "23-11-2026", "--reason", "x"])
    assert e.value.code == 2 and "not a date" in capsys.readouterr().err
