"""Keep the layers honest: import-linter contracts, no clock reads outside the clock adapter, thin functions."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO as ROOT

SRC = ROOT / "shared" / "tron"


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    p = subprocess.run(
        [exe, "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 broken" in p.stdout


def layered() -> set[str]:
    """The top-level modules and packages of tron that the layers contract names."""
    import tomllib

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in conf if c["type"] == "layers"]
    return {name.strip().removeprefix("tron.") for layer in layers for name in layer.split("|")}


def top_level(src: Path = SRC) -> set[str]:
    """tron's top-level modules and packages with code (the package data folder has none)."""
    return {
        p.stem if p.is_file() else p.name
        for p in src.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())
    } - {"data"}


def test_every_module_is_in_a_layer(tmp_path: Path) -> None:
    assert top_level() == layered(), "a module of tron outside every layer (or a layer naming nothing)"
    fake = tmp_path / "tron"
    shutil.copytree(SRC, fake, ignore=shutil.ignore_patterns("__pycache__"))
    (fake / "helpers.py").write_text("")  # a new loose module
    assert top_level(fake) - layered() == {"helpers"}


def test_only_the_clock_adapter_reads_the_clock() -> None:
    pattern = re.compile(r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time)\(")
    offenders = [
        f"{f.relative_to(ROOT)}:{i}"
        for f in [*SRC.rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
        if f.name != "clock.py"
        for i, line in enumerate(f.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_function_entry_points_hold_no_logic() -> None:
    tree = ast.parse((ROOT / "functions" / "main.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            assert len(node.body) <= 8, f"{node.name} is more than a thin adapter"
            for sub in ast.walk(node):
                assert not isinstance(sub, (ast.For, ast.While)), (
                    f"{node.name} loops: move that into a service"
                )
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert all(
                n.split(".")[0] in {"__future__", "base64", "json", "typing", "functions_framework"}
                for n in names
            )


def test_every_scheduled_function_has_an_entry_point() -> None:
    from tron.config import schedule

    tree = ast.parse((ROOT / "functions" / "main.py").read_text())
    entry = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
    assert {j.function for j in schedule.load()} <= entry
    # execute_order is triggered by Pub/Sub; kite_login (the Kite app's redirect URL), kill_switch and
    # positions_page (the live page) by the operator; telegram_webhook by Telegram
    unscheduled = {"execute_order", "kite_login", "kill_switch", "positions_page", "telegram_webhook"}
    assert entry - {j.function for j in schedule.load()} == unscheduled
