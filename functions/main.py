"""Cloud Functions entry points: decode the request or CloudEvent, call one service, encode the answer.

No trading logic lives here. Services and their dependencies are imported on first use, per function, so
each function pays only for the libraries it needs at cold start."""

from __future__ import annotations

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


def _refused(request: Any) -> Any:
    """None for a body these functions accept (nothing, or a JSON object: what Cloud Scheduler sends),
    else the 4xx answer; nothing has run yet."""
    from tron.services.messages import BadRequest, json_object

    try:
        json_object(request.get_data())
    except BadRequest as e:
        return _reply({"error": str(e)}, e.status)
    return None


@functions_framework.http
def plan_day(request: Any) -> Any:
    from tron.services.plan_day import plan_day as service

    return _refused(request) or _reply(service(_get_deps()))


def _tick(request: Any, asset: str) -> Any:
    from dataclasses import asdict

    from tron.domain.models import Asset
    from tron.services.tick import tick

    return _refused(request) or _reply(asdict(tick(_get_deps(), Asset(asset))))


@functions_framework.http
def tick_stocks(request: Any) -> Any:
    return _tick(request, "stocks")


@functions_framework.http
def tick_futures(request: Any) -> Any:
    return _tick(request, "futures")


@functions_framework.http
def tick_options(request: Any) -> Any:
    return _tick(request, "options")


@functions_framework.http
def execute_order(request: Any) -> Any:
    """A Pub/Sub push (the JSON envelope). 200 acknowledges it, including a malformed message, which is
    recorded and never delivered again; 503 makes Pub/Sub deliver it again (busy, broker unavailable)."""
    from tron.services.execute_order import execute_push

    status, answer = execute_push(_get_deps(), request.get_data())
    return _reply(answer, status)


@functions_framework.http
def square_off(request: Any) -> Any:
    """`gcloud functions call square-off --data '{"asset":"all"}'`: anything but a JSON object naming an
    asset is a 400 that changes nothing."""
    from tron.services.square_off import square_off_request

    status, answer = square_off_request(_get_deps(), request.get_data())
    return _reply(answer, status)


@functions_framework.http
def kill_switch(request: Any) -> Any:
    """`gcloud functions call kill-switch --data '{"action":"engage","reason":"..."}'`: engaged, every open
    position is exited at once (not at the next tick); release and status too. Anything else is a 400."""
    from tron.services.kill_switch import kill_switch_request

    status, answer = kill_switch_request(_get_deps(), request.get_data())
    return _reply(answer, status)


@functions_framework.http
def end_of_day(request: Any) -> Any:
    from tron.services.end_of_day import end_of_day as service

    return _refused(request) or _reply(service(_get_deps()))


@functions_framework.http
def kite_login(request: Any) -> Any:
    """The Kite app's redirect URL: ?request_token=… (or a JSON body's) → the day's access token, stored as
    a new secret version. 400 when the token is missing or refused; the answer never holds a token."""
    from tron.services.kite_login import login
    from tron.services.messages import BadRequest, json_object

    try:
        body = json_object(request.get_data())
    except BadRequest as e:
        return _reply({"error": str(e)}, e.status)
    status, answer = login(_get_deps(), request.args.get("request_token") or body.get("request_token"))
    return _reply(answer, status)


@functions_framework.http
def telegram_webhook(request: Any) -> Any:
    """Telegram's webhook (`setWebhook` with a secret_token): the one function reachable from the internet.
    A wrong or missing X-Telegram-Bot-Api-Secret-Token header is a 403; a chat outside telegram.chat_ids is
    refused; a malformed update is a 400 that does nothing; an update delivered twice acts once."""
    from tron.services.telegram import SECRET_HEADER, webhook

    status, answer = webhook(_get_deps(), request.get_data(), request.headers.get(SECRET_HEADER))
    return _reply(answer, status)


@functions_framework.http
def positions_page(request: Any) -> Any:
    """The live positions page (HTML, reloading itself every 5 s) of today, or of ?date=YYYY-MM-DD:
    IAM-protected, an operator opens it through `gcloud run services proxy positions-page`. Read-only: GET
    (and HEAD) at /; another path is a 404, another method a 405, a malformed or oversized query a 400."""
    from tron.services.positions_page import respond

    deps = _get_deps()
    status, headers, body = respond(
        deps.store,
        deps.clock.now(),
        request.method,
        request.path,
        request.args.to_dict(flat=False),
        len(request.query_string),
    )
    return body, status, headers
