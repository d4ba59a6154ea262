"""The log-only notifier (the embedded default, and the deployed one while Telegram is off): every
notification and every command's answer is an INFO line under the logger "tron.notify"."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("tron.notify")


class LogNotifier:
    """The Notifier port as log lines; it never raises."""

    def send(self, kind: str, text: str, data: dict[str, Any] | None = None) -> None:
        """Log the notification at INFO (``data`` as the record's structured data)."""
        log.info(f"{kind}: {text}", extra={"component": "notify", "data": {"kind": kind, **(data or {})}})

    def reply(self, chat_id: int, text: str) -> None:
        """Log the answer at INFO, with the chat it was for."""
        log.info(
            f"reply to chat {chat_id}: {text}", extra={"component": "notify", "data": {"chat_id": chat_id}}
        )
