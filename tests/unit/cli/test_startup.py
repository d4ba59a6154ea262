"""`tron --help` starts fast because building the parser imports no heavy module: each command imports
what it runs. Checked by what is imported, not by a clock (a busy machine must not fail it)."""

from __future__ import annotations

import json
import subprocess
import sys

# What building the parser must not import. Measured on `python -X importtime -m tron.cli --help`: numpy
# alone is ~0.1 s, pandas ~0.3 s, pyarrow ~0.15 s, the settings (pydantic) ~0.12 s; the Google and Kite
# clients and the services pull in more. `tron --help` takes ~0.1 s of CPU without them.
HEAVY = (
    "pandas",
    "numpy",
    "pyarrow",
    "pydantic",
    "pydantic_settings",
    "yaml",
    "rich",
    "kiteconnect",
    "openai",
    "requests",
    "scipy",
    "talib",
    "backtesting",
    "tron.bootstrap",
    "tron.runday",
    "tron.services",
    "tron.config.settings",
)
LIGHT_BACKTEST = {"tron.backtest", "tron.backtest.errors", "tron.backtest.fills"}  # no numpy

PROBE = f"""
import json, sys
import tron.cli.app
tron.cli.app.build_parser()
heavy = {HEAVY!r}
loaded = {{
    m if m.startswith("tron.") else m.split(".")[0]
    for m, mod in list(sys.modules.items())
    if m in heavy or m.startswith(tuple(h + "." for h in heavy))
    or (m.startswith("google.") and getattr(mod, "__file__", None))  # google.* but the namespace packages
    or (m.startswith("tron.backtest") and m not in {LIGHT_BACKTEST!r})
}}
print(json.dumps(sorted(loaded)))
"""


def test_building_the_parser_imports_nothing_heavy() -> None:
    p = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert json.loads(p.stdout) == [], "move these imports into the command functions"


def test_tron_help_lists_the_commands() -> None:
    p = subprocess.run([sys.executable, "-m", "tron.cli", "--help"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "backtest" in p.stdout and "run-day" in p.stdout


def test_backtest_help_still_names_the_strategies_and_the_seed() -> None:
    """The help texts that need the strategies (numpy) are completed when --help is asked for."""
    p = subprocess.run(
        [sys.executable, "-m", "tron.cli", "backtest", "--help"], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert "peer: sma_cross, ema_cross" in text and "intraday: orb" in text
    assert "Monte Carlo VaR seed (default 7)" in text
