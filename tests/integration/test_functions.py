"""The Cloud Functions entry points, served by functions-framework as Cloud Run would, on the embedded
backend at virtual time: HTTP triggers and a Pub/Sub push CloudEvent for the executor."""

from __future__ import annotations

import base64
import json
import sys
from datetime import time
from pathlib import Path

import pytest
from functions_framework import create_app

from tests.support.days import TRADING_DAY, settings
from tests.support.paths import REPO
from tron.adapters.clock import VirtualClock
from tron.bootstrap import embedded
from tron.domain.timeutil import ist

MAIN = str(REPO / "functions" / "main.py")


@pytest.fixture
def deps(tmp_path: Path):
    deps, _ = embedded(
        settings(tmp_path), VirtualClock(ist(TRADING_DAY, time(9, 0))), tmp_path / "run", log_to_archive=False
    )
    return deps


def client(target: str, deps, signature: str = "http"):
    app = create_app(target=target, source=MAIN, signature_type=signature)
    sys.modules["main"]._deps = deps  # the composition the entry point would build from the environment
    return app.test_client()


def push(deps, data: bytes, attributes: dict[str, str] | None = None):
    """A Pub/Sub push delivery as the push subscription sends it: a JSON envelope over HTTP."""
    body = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes or {},
            "messageId": "1",
            "publishTime": "2026-11-23T04:00:00Z",
        },
        "subscription": "projects/p/subscriptions/orders-push",
    }
    return client("execute_order", deps).post("/", json=body)


def test_a_morning_through_the_entry_points(deps) -> None:
    r = client("plan_day", deps).post("/")
    assert r.status_code == 200 and r.get_json()["status"] == "armed"
    for minute in range(15, 60):
        deps.clock.set(ist(TRADING_DAY, time(9, minute)))
        while deps.bus.queue:  # last minute's intents, pushed now: they fill at this minute's snapshot
            m = deps.bus.queue.popleft()
            assert push(deps, m.data, m.attributes).status_code == 200
        r = client("tick_stocks", deps).post("/")
        assert r.status_code == 200 and r.get_json()["status"] == "ran"
    states = [d["state"] for _, d in deps.store.list(f"days/{TRADING_DAY}/intents")]
    assert states and set(states) <= {"filled", "claimed", "resting", "cancelled"}  # stops rest or end
    orders = {d["order_id"] for _, d in deps.store.list(f"paper/{TRADING_DAY}/orders")}
    assert orders == {
        d["order_id"] for _, d in deps.store.list(f"days/{TRADING_DAY}/intents") if "order_id" in d
    }


def test_push_delivery_executes_once_and_a_duplicate_is_ignored(deps) -> None:
    client("plan_day", deps).post("/")
    moved = None
    for minute in range(15, 60):
        deps.clock.set(ist(TRADING_DAY, time(9, minute)))
        client("tick_stocks", deps).post("/")
        if deps.bus.queue:
            moved = deps.bus.queue.popleft()
            break
    assert moved is not None, "no order intent in the first 45 minutes"
    deps.clock.set(ist(TRADING_DAY, time(9, minute + 1)))
    assert push(deps, moved.data, moved.attributes).status_code == 200
    assert push(deps, moved.data, moved.attributes).status_code == 200  # Pub/Sub delivered it twice
    orders = deps.store.list(f"paper/{TRADING_DAY}/orders")
    assert len(orders) == 1
    intent = json.loads(moved.data)["intent_id"]
    assert deps.store.get(f"days/{TRADING_DAY}/intents/{intent}")["state"] == "filled"


def test_a_malformed_push_is_recorded_and_acknowledged(deps) -> None:
    assert push(deps, b"\x00garbage").status_code == 200
    assert len(deps.store.list("malformed")) == 1


def test_manual_square_off_validates_its_input(deps) -> None:
    client("plan_day", deps).post("/")
    bad = client("square_off", deps).post("/", json={"asset": "crypto"})
    assert bad.status_code == 400 and "asset must be one of" in bad.get_json()["error"]
    ok = client("square_off", deps).post("/", json={"asset": "all"})
    assert ok.status_code == 200 and set(ok.get_json()["exits"]) == {"stocks", "futures", "options"}
    assert deps.store.get(f"days/{TRADING_DAY}")["squaring"] == ["futures", "options", "stocks"]


# ---------------------------------------------------------------------------------------------- hostile input
DEEP = b"[" * 50_000 + b"]" * 50_000
HOSTILE_BODIES = {
    "truncated json": b'{"asset": "stocks"',
    "a list": b'["stocks"]',
    "a string": b'"stocks"',
    "a number": b"5",
    "null": b"null",
    "not utf-8": b'{"asset": "\xff\xfe"}',
    "deeply nested": DEEP,
    "oversized": b'{"asset": "stocks", "pad": "' + b"x" * 200_000 + b'"}',
    "no asset": b"{}",
    "asset not a string": b'{"asset": 5}',
    "unknown asset": b'{"asset": "crypto"}',
}


@pytest.mark.parametrize("case", sorted(HOSTILE_BODIES))
def test_square_off_refuses_any_body_that_is_not_an_object_naming_an_asset(deps, case: str) -> None:
    """A truncated body used to square off all three assets and halt them for the day."""
    client("plan_day", deps).post("/")
    before = deps.store.get(f"days/{TRADING_DAY}")
    r = client("square_off", deps).post("/", data=HOSTILE_BODIES[case], content_type="application/json")
    assert r.status_code in (400, 413) and r.get_json()["error"]
    assert deps.store.get(f"days/{TRADING_DAY}") == before  # nothing squared off, nothing halted
    assert deps.bus.queue == type(deps.bus.queue)()


KILL_SWITCH_BODIES = {
    "truncated json": b'{"action": "engage", "reason": "x"',
    "a list": b'["engage"]',
    "null": b"null",
    "not utf-8": b'{"action": "engage", "reason": "\xff\xfe"}',
    "deeply nested": DEEP,
    "oversized": b'{"action": "engage", "reason": "' + b"x" * 200_000 + b'"}',
    "no action": b'{"reason": "news"}',
    "unknown action": b'{"action": "flatten", "reason": "news"}',
    "no reason": b'{"action": "engage"}',
    "blank reason": b'{"action": "engage", "reason": "  "}',
    "reason not text": b'{"action": "engage", "reason": ["news"]}',
    "reason too long": b'{"action": "engage", "reason": "' + b"x" * 501 + b'"}',
    "flatten not a bool": b'{"action": "engage", "reason": "news", "flatten": "yes"}',
}


@pytest.mark.parametrize("case", sorted(KILL_SWITCH_BODIES))
def test_the_kill_switch_refuses_any_body_that_is_not_a_clear_command(deps, case: str) -> None:
    client("plan_day", deps).post("/")
    r = client("kill_switch", deps).post("/", data=KILL_SWITCH_BODIES[case], content_type="application/json")
    assert r.status_code in (400, 413) and r.get_json()["error"]
    assert deps.store.get("control/kill_switch") is None  # nothing engaged, nothing sent
    assert deps.bus.queue == type(deps.bus.queue)()


def test_the_kill_switch_engages_at_once_and_releases(deps) -> None:
    client("plan_day", deps).post("/")
    r = client("kill_switch", deps).post("/", json={"action": "engage", "reason": "news", "by": "asha"})
    assert r.status_code == 200
    answer = r.get_json()
    assert answer["kill_switch"]["engaged"] and set(answer["exits"]) == {"stocks", "futures", "options"}
    assert deps.store.get(f"days/{TRADING_DAY}")["squaring"] == []  # released, entries may come back
    status = client("kill_switch", deps).post("/", json={"action": "status"}).get_json()
    assert status["engaged"] and status["by"] == "asha"
    client("kill_switch", deps).post("/", json={"action": "release", "by": "asha"})
    assert client("kill_switch", deps).post("/", json={"action": "status"}).get_json()["engaged"] is False


PUSH_ENVELOPES = {
    "not json": b"{not json",
    "a list": b"[]",
    "a string": b'"message"',
    "null": b"null",
    "no message": b'{"subscription": "s"}',
    "message null": b'{"message": null}',
    "data a number": b'{"message": {"data": 5}}',
    "data null": b'{"message": {"data": null}}',
    "data not base64": b'{"message": {"data": "***"}}',
    "attributes a list": b'{"message": {"data": "", "attributes": [1]}}',
    "not utf-8": b'{"message": {"data": "\xff"}}',
    "deeply nested": DEEP,
    "oversized": b'{"message": {"data": "' + b"A" * 400_000 + b'"}}',
    "data not json": b'{"message": {"data": "' + base64.b64encode(b"\x00garbage") + b'"}}',
    "data deeply nested": b'{"message": {"data": "' + base64.b64encode(DEEP) + b'"}}',
    "data a list": b'{"message": {"data": "' + base64.b64encode(b"[1, 2]") + b'"}}',
}


@pytest.mark.parametrize("case", sorted(PUSH_ENVELOPES))
def test_a_malformed_push_is_recorded_and_acknowledged_never_a_500(deps, case: str) -> None:
    r = client("execute_order", deps).post("/", data=PUSH_ENVELOPES[case], content_type="application/json")
    assert r.status_code == 200, r.get_data()[:300]
    bad = deps.store.list("malformed")
    assert len(bad) == 1 and bad[0][1]["error"]
    assert len(bad[0][1]["data"]) <= 2000


@pytest.mark.parametrize("target", ["plan_day", "tick_stocks", "end_of_day"])
@pytest.mark.parametrize("case", ["truncated json", "a list", "not utf-8", "deeply nested", "oversized"])
def test_scheduled_functions_refuse_a_malformed_body_and_change_nothing(deps, target: str, case: str) -> None:
    r = client(target, deps).post("/", data=HOSTILE_BODIES[case], content_type="application/json")
    assert r.status_code in (400, 413) and r.get_json()["error"]
    assert deps.store.get(f"days/{TRADING_DAY}") is None
    ok = client(target, deps).post("/", json={})  # what Cloud Scheduler sends
    assert ok.status_code == 200


@pytest.mark.parametrize("case", ["a list", "a string", "not utf-8", "deeply nested", "oversized", "null"])
def test_kite_login_refuses_a_malformed_body(deps, case: str) -> None:
    r = client("kite_login", deps).post("/", data=HOSTILE_BODIES[case], content_type="application/json")
    assert r.status_code in (400, 413) and r.get_json()["error"]


def test_the_telegram_webhook_obeys_only_telegram_and_the_allowed_chat(deps, monkeypatch) -> None:
    """Telegram's webhook through the entry point: the secret header checked first, then the chat."""
    monkeypatch.setenv("TRON_SECRET_TELEGRAM_WEBHOOK_SECRET", "hook-secret")
    deps.config.telegram_chats = frozenset({4242})
    client("plan_day", deps).post("/")

    def halt(chat: int, secret: str, update_id: int = 1):
        message = {"message_id": 1, "chat": {"id": chat}, "from": {"id": chat}, "text": "/halt news"}
        body = {"update_id": update_id, "message": message}
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        return client("telegram_webhook", deps).post("/", json=body, headers=headers)

    assert halt(4242, "wrong").status_code == 403
    assert halt(7, "hook-secret").get_json() == {"error": "chat not allowed"}
    bad = client("telegram_webhook", deps).post(
        "/", data=b'{"update_id": 1', headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret"}
    )
    assert bad.status_code == 400 and "not valid JSON" in bad.get_json()["error"]
    assert deps.store.get("control/kill_switch") is None  # nothing engaged yet
    ok = halt(4242, "hook-secret")
    assert ok.status_code == 200 and ok.get_json()["reply"].startswith("kill switch ENGAGED: news")
    assert deps.store.get("control/kill_switch")["engaged"] is True
    assert halt(4242, "hook-secret").get_json() == {"duplicate": 1}
