"""The intraday backtester's results are those of the golden run recorded before it was sped up (issue 18 §4):
every trade, fill, intent, session record and the equity curve, to the paisa and the bit.

The workloads, the canonical form of a result and the golden file are bench/bench_intraday.py's; here the
two small ones run (one symbol × 15 sessions of ORB with next-open fills; five symbols × 4 sessions of orb,
vwap and ema_cross with close fills and slippage). The benchmark checks the big ones against their hashes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_intraday.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_intraday", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def first_difference(golden: dict[str, Any], now: dict[str, Any]) -> str:
    """Where two canonical results part, for the failure message."""
    for key in golden:
        a, b = golden[key], now.get(key)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list):
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                if x != y:
                    return f"{key}[{i}]: golden {json.dumps(x)} now {json.dumps(y)}"
            return f"{key}: {len(a)} golden, {len(b)} now"
        return f"{key}: golden {a!r} now {b!r}"
    return "the hashes differ"


@pytest.mark.parametrize("name", ["small_orb", "small_mix"])
def test_a_small_backtest_gives_the_golden_results(bench: ModuleType, name: str) -> None:
    golden = json.loads(bench.GOLDEN.read_text())["workloads"][name]
    result, _ = bench.run_workload(name)
    now = bench.canonical(result)
    assert now == golden["result"], first_difference(golden["result"], now)
    assert bench.digest(now) == golden["sha256"]
    assert golden["summary"]["trades"] > 0 and bench.summary(now) == golden["summary"]


def test_the_golden_file_holds_every_workload(bench: ModuleType) -> None:
    golden = json.loads(bench.GOLDEN.read_text())
    assert golden["seed"] == bench.SEED and set(golden["workloads"]) == set(bench.WORKLOADS)
    for name, entry in golden["workloads"].items():
        assert len(entry["sha256"]) == 64 and entry["summary"]["bars"] > 0, name
        assert ("result" in entry) is bench.WORKLOADS[name].full
