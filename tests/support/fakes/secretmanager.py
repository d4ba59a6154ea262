"""A tiny in-memory Secret Manager speaking the REST routes the real client uses with transport="rest":

- GET  /v1/projects/P/secrets/S/versions/V:access   (V a number or "latest") → SecretVersion payload, base64
- POST /v1/projects/P/secrets/S:addVersion           {"payload": {"data": base64}} → the new SecretVersion
- POST /v1/projects/P/secrets?secretId=S             → the Secret (409 ALREADY_EXISTS if it is there)

Unknown secrets answer 404 with Google's JSON error body, which the client raises as NotFound. `requests`
counts every HTTP call so tests can check caching. Use it as a context manager; it serves from a thread."""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.fakes.http import send_json

_ACCESS = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+)/versions/([^/:]+):access$")
_ADD = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/:]+):addVersion$")
_CREATE = re.compile(r"^/v1/projects/([^/]+)/secrets$")

_STATUS = {404: "NOT_FOUND", 409: "ALREADY_EXISTS", 400: "INVALID_ARGUMENT"}


class FakeSecretManager:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], list[bytes]] = {}  # (project, secret) → versions, oldest first
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeSecretManager:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def handle(self, method: str, raw_path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        path = parts.path
        with self._lock:
            self.requests.append((method, path))
            if method == "GET" and (m := _ACCESS.match(path)):
                project, secret, version = m.groups()
                versions = self.secrets.get((project, secret))
                if not versions:
                    return _error(
                        404, f"Secret [projects/{project}/secrets/{secret}] not found or has no versions."
                    )
                n = len(versions) if version == "latest" else int(version)
                if not 1 <= n <= len(versions):
                    return _error(404, f"Secret Version [{path}] not found.")
                data = base64.b64encode(versions[n - 1]).decode()
                name = f"projects/{project}/secrets/{secret}/versions/{n}"
                return 200, {"name": name, "payload": {"data": data}}
            if method == "POST" and (m := _ADD.match(path)):
                project, secret = m.groups()
                if (project, secret) not in self.secrets:
                    return _error(404, f"Secret [projects/{project}/secrets/{secret}] not found.")
                data = base64.b64decode(body.get("payload", {}).get("data", ""))
                self.secrets[(project, secret)].append(data)
                n = len(self.secrets[(project, secret)])
                return 200, {"name": f"projects/{project}/secrets/{secret}/versions/{n}", "state": "ENABLED"}
            if method == "POST" and (m := _CREATE.match(path)):
                (project,) = m.groups()
                secret_id = parse_qs(parts.query).get("secretId", [""])[0]
                if not secret_id:
                    return _error(400, "secretId is required")
                if (project, secret_id) in self.secrets:
                    return _error(409, f"Secret [projects/{project}/secrets/{secret_id}] already exists.")
                self.secrets[(project, secret_id)] = []
                return 200, {"name": f"projects/{project}/secrets/{secret_id}", **body}
            return _error(404, f"no route for {method} {path}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                status, out = fake.handle(method, self.path, body)
                send_json(self, status, out)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _error(code: int, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}}
