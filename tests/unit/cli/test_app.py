"""The `tron` command on a bad configuration: exit code 2 and a message naming the key, the file or the
variable, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


def test_the_cli_reports_bad_config_and_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "tron.yaml"
    cfg.write_text("risk:\n  risk_per_trade_pct: 50\n")
    p = subprocess.run(
        [sys.executable, "-m", "tron.cli", "run-day", "--date", "2026-11-23", "--json"],
        capture_output=True,
        text=True,
        env={"TRON_CONFIG": str(cfg), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert p.returncode == 2
    assert "risk.risk_per_trade_pct" in p.stderr and "less than or equal to 5" in p.stderr


BROKEN_CONFIGS = {
    "yaml syntax": ("risk:\n  capital: [1\n", r"not valid YAML.*line \d+"),
    "tab indent": ("risk:\n\tcapital: 5\n", r"not valid YAML.*line 2"),
    "top-level list": ("- risk\n- capital\n", r"top level must be a mapping of keys, got a list"),
    "not utf-8": (b"\xff\xfe risk", r"not UTF-8 text"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_CONFIGS))
def test_a_broken_config_file_exits_2_naming_the_file(tmp_path: Path, case: str) -> None:
    text, message = BROKEN_CONFIGS[case]
    cfg = tmp_path / "tron.yaml"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    p = _cli(tmp_path, {"TRON_CONFIG": str(cfg)})
    assert p.returncode == 2, p.stderr
    assert str(cfg) in p.stderr and re.search(message, p.stderr), p.stderr
    assert "Traceback" not in p.stderr


def test_tron_config_that_is_not_a_readable_file_is_an_error(tmp_path: Path) -> None:
    p = _cli(tmp_path, {"TRON_CONFIG": str(tmp_path)})  # a directory used to run on the defaults
    assert p.returncode == 2 and f"TRON_CONFIG points to {tmp_path}, which is not a file" in p.stderr
    p = _cli(tmp_path, {"TRON_CONFIG": str(tmp_path / "missing.yaml")})
    assert p.returncode == 2 and "does not exist" in p.stderr


def test_an_env_override_with_broken_json_exits_2_naming_the_variable(tmp_path: Path) -> None:
    p = _cli(tmp_path, {"TRON_RISK": '{"capital": 5'})
    assert p.returncode == 2, p.stderr
    assert "TRON_RISK" in p.stderr and "JSON" in p.stderr and "Traceback" not in p.stderr


def _cli(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tron.cli", "plan", "--date", "2026-11-23", "--json"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
    )
