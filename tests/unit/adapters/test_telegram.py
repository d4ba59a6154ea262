"""tron.adapters.telegram against a local fake Bot API: sendMessage to every allowed chat, the kinds switch,
a slow or failing API dropped with a WARNING within the timeout (never raised), the token never logged, the
per-chat rate limit; and the telegram configuration (bootstrap's choice of notifier, the keys refused)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.days import settings
from tests.support.fakes.telegram import TOKEN, FakeBotApi
from tests.support.logs import tron_records
from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.log_notifier import LogNotifier
from tron.adapters.telegram import TelegramNotifier
from tron.bootstrap import notifier
from tron.config.settings import ConfigError
from tron.ports import NOTIFICATION_KINDS

CHAT, GROUP = 4242, -1001234
SECRETS = EnvSecrets({"TRON_SECRET_TELEGRAM_BOT_TOKEN": TOKEN})


class Clock:
    """A monotonic clock the test moves; sleeping moves it too."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


@pytest.fixture
def api():
    with FakeBotApi() as api:
        yield api


def telegram(api: FakeBotApi, chats=(CHAT,), kinds=NOTIFICATION_KINDS, **kw) -> TelegramNotifier:
    return TelegramNotifier(SECRETS, chats, kinds, api.base_url, **kw)


def test_a_notification_goes_to_every_allowed_chat(api) -> None:
    telegram(api, chats=(CHAT, GROUP)).send("entries", "entry stocks: BUY 10 INFY @ 1523.40")
    assert api.texts(CHAT) == api.texts(GROUP) == ["entry stocks: BUY 10 INFY @ 1523.40"]
    assert api.messages[0]["disable_web_page_preview"] is True


def test_only_the_kinds_switched_on_are_sent_and_answers_always_are(api) -> None:
    t = telegram(api, kinds=["halts"])
    t.send("entries", "an entry")
    t.send("halts", "a halt")
    t.reply(CHAT, "an answer")
    assert api.texts() == ["a halt", "an answer"]


def test_a_long_text_is_cut_to_telegrams_limit(api) -> None:
    telegram(api).send("exits", "x" * 5000)
    assert len(api.texts()[0]) == 4096


def test_a_slow_api_is_dropped_with_a_warning_within_the_timeout_and_then_left_alone(api) -> None:
    """A Bot API answering after the timeout costs one timeout: then the notifier stays quiet."""
    api.delay = 2.0
    t = telegram(api, timeout_s=0.2)
    with tron_records() as logs:
        started = time.monotonic()
        t.send("entries", "one")  # never raises
        first = time.monotonic() - started
        t.send("entries", "two")  # quiet after a failure: not even tried
        both = time.monotonic() - started
    assert first < 1.0 and both < 1.0
    assert logs.at("WARNING", "telegram entries to chat 4242 not sent: TimeoutError")
    assert logs.at("WARNING", "dropped (quiet for 30 s more after a failed send)")
    assert api.calls == 1 and t.dropped == 2


def test_a_refused_send_is_a_warning_never_an_exception_and_never_shows_the_token(api) -> None:
    api.status = 500
    with tron_records() as logs:
        telegram(api).send("halts", "halt: loss limit")
    warned = logs.at("WARNING", "not sent: HTTP 500")
    assert warned and all(TOKEN not in r.getMessage() for r in logs.records)


def test_a_429_keeps_the_notifier_quiet_for_telegrams_retry_after(api) -> None:
    api.status, api.retry_after = 429, 5
    clock = Clock()
    t = telegram(api, monotonic=clock, sleep=clock.sleep)
    t.send("halts", "one")
    api.status = 200
    clock.t += 4
    t.send("halts", "two")  # still quiet
    clock.t += 2
    t.send("halts", "three")
    assert api.calls == 2 and api.texts() == ["(2 earlier notification(s) dropped: see the logs)\nthree"]


def test_an_unreachable_api_or_no_token_is_a_warning(api) -> None:
    closed = FakeBotApi()
    url = closed.base_url
    closed.server.server_close()  # nobody listens there
    with tron_records() as logs:
        TelegramNotifier(SECRETS, [CHAT], NOTIFICATION_KINDS, url, timeout_s=0.5).send("halts", "x")
        TelegramNotifier(EnvSecrets({}), [CHAT], NOTIFICATION_KINDS, api.base_url).send("halts", "x")
    assert logs.at("WARNING", "not sent: URLError")
    assert logs.at("WARNING", "not sent: no bot token (the secret telegram-bot-token)")
    assert api.calls == 0


def test_notifications_are_rate_limited_per_chat(api) -> None:
    """About one message a second per chat after a burst of three, 20 a minute per group; what does not fit
    is dropped with a WARNING and the next message sent says how many were."""
    clock = Clock()
    t = telegram(api, chats=(CHAT, GROUP), monotonic=clock, sleep=clock.sleep)
    with tron_records() as logs:
        for i in range(10):
            t.send("entries", f"entry {i}")
    assert api.texts(CHAT) == ["entry 0", "entry 1", "entry 2"] and len(api.texts(GROUP)) == 3
    assert len(logs.at("WARNING", "dropped (rate limit)")) == 14
    clock.t += 1
    t.send("exits", "exit")
    assert api.texts(CHAT)[-1] == "(14 earlier notification(s) dropped: see the logs)\nexit"
    assert len(api.texts(GROUP)) == 3  # a group earns a message every 3.5 s
    clock.t += 60
    for i in range(30):
        t.send("entries", f"again {i}")
    assert len(api.texts(GROUP)) == 6  # the burst again, never more than Telegram's 20 a minute


def test_an_answer_waits_its_turn_rather_than_being_dropped(api) -> None:
    clock = Clock()
    t = telegram(api, monotonic=clock, sleep=clock.sleep)
    for i in range(3):
        t.send("entries", f"entry {i}")
    t.reply(CHAT, "the answer")
    assert api.texts()[-1] == "the answer" and clock.t == pytest.approx(1001.0)


# ---------------------------------------------------------------------------------------------- configuration
def test_bootstrap_sends_to_telegram_only_when_enabled(tmp_path: Path, api) -> None:
    off = settings(tmp_path)
    assert isinstance(notifier(off, SECRETS), LogNotifier)
    on = settings(tmp_path, telegram={"enabled": True, "chat_ids": [CHAT], "api_base": api.base_url})
    t = notifier(on, SECRETS)
    assert isinstance(t, TelegramNotifier) and t.chat_ids == [CHAT]
    assert t.kinds == set(NOTIFICATION_KINDS)  # every kind by default
    t.send("day_summary", "2026-11-23 closed")
    assert api.texts() == ["2026-11-23 closed"]


def test_the_log_notifier_logs_at_info_under_tron_notify() -> None:
    with tron_records() as logs:
        LogNotifier().send("exits", "exit stocks: SELL 10 INFY @ 1530")
    (rec,) = [r for r in logs.records if r.name == "tron.notify"]
    assert rec.levelname == "INFO" and rec.getMessage() == "exits: exit stocks: SELL 10 INFY @ 1530"


@pytest.mark.parametrize(
    ("telegram", "says"),
    [
        ({"enabled": True}, "telegram.enabled needs chat_ids"),
        ({"notify": ["entries", "gossip"]}, "'gossip': not a kind"),
        ({"api_base": "http://bots.example.com"}, "must be https://api.telegram.org or a loopback URL"),
        ({"chat_ids": [0]}, "a chat id is never 0"),
        ({"timeout_s": 60}, "telegram.timeout_s"),
        ({"token": "x"}, "telegram.token"),
    ],
)
def test_a_bad_telegram_key_stops_start_up_naming_it(tmp_path: Path, telegram: dict, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        settings(tmp_path, telegram=telegram)
