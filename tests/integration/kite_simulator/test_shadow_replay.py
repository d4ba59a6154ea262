"""Dry-run live, proven against Kite's input rules: a whole simulated day on the shadow broker (paper fills,
every order call recorded as the Kite broker would make it), then every recorded call replayed through the
real `kiteconnect` client into a fresh Kite simulator of the same market, each at the time it was made. None
may fail Kite's input validation (InputException); refusals that depend on the market's state
(OrderException) are counted apart."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from tests.support.days import TRADING_DAY, settings
from tests.support.kite_client import settled
from tests.support.kite_sim import running_kite_sim
from tron.adapters.kite.shadow import ShadowBroker, shadow_records
from tron.adapters.paper import PaperBroker
from tron.domain.timeutil import ist
from tron.runday.embedded import prepare, run_day

SYMBOLS = 10  # enough for a day of stock trades; with the assets below, NIFTY options trade too
SEED = 2  # a day with every kind of call but a cancel: entries, SL-M and SL stops, trails, both conversions
ALGO_ID = "TRON2026"
# Stocks and bought NIFTY options (their stops rest as SL, converted to a marketable LIMIT), as the
# repository's configuration sets them, given here so the test does not depend on that file.
ASSETS = {
    "stocks": {"enabled": True, "capital_pct": 60, "risk": {"loss_budget_pct": 30}},
    "options": {
        "enabled": True,
        "capital_pct": 10,
        "risk": {"risk_per_trade_pct": 2.0, "max_position_pct": 50, "max_sector_pct": 100},
    },
}


@pytest.fixture(autouse=True)
def _defaults_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings' defaults and ASSETS, not the repository's config/tron.yaml."""
    empty = tmp_path / "tron.yaml"
    empty.write_text("{}\n")
    monkeypatch.setenv("TRON_CONFIG", str(empty))


@dataclass
class Replay:
    """What the simulator made of the recorded calls."""

    sent: Counter[str] = field(default_factory=Counter)  # calls made, by kind (place, modify, convert, …)
    input_errors: list[str] = field(default_factory=list)  # InputException: a bad call (must stay empty)
    refusals: list[str] = field(default_factory=list)  # OrderException: the market's or the order's state
    orphans: list[str] = field(default_factory=list)  # calls on an order whose placement was not replayed


def shadow_day(tmp_path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The day on the shadow broker (around the paper broker the embedded backend builds): its records
    and its summary."""
    s = settings(tmp_path, seed=SEED, symbols=SYMBOLS, assets=ASSETS, kite={"algo_id": ALGO_ID})
    run = prepare(s, TRADING_DAY, tmp_path / "run")
    deps = run.deps
    assert isinstance(deps.broker, PaperBroker)
    deps.broker = ShadowBroker(
        deps.broker, deps.store, deps.clock, s.kite.market_protection, algo_id=s.kite.algo_id
    )
    result = run_day(s, TRADING_DAY, run=run)
    return shadow_records(deps.store, TRADING_DAY), result


def replay(kite: KiteConnect, move_to: Any, records: list[dict[str, Any]]) -> Replay:
    """Each call the paper broker carried out, in order, at its recorded time; the paper order ids mapped to
    the simulator's as the places are answered."""
    out, ids = Replay(), {}
    for rec in records:
        if rec["call"] is None or rec["refused"] or rec["error"]:
            continue  # no call (or refused before it, or the paper broker raised: it is delivered again)
        kw = dict(rec["kwargs"])
        if "order_id" in kw:
            if kw["order_id"] not in ids:
                out.orphans.append(rec["seq"])
                continue
            kw["order_id"] = ids[kw["order_id"]]
        move_to(datetime.fromisoformat(rec["at"]))
        what = f"{rec['at'][11:16]} {rec['op']} {kw}"
        try:
            order_id = getattr(kite, rec["call"])(**kw)
        except kex.InputException as e:
            out.input_errors.append(f"{what}: {e}")
            continue
        except kex.OrderException as e:
            out.refusals.append(f"{what}: {e}")
            continue
        out.sent[rec["op"]] += 1
        if rec["call"] == "place_order":
            ids[rec["order_id"]] = order_id
        settled(kite, order_id)  # the simulator passes an order through its OMS in wall time
    return out


def test_every_call_of_a_shadow_day_passes_kites_input_validation(tmp_path: Path) -> None:
    records, result = shadow_day(tmp_path)
    assert result["trading_day"] is True
    assert result["assets"]["stocks"]["trades"] > 0 and result["assets"]["options"]["trades"] > 0
    kinds = Counter((r["op"], (r["kwargs"] or {}).get("order_type")) for r in records if r["call"])
    # entries, SL-M stops and options' SL stops, their trails, and both conversions (to MARKET and LIMIT)
    for kind in ["MARKET", "SL-M", "SL"]:
        assert kinds[("place", kind)] > 0, kinds
    for kind in ["SL-M", "SL"]:
        assert kinds[("modify", kind)] > 0, kinds
    for kind in ["MARKET", "LIMIT"]:
        assert kinds[("convert", kind)] > 0, kinds
    assert all(r["kwargs"]["algo_id"] == ALGO_ID for r in records if r["call"] == "place_order")
    # what the shadow refused (a trail the last price had already crossed) is what paper refuses too
    assert all("already crossed" in p for r in records if r["refused"] for p in r["problems"])

    with running_kite_sim(start=ist(TRADING_DAY, time(9, 0)), seed=SEED, symbols=SYMBOLS) as ks:
        kite = ks.client()

        def move_to(when: datetime) -> None:
            if when > ks.clock.now():
                ks.set(when)

        done = replay(kite, move_to, records)
        open_at_the_end = {
            p["tradingsymbol"]: p["quantity"] for p in kite.positions()["net"] if p["quantity"]
        }

    assert done.input_errors == []
    assert open_at_the_end == {}  # the replayed calls close every position they open, as on paper
    assert done.orphans == []
    placed = sum(1 for r in records if r["call"] == "place_order" and not r["refused"] and not r["error"])
    assert done.sent["place"] == placed
    # Refusals by the order's state (none on this day): the simulator's matching engine and the paper broker
    # fill resting stops by the same stop-fill model, but the simulator works a stop as its clock moves, while
    # paper works it only when TRON next asks (order_states at the next tick, or before a trail or convert).
    # A stop that filled on the simulator a moment before the recorded trail or exit reached it would answer
    # "Order cannot be modified as it is complete" (as live Kite would; the executor then books the stop's
    # fill). Any other refusal is a difference between paper and Kite to explain.
    unexplained = [r for r in done.refusals if "as it is complete" not in r]
    assert unexplained == []
    assert len(done.refusals) <= len(records) // 10, done.refusals
