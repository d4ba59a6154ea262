"""Cloud Functions entry points: decode the request or CloudEvent, call one service, encode the answer.

No trading logic lives here. Services and their dependencies are imported on first use, per function, so
each function pays only for the libraries it needs at cold start."""

from __future__ import annotations

import base64
import json
from typing import Any

import functions_framework

_deps: Any = None


def _get_deps() -> Any:
    global _deps
    if _deps is None:
        from tron.bootstrap import from_environment

        _deps = from_environment()
    return _deps


def _reply(body: Any, status: int = 200) -> tuple[str, int, dict[str, str]]:
    return json.dumps(body, default=str), status, {"Content-Type": "application/json"}


@functions_framework.http
def plan_day(request: Any) -> Any:
    from tron.services.plan_day import plan_day as service

    return _reply(service(_get_deps()))


def _tick(asset: str) -> Any:
    from dataclasses import asdict

    from tron.domain.models import Asset
    from tron.services.tick import tick

    return _reply(asdict(tick(_get_deps(), Asset(asset))))


@functions_framework.http
def tick_stocks(request: Any) -> Any:
    return _tick("stocks")


@functions_framework.http
def tick_futures(request: Any) -> Any:
    return _tick("futures")


@functions_framework.http
def tick_options(request: Any) -> Any:
    return _tick("options")


@functions_framework.cloud_event
def execute_order(event: Any) -> None:
    """A Pub/Sub push delivery. Raising makes Pub/Sub deliver again (Busy, broker unavailable)."""
    from tron.services.execute_order import execute_order as service

    message = (event.data or {}).get("message", {})
    try:
        data = base64.b64decode(message.get("data", ""), validate=True)
    except ValueError:
        data = str(message.get("data", "")).encode()
    service(_get_deps(), data, message.get("attributes") or {})


@functions_framework.http
def square_off(request: Any) -> Any:
    """`gcloud functions call square-off --data '{"asset":"all"}'`."""
    from tron.services.square_off import square_off as service

    body = request.get_json(silent=True) or {}
    try:
        return _reply(service(_get_deps(), str(body.get("asset", "all")), reason="manual square-off"))
    except ValueError as e:
        return _reply({"error": str(e)}, 400)


@functions_framework.http
def end_of_day(request: Any) -> Any:
    from tron.services.end_of_day import end_of_day as service

    return _reply(service(_get_deps()))


@functions_framework.http
def kite_login(request: Any) -> Any:
    """The Kite app's redirect URL: ?request_token=… (or a JSON body's) → the day's access token, stored as
    a new secret version. 400 when the token is missing or refused; the answer never holds a token."""
    from tron.bootstrap import kite_login_answer

    body = request.get_json(silent=True)
    given = request.args.get("request_token") or (
        body.get("request_token") if isinstance(body, dict) else None
    )
    status, answer = kite_login_answer(_get_deps(), given)
    return _reply(answer, status)
