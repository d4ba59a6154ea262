"""A local Telegram Bot API for tests: records every sendMessage on 127.0.0.1 and answers as the test sets
(ok, slowly, with an HTTP error and Telegram's error envelope, or a 429 with retry_after)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.fakes.http import send_json

TOKEN = "123456:TEST-token_abc"  # the bot token the fake accepts
PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")


class FakeBotApi:
    """``with FakeBotApi() as api:`` then point the notifier at ``api.base_url``; ``api.messages`` holds each
    sendMessage's JSON body (with ``api.calls`` counting every request, answered or not)."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.delay = 0.0  # seconds before answering
        self.status = 200  # the HTTP status to answer with
        self.retry_after: int | None = None  # with status 429: parameters.retry_after
        self.messages: list[dict[str, Any]] = []
        self.calls = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    fake.calls += 1
                if fake.delay:
                    time.sleep(fake.delay)
                m = PATH.match(self.path)
                if m is None or m["token"] != fake.token:
                    return self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                if m["method"] != "sendMessage":
                    return self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                if fake.status != 200:
                    said: dict[str, Any] = {"ok": False, "error_code": fake.status, "description": "failure"}
                    if fake.retry_after is not None:
                        said["parameters"] = {"retry_after": fake.retry_after}
                    return self._answer(fake.status, said)
                body = json.loads(raw)
                with fake.lock:
                    fake.messages.append(body)
                    n = len(fake.messages)
                self._answer(200, {"ok": True, "result": {"message_id": n, "chat": {"id": body["chat_id"]}}})

            def _answer(self, status: int, doc: dict[str, Any]) -> None:
                send_json(self, status, doc)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def texts(self, chat_id: int | None = None) -> list[str]:
        """The texts sent (to one chat)."""
        with self.lock:
            return [m["text"] for m in self.messages if chat_id is None or m["chat_id"] == chat_id]

    def __enter__(self) -> FakeBotApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
