"""tron.services.telegram and the services' notifications, on the embedded backend at virtual time with a
local fake Bot API (tests.support.fakes.telegram) behind the Telegram notifier bootstrap builds.

The webhook: a wrong or missing secret is a 403 with an audit line; a chat outside the allowlist is
refused and audited, nothing done; a malformed update is a 400 that does nothing; an update delivered twice
acts once; /squareoff needs its /confirm and squares off once however often that is delivered; /halt
engages the kill switch. The notifications: entries and exits are sent, a slow Bot API never holds up an
order, the notify kinds switch is honoured."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.day import ManualDay
from tests.support.days import TRADING_DAY, settings
from tests.support.fakes.telegram import TOKEN, FakeBotApi
from tests.support.logs import tron_records
from tron.domain.book import Book
from tron.domain.models import Asset
from tron.services.deps import Deps
from tron.services.kill_switch import kill_switch
from tron.services.paths import book_path, day_path
from tron.services.telegram import UNKNOWN_CHAT_STATUS, webhook

SECRET = "hook-s3cret-Value_1"
CHAT, STRANGER = 4242, 999
DAY = TRADING_DAY.isoformat()


@pytest.fixture
def api():
    with FakeBotApi() as api:
        yield api


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two secrets, as the functions get them mounted from Secret Manager (TRON_SECRET_<NAME>); the
    chat's rate limit lifted (tests/unit/adapters/test_telegram.py tests it), so every message is sent."""
    monkeypatch.setenv("TRON_SECRET_TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TRON_SECRET_TELEGRAM_WEBHOOK_SECRET", SECRET)
    monkeypatch.setattr("tron.adapters.telegram.PRIVATE_CHAT", (1000.0, 1000.0))


def start(tmp_path: Path, api: FakeBotApi, **telegram: Any) -> ManualDay:
    """The trading day planned at 09:00, Telegram on for CHAT against the fake Bot API."""
    conf = {"enabled": True, "chat_ids": [CHAT], "api_base": api.base_url, **telegram}
    return ManualDay.start(settings(tmp_path, symbols=10, telegram=conf), TRADING_DAY, tmp_path)


def update(update_id: int, text: str, chat: int = CHAT) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {"id": chat, "is_bot": False, "first_name": "Asha", "username": "asha"},
                "chat": {"id": chat, "type": "private"},
                "date": 1795412400,
                "text": text,
            },
        }
    ).encode()


def send(deps: Deps, update_id: int, text: str, chat: int = CHAT, secret: str | None = SECRET):
    return webhook(deps, update(update_id, text, chat), secret)


def until_open(d: ManualDay) -> dict[str, Any]:
    """Run the stocks' minutes until positions are open and their stops rest; the open positions."""
    for m in range(15, 60):
        d.minute(d.at(9, m), [Asset.STOCKS])
        held = Book.from_doc(d.deps.store.get(book_path(DAY, Asset.STOCKS))).positions
        if held:
            d.deliver()  # their stops come to rest
            return held
    raise AssertionError("no position opened by 10:00")


def next_minute(d: ManualDay) -> None:
    """Deliver what the bus holds a minute on (paper orders fill at the next minute's snapshot)."""
    d.deps.clock.set(d.deps.clock.now().replace(second=0) + timedelta(minutes=1))
    d.deliver()


def recorded(deps: Deps, what: str) -> list[tuple[str, dict[str, Any]]]:
    return deps.store.list(f"telegram/webhook/{what}")


# ---------------------------------------------------------------------------------------------- who may
@pytest.mark.parametrize("secret", ["wrong", "", None, SECRET[:-1], SECRET + " "])
def test_a_wrong_or_missing_secret_is_a_403_and_an_audit_line(tmp_path, api, env, secret) -> None:
    d = start(tmp_path, api)
    with tron_records() as logs:
        status, answer = send(d.deps, 1, "/halt news", secret=secret)
    assert (status, answer) == (403, {"error": "forbidden"})
    (line,) = logs.at("WARNING", "telegram webhook refused")
    assert "X-Telegram-Bot-Api-Secret-Token header (chat 4242)" in line
    assert all(SECRET not in r.getMessage() for r in logs.records)
    assert not kill_switch(d.deps.store).engaged and recorded(d.deps, "updates") == [] and api.texts() == []


def test_without_a_stored_webhook_secret_every_update_is_refused(tmp_path, api, env, monkeypatch) -> None:
    monkeypatch.delenv("TRON_SECRET_TELEGRAM_WEBHOOK_SECRET")
    d = start(tmp_path, api)
    with tron_records() as logs:
        assert send(d.deps, 1, "/halt news", secret="")[0] == 403
    assert logs.at("ERROR", "telegram-webhook-secret is not set") and not kill_switch(d.deps.store).engaged


def test_a_chat_not_allowed_is_refused_audited_and_nothing_is_done(tmp_path, api, env) -> None:
    d = start(tmp_path, api)
    with tron_records() as logs:
        status, answer = send(d.deps, 1, "/halt news", chat=STRANGER)
    assert status == UNKNOWN_CHAT_STATUS and answer == {"error": "chat not allowed"}
    assert logs.at("WARNING", "telegram webhook refused: chat not allowed (user asha) (chat 999)")
    assert not kill_switch(d.deps.store).engaged
    assert recorded(d.deps, "updates") == recorded(d.deps, "commands") == []
    assert api.texts() == []  # the stranger is not answered


def test_with_telegram_off_no_chat_is_obeyed(tmp_path, api, env) -> None:
    d = start(tmp_path, api, enabled=False)
    assert send(d.deps, 1, "/halt news")[1] == {"error": "chat not allowed"}
    assert not kill_switch(d.deps.store).engaged


# ---------------------------------------------------------------------------------------------- bad updates
def _deep(n: int) -> bytes:
    return b'{"update_id": 1, "message": ' + b"[" * n + b"]" * n + b"}"


def _message(**fields: Any) -> bytes:
    message = {"message_id": 1, "chat": {"id": CHAT}, "from": {"id": CHAT}, "text": "/halt", **fields}
    return json.dumps({"update_id": 7, "message": message}).encode()


BAD_UPDATES = {
    "truncated": update(1, "/halt news")[:-9],
    "empty": b"",
    "a list": b"[1, 2]",
    "null": b"null",
    "not utf-8": b'{"update_id": 1, "message": {"text": "\xff\xfe"}}',
    "deeply nested": _deep(30_000),  # under the 64 KB
    "oversized": update(1, "/halt " + "x" * 70_000),
    "no update_id": b'{"message": {"chat": {"id": 4242}, "text": "/halt"}}',
    "update_id a string": b'{"update_id": "1", "message": {"chat": {"id": 4242}, "text": "/halt"}}',
    "update_id negative": b'{"update_id": -1}',
    "update_id a float": b'{"update_id": 1.5}',
    "update_id huge": b'{"update_id": 1' + b"0" * 5000 + b"}",
    "message a list": b'{"update_id": 1, "message": []}',
    "no chat": json.dumps({"update_id": 7, "message": {"text": "/halt"}}).encode(),
    "chat id a string": _message(chat={"id": "4242"}),
    "chat id a bool": _message(chat={"id": True}),
    "from a string": _message(**{"from": "asha"}),
    "text a list": _message(text=["/halt"]),
    "text too long": _message(text="/halt " + "x" * 4096),
}


@pytest.mark.parametrize("case", sorted(BAD_UPDATES))
def test_a_malformed_update_is_a_400_that_does_nothing(tmp_path, api, env, case: str) -> None:
    d = start(tmp_path, api)
    with tron_records() as logs:
        status, answer = webhook(d.deps, BAD_UPDATES[case], SECRET)
    assert status == (413 if case == "oversized" else 400) and answer["error"]
    assert logs.at("WARNING", "telegram update refused")
    assert not kill_switch(d.deps.store).engaged
    assert recorded(d.deps, "updates") == [] and api.texts() == []


def test_an_update_that_is_not_a_message_is_acknowledged_and_ignored(tmp_path, api, env) -> None:
    d = start(tmp_path, api)
    edited = {"update_id": 3, "edited_message": json.loads(update(3, "/halt"))["message"]}
    assert webhook(d.deps, json.dumps(edited).encode(), SECRET) == (200, {"ignored": "not a message"})
    assert not kill_switch(d.deps.store).engaged


# ---------------------------------------------------------------------------------------------- exactly once
def test_an_update_delivered_twice_acts_once(tmp_path, api, env) -> None:
    d = start(tmp_path, api)
    with tron_records() as logs:
        first = send(d.deps, 10, "/halt news")
        again = send(d.deps, 10, "/halt news")  # Telegram retried: no 2xx seen in time
    assert first[0] == 200 and first[1]["command"] == "/halt"
    assert again == (200, {"duplicate": 10})
    assert len(logs.at("ERROR", "halt: kill switch engaged: news")) == 1
    assert len(recorded(d.deps, "commands")) == 1
    assert len([t for t in api.texts(CHAT) if t.startswith("kill switch ENGAGED")]) == 1


def test_squareoff_needs_its_confirm_and_squares_off_once(tmp_path, api, env) -> None:
    d = start(tmp_path, api)
    held = until_open(d)
    assert not d.bus.queue
    status, answer = send(d.deps, 20, "/squareoff all")
    code = re.search(r"/confirm (\d{6}) within 60 s", answer["reply"])
    assert status == 200 and code is not None and f"{len(held)} open position(s)" in answer["reply"]
    assert not d.bus.queue and not d.deps.store.get(day_path(DAY))["squaring"]  # nothing sent yet
    assert api.texts(CHAT)[-1] == answer["reply"]  # answered in the chat

    confirmed = send(d.deps, 21, f"/confirm {code[1]}")
    assert confirmed[1]["reply"].startswith(f"square-off all sent: exits per asset: stocks {len(held)}")
    exits = [json.loads(m.data)["intent_id"] for m in d.bus.queue]
    assert len(exits) == len(held) and all("-squareoff-" in i for i in exits)
    assert send(d.deps, 21, f"/confirm {code[1]}") == (200, {"duplicate": 21})  # delivered again
    assert send(d.deps, 22, f"/confirm {code[1]}")[1]["reply"].startswith("nothing to confirm")  # sent twice
    assert len(d.bus.queue) == len(held)  # no second exit
    assert d.deps.store.get(day_path(DAY))["squaring"] == ["futures", "options", "stocks"]
    next_minute(d)
    assert Book.from_doc(d.deps.store.get(book_path(DAY, Asset.STOCKS))).positions == {}
    assert len([t for t in api.texts(CHAT) if t.startswith("exit stocks")]) == len(held)


def test_an_expired_or_wrong_code_does_nothing(tmp_path, api, env) -> None:
    d = start(tmp_path, api)
    until_open(d)
    code = re.search(r"/confirm (\d{6})", send(d.deps, 30, "/squareoff stocks")[1]["reply"])
    assert code is not None
    wrong = f"{(int(code[1]) + 1) % 10**6:06d}"
    assert send(d.deps, 31, f"/confirm {wrong}")[1]["reply"] == "wrong code: nothing done"
    assert send(d.deps, 32, "/confirm")[1]["reply"] == "wrong code: nothing done"
    d.deps.clock.set(d.deps.clock.now() + timedelta(seconds=61))  # the code was good for 60 s
    assert send(d.deps, 33, f"/confirm {code[1]}")[1]["reply"].startswith("the code expired")
    assert send(d.deps, 34, f"/confirm {code[1]}")[1]["reply"].startswith("nothing to confirm")
    assert not d.bus.queue and not d.deps.store.get(day_path(DAY))["squaring"]
    assert send(d.deps, 35, "/squareoff crypto")[1]["reply"].startswith("usage: /squareoff")


# ---------------------------------------------------------------------------------------------- commands
def test_halt_engages_the_kill_switch_and_resume_releases_it(tmp_path, api, env) -> None:
    d = start(tmp_path, api)
    held = until_open(d)
    answer = send(d.deps, 40, "/halt results at noon")[1]["reply"]
    ks = kill_switch(d.deps.store)
    assert ks.engaged and ks.reason == "results at noon" and ks.by == "telegram asha (4242)"
    assert not ks.flatten and answer.startswith("kill switch ENGAGED: results at noon")
    assert "kill switch engaged: results at noon (by telegram asha (4242))" in "\n".join(api.texts(CHAT))
    ticked = d.minute(d.at(10, 0), [Asset.STOCKS])[Asset.STOCKS]
    assert held and ticked.status == "ran" and not [i for i in ticked.intents if "-entry-" in i]
    assert "ENGAGED by telegram asha" in send(d.deps, 41, "/status")[1]["reply"]
    assert send(d.deps, 42, "/resume")[1]["reply"].startswith("kill switch released")
    assert not kill_switch(d.deps.store).engaged
    assert send(d.deps, 43, "/resume")[1]["reply"] == "the kill switch is not engaged: nothing to release"


def test_the_read_commands_answer_from_the_state_store(tmp_path, api, env) -> None:
    d = start(tmp_path, api)
    held = until_open(d)
    status = send(d.deps, 50, "/status")[1]["reply"]
    assert "day: armed, mode paper" in status and "kill switch: released" in status
    assert re.search(r"last tick: stocks 09:\d\d, futures -, options -", status)
    positions = send(d.deps, 51, "/positions@TronBot")[1]["reply"]
    assert all(f"stocks: {s} " in positions for s in held) and "MTM ₹" in positions.replace("-₹", "₹")
    assert "total: net" in send(d.deps, 52, "/pnl")[1]["reply"]
    orders = send(d.deps, 53, "/orders")[1]["reply"]
    assert "order intents:" in orders and "filled" in orders
    assert send(d.deps, 54, "/report")[1]["reply"].startswith(f"no report for {DAY} yet")
    assert send(d.deps, 55, "hello")[1]["reply"].startswith("TRON commands:")
    assert send(d.deps, 56, "/nonsense")[1]["reply"].startswith("TRON commands:")


def test_every_command_is_recorded_with_who_sent_it(tmp_path, api, env) -> None:
    d = start(tmp_path, api)
    send(d.deps, 60, "/halt news")
    ((uid, doc),) = recorded(d.deps, "commands")
    assert uid == "60" and doc["chat_id"] == CHAT and doc["user"] == "asha" and doc["user_id"] == CHAT
    assert doc["text"] == "/halt news" and doc["command"] == "/halt"
    assert doc["result"].startswith("kill switch ENGAGED")


# ---------------------------------------------------------------------------------------------- notifications
def test_entries_and_exits_are_notified_with_price_reason_and_pnl(tmp_path, api, env) -> None:
    d = start(tmp_path, api)
    held = until_open(d)
    entries = [t for t in api.texts(CHAT) if t.startswith("entry stocks")]
    assert entries and re.match(r"entry stocks: (BUY|SELL) \d+ \w+ @ [\d.]+ \(.+\)", entries[0])
    send(d.deps, 70, "/squareoff stocks")
    code = re.search(r"/confirm (\d{6})", api.texts(CHAT)[-1])
    assert code is not None
    send(d.deps, 71, f"/confirm {code[1]}")
    next_minute(d)
    exits = [t for t in api.texts(CHAT) if t.startswith("exit stocks")]
    assert len(exits) == len(held) and {t.split()[4] for t in exits} == set(held)
    assert all("(square-off from Telegram by telegram asha (4242))" in t for t in exits)
    assert all(re.search(r", P&L -?₹[\d,]+\.\d\d before charges$", t) for t in exits)


def test_a_slow_bot_api_does_not_hold_up_an_order(tmp_path, api, env) -> None:
    """The Bot API answers after the timeout: each fill is booked at once, one WARNING says the notification
    was dropped, and the others are not even tried while the notifier stays quiet."""
    d = start(tmp_path, api, timeout_s=0.3)
    api.delay = 3.0
    for m in range(15, 60):
        d.deps.clock.set(d.at(9, m))
        started = time.monotonic()
        with tron_records() as logs:
            d.deliver()
        took = time.monotonic() - started
        if any(o == "filled" for o in d.outcomes):
            break
        d.minute(d.at(9, m), [Asset.STOCKS])
    assert "filled" in d.outcomes, "no order filled by 10:00"
    assert took < 1.5, f"the executor waited {took:.1f} s on Telegram"
    assert logs.at("WARNING", "not sent: TimeoutError")
    assert Book.from_doc(d.deps.store.get(book_path(DAY, Asset.STOCKS))).positions


def test_the_notify_kinds_switch_is_honoured(tmp_path, api, env) -> None:
    d = start(tmp_path, api, notify=["halts"])
    until_open(d)
    assert not [t for t in api.texts() if t.startswith("entry")]  # entries switched off
    send(d.deps, 80, "/halt news")
    texts = api.texts(CHAT)
    assert any(t.startswith("kill switch engaged: news") for t in texts)  # halts on
    assert any(t.startswith("kill switch ENGAGED: news") for t in texts)  # answers are never switched off
