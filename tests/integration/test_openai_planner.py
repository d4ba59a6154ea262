"""The real `openai` client against a local fake server: every failure ends in a valid rule plan with the
reason recorded in the day document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import time
from pathlib import Path

import pytest

from tests.support.days import TRADING_DAY, settings
from tests.support.fakes.openai import FakeOpenAI
from tron.adapters.clock import VirtualClock
from tron.bootstrap import embedded
from tron.domain.plan import Plan
from tron.domain.timeutil import ist
from tron.services.plan_day import plan_day


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as f:
        yield f


def answer(**stocks: object) -> str:
    a = {
        "enabled": True,
        "strategies": [{"name": "orb", "params": {"range_minutes": 30}}],
        "risk": {
            "daily_loss_limit": 3000,
            "max_trades_per_day": 10,
            "max_open_positions": 5,
            "risk_per_trade_pct": 0.2,
        },
        "note": "trend day",
    }
    a.update(stocks)
    return json.dumps({"regime": "trending", "assets": {"stocks": a}})


def plan_with(
    tmp: Path,
    fake: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    key: str | None = "sk-test",
    timeout: float = 5,
) -> dict:
    if key:
        monkeypatch.setenv("TRON_SECRET_OPENAI_API_KEY", key)
    s = settings(
        tmp, planner="openai", openai={"base_url": fake.base_url, "timeout_s": timeout, "max_tokens": 500}
    )
    deps, _ = embedded(s, VirtualClock(ist(TRADING_DAY, time(9, 0))), tmp / "run", log_to_archive=False)
    return plan_day(deps)


def test_a_valid_answer_becomes_the_plan(
    tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.content = answer()
    doc = plan_with(tmp_path, fake, monkeypatch)
    plan = Plan.from_doc(doc["plan"])
    assert plan.planner == "openai" and plan.fallback_reason is None
    stocks = plan.assets[next(iter(plan.assets))]
    assert (
        stocks.strategies[0].params == {"range_minutes": 30} and str(stocks.risk.daily_loss_limit) == "3000"
    )
    req = fake.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["response_format"]["json_schema"]["strict"] is True
    assert req["body"]["max_completion_tokens"] == 500
    assert "NIFTY 50 daily bars" in req["body"]["messages"][1]["content"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("this is not json", "not JSON"),
        (answer(strategies=[{"name": "orb", "params": {"range_minutes": 500}}]), "range_minutes=500"),
        (answer(strategies=[{"name": "martingale", "params": {}}]), "unknown strategy 'martingale'"),
        (
            answer(
                risk={
                    "daily_loss_limit": 50000,
                    "max_trades_per_day": 10,
                    "max_open_positions": 5,
                    "risk_per_trade_pct": 0.2,
                }
            ),
            "daily_loss_limit 50000 above the configured 5000",
        ),
        (json.dumps({"regime": "trending"}), "does not fit the plan schema"),
    ],
)
def test_bad_answers_fall_back_to_rules_with_the_reason(
    tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, content: str, reason: str
) -> None:
    fake.content = content
    doc = plan_with(tmp_path, fake, monkeypatch)
    assert doc["plan"]["planner"] == "rules"
    assert reason in doc["plan"]["fallback_reason"]
    assert doc["status"] == "armed"


def test_a_timeout_falls_back(tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.content, fake.delay = answer(), 2.0
    doc = plan_with(tmp_path, fake, monkeypatch, timeout=0.3)
    assert doc["plan"]["planner"] == "rules"
    assert "Timeout" in doc["plan"]["fallback_reason"]


def test_a_missing_key_falls_back_without_calling(
    tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = plan_with(tmp_path, fake, monkeypatch, key=None)
    assert doc["plan"]["planner"] == "rules"
    assert "no OpenAI API key" in doc["plan"]["fallback_reason"]
    assert fake.requests == []


def run_reviewed_day(tmp: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> dict:
    from tron.runday.embedded import prepare, run_day

    monkeypatch.setenv("TRON_SECRET_OPENAI_API_KEY", "sk-test")
    s = settings(tmp, review=True, openai={"base_url": fake.base_url, "timeout_s": 5})
    run = prepare(s, TRADING_DAY, tmp / "run")
    run_day(s, TRADING_DAY, run=run)
    return run.deps.store.get(f"days/{TRADING_DAY}/reviews/llm")


def test_the_day_review_is_stored_and_never_applied(tmp_path: Path, fake: FakeOpenAI, monkeypatch) -> None:
    fake.content = json.dumps({"summary": "Choppy day.", "suggestions": ["Raise the ORB buffer to 0.2%"]})
    review = run_reviewed_day(tmp_path, fake, monkeypatch)
    assert review["suggestions"] == ["Raise the ORB buffer to 0.2%"] and review["applied"] is False
    assert "The day's report" in fake.requests[-1]["body"]["messages"][1]["content"]


def test_a_failed_review_is_recorded_and_the_day_still_closes(
    tmp_path: Path, fake: FakeOpenAI, monkeypatch
) -> None:
    fake.content = "not json"
    review = run_reviewed_day(tmp_path, fake, monkeypatch)
    assert "JSONDecodeError" in review["error"] and review["applied"] is False
