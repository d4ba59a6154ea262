"""Telegram: notifications and command answers as Bot API ``sendMessage`` calls (the Notifier port).

One small module on the standard library rather than a client framework. aiogram and python-telegram-bot
are asynchronous frameworks for a long-running bot (an event loop, long polling or a webhook server of
their own, update dispatch, persistence); TRON's bot is a serverless webhook (tron.services.telegram) that
handles one update per request, and every message it sends is one HTTPS POST. urllib does that with a
timeout, no dependency and nothing to import at a function's cold start.

What keeps an order path safe: a send never raises and waits at most ``timeout_s`` (the order is already
booked when the services notify); a failed or slow send is logged at WARNING and dropped, and the
notifier then stays quiet for ``cooloff_s`` (or the ``retry_after`` of a 429), so a Telegram outage costs
one timeout, not one per fill. Telegram allows about one message a second per chat and 20 a minute per
group: a token bucket per chat keeps under that, dropping (with a WARNING) what does not fit, and the next
message sent says how many were dropped. The bot token is read through the Secrets port on each send (Secret
Manager caches it) and never logged: errors are cleaned of it."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from tron.ports import Secrets

log = logging.getLogger("tron.notify")
BOT_TOKEN_SECRET = "telegram-bot-token"
TELEGRAM_API = "https://api.telegram.org"
MAX_TEXT = 4096  # Telegram's limit for one message's text
MAX_ANSWER = 64 * 1024  # the most of the Bot API's answer that is read
PRIVATE_CHAT = (1.0, 3.0)  # tokens a second, bucket size: ~1 message/s per chat, a burst of 3
GROUP_CHAT = (17 / 60, 3.0)  # groups (negative chat ids): at most 20 in any minute (3 + 17)


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` a second on ``monotonic``'s clock; :meth:`take` spends one."""

    def __init__(self, rate: float, capacity: float, monotonic: Callable[[], float]) -> None:
        self.rate, self.capacity, self.monotonic = rate, capacity, monotonic
        self.tokens = capacity
        self.at = monotonic()

    def take(self) -> bool:
        """True (and one token spent) if a token is there now, else False; never waits."""
        now = self.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class TelegramNotifier:
    """The Notifier port on the Telegram Bot API: ``send`` posts the kinds in ``kinds`` to every chat of
    ``chat_ids``; ``reply`` answers one chat. Neither raises; each waits at most ``timeout_s`` a chat."""

    def __init__(
        self,
        secrets: Secrets,
        chat_ids: Iterable[int],
        kinds: Iterable[str],
        api_base: str = TELEGRAM_API,
        timeout_s: float = 2.0,
        cooloff_s: float = 30.0,
        reply_wait_s: float = 3.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.secrets = secrets
        self.chat_ids = list(chat_ids)
        self.kinds = frozenset(kinds)
        self.api_base = api_base.rstrip("/")
        self.timeout_s = timeout_s
        self.cooloff_s = cooloff_s
        self.reply_wait_s = reply_wait_s
        self.monotonic = monotonic
        self.sleep = sleep
        self.sent = 0  # messages Telegram accepted
        self.dropped = 0  # messages dropped (rate limit, quiet period, failure), in all
        self._buckets: dict[int, TokenBucket] = {}
        self._unsaid = 0  # dropped since the last message sent (the next one says so)
        self._quiet_until = float("-inf")
        self._lock = threading.Lock()

    def send(self, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        """Post ``text`` to every allowed chat if ``kind`` is switched on (``data`` is for logs only)."""
        if kind not in self.kinds:
            return
        for chat in self.chat_ids:
            self._post(chat, text, kind)

    def reply(self, chat_id: int, text: str) -> None:
        """Answer the chat a command came from (off every order path: it waits up to ``reply_wait_s`` for
        the chat's rate limit rather than drop the answer)."""
        self._post(chat_id, text, "reply", self.reply_wait_s)

    # ---------------------------------------------------------------------------------------------- sending
    def _admit(self, chat_id: int, what: str, wait_s: float = 0.0) -> str | None:
        """The prefix to send with (how many were dropped before), or None when this one is dropped. With
        ``wait_s``, a message the rate limit holds back waits that long at most for its turn (never while
        holding the lock other senders need)."""
        why = self._turn(chat_id)
        if why == "rate limit" and wait_s:
            bucket = self._bucket(chat_id)
            needed = (1 - bucket.tokens) / bucket.rate
            if needed <= wait_s:
                self.sleep(needed)
                why = self._turn(chat_id)
        with self._lock:
            if why is None:
                unsaid, self._unsaid = self._unsaid, 0
                return f"({unsaid} earlier notification(s) dropped: see the logs)\n" if unsaid else ""
            self._unsaid += 1
            self.dropped += 1
        log.warning(f"telegram {what} to chat {chat_id} dropped ({why})", extra=_extra(what, chat_id))
        return None

    def _turn(self, chat_id: int) -> str | None:
        """None if a message may go to the chat now (its token taken), else why not."""
        with self._lock:
            now = self.monotonic()
            if now < self._quiet_until:
                return f"quiet for {self._quiet_until - now:.0f} s more after a failed send"
            return None if self._bucket(chat_id).take() else "rate limit"

    def _bucket(self, chat_id: int) -> TokenBucket:
        if chat_id not in self._buckets:
            rate, size = GROUP_CHAT if chat_id < 0 else PRIVATE_CHAT
            self._buckets[chat_id] = TokenBucket(rate, size, self.monotonic)
        return self._buckets[chat_id]

    def _post(self, chat_id: int, text: str, what: str, wait_s: float = 0.0) -> bool:
        """One sendMessage; True if Telegram accepted it. Every failure is a WARNING, never an exception."""
        prefix = self._admit(chat_id, what, wait_s)
        if prefix is None:
            return False
        token = ""
        try:
            token = self.secrets.get(BOT_TOKEN_SECRET) or ""
            if not token:
                return self._failed(chat_id, what, f"no bot token (the secret {BOT_TOKEN_SECRET})", quiet=0)
            message = (prefix + text)[:MAX_TEXT]
            body = json.dumps({"chat_id": chat_id, "text": message, "disable_web_page_preview": True})
            request = urllib.request.Request(
                f"{self.api_base}/bot{token}/sendMessage",
                data=body.encode("utf-8"),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                ok = json.loads(answer.read(MAX_ANSWER) or b"{}").get("ok") is True
            if not ok:
                return self._failed(chat_id, what, "the Bot API did not answer ok", quiet=self.cooloff_s)
            with self._lock:
                self.sent += 1
            return True
        except urllib.error.HTTPError as e:
            said = _error_answer(e)
            retry = said.get("parameters", {}).get("retry_after") if isinstance(said, dict) else None
            why = f"HTTP {e.code}: {str(said.get('description', e.reason))[:200]}"
            if e.code == 429:
                quiet = float(retry) if isinstance(retry, (int, float)) else self.cooloff_s
            else:  # 400/403: this chat (not found, the bot blocked); 401, 5xx: every send would fail
                quiet = 0.0 if e.code in (400, 403) else self.cooloff_s
            return self._failed(chat_id, what, _clean(why, token), quiet)
        except Exception as e:  # a timeout, a refused connection, a bad answer: dropped, never raised
            return self._failed(chat_id, what, _clean(f"{type(e).__name__}: {e}", token), self.cooloff_s)

    def _failed(self, chat_id: int, what: str, why: str, quiet: float) -> bool:
        with self._lock:
            self.dropped += 1
            self._unsaid += 1
            if quiet:
                self._quiet_until = max(self._quiet_until, self.monotonic() + quiet)
        after = f"; quiet for {quiet:.0f} s" if quiet else ""
        log.warning(f"telegram {what} to chat {chat_id} not sent: {why}{after}", extra=_extra(what, chat_id))
        return False


def _error_answer(e: urllib.error.HTTPError) -> dict[str, Any]:
    """The Bot API's JSON answer to a refused call ({"ok": false, "description", "parameters"}), or {}."""
    try:
        said = json.loads(e.read(MAX_ANSWER) or b"{}")
    except Exception:
        return {}
    return said if isinstance(said, dict) else {}


def _clean(text: str, token: str) -> str:
    """``text`` without the bot token (an error may quote the URL, which holds it)."""
    return text.replace(token, "<token>") if token else text


def _extra(what: str, chat_id: int) -> dict[str, Any]:
    return {"component": "notify", "data": {"kind": what, "chat_id": chat_id}}
