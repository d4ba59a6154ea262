"""The Telegram webhook: commands from the operators' phones (:func:`webhook`).

Telegram POSTs each Update (JSON) to the telegram_webhook function, with the secret token given to
``setWebhook`` in the ``X-Telegram-Bot-Api-Secret-Token`` header. In order, nothing acting before its
checks pass:

1. the header is compared in constant time with the secret ``telegram-webhook-secret``: a wrong or missing
   one (or no secret stored) is a 403 and a WARNING audit line (the chat id if the body names one, the
   reason, never the secret);
2. the body must be a JSON Update of at most 64 KB: anything else (truncated, not an object, nested too
   deeply, oversized, fields of the wrong type) is a 400 (413 when oversized) that does nothing;
3. the chat must be one of ``telegram.chat_ids``: another chat is refused with a WARNING audit line and
   nothing is done or answered (:data:`UNKNOWN_CHAT_STATUS`);
4. the update id is recorded, create-if-absent, under ``telegram/webhook/updates/{update_id}`` before
   anything acts: Telegram delivers an update again when it got no 2xx in time, and a second delivery is
   answered 200 and does nothing (a square-off is never sent twice);
5. the command runs, is recorded with who sent it under ``telegram/webhook/commands/{update_id}`` (chat,
   user, text, result), and is answered in the chat through the notifier (Bot API ``sendMessage``).

Commands: /status, /positions, /pnl, /orders, /halt [reason], /resume, /squareoff stocks|futures|options|all
(answered with a code; ``/confirm CODE`` within 60 s acts, once), /report, /help.

Why no bot framework: aiogram and python-telegram-bot are asynchronous frameworks for long-running bots
(their own event loop, polling or webhook server, dispatcher and persistence). A serverless webhook gets one
update per HTTP request and answers with one HTTPS call, so a small hand-written module (this one, and
tron.adapters.telegram for the calls) does the whole job with no dependency and no cold-start cost."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tron.domain.book import Book
from tron.domain.models import Asset
from tron.services.deps import Deps
from tron.services.kill_switch import engage_now, kill_switch, release
from tron.services.messages import BadRequest, json_object
from tron.services.notify import rupees
from tron.services.paths import (
    book_path,
    commands_path,
    confirm_path,
    day_path,
    intents_path,
    state_path,
    updates_path,
)
from tron.services.square_off import parse_assets, square_off
from tron.services.tick_state import last_prices

log = logging.getLogger("tron.telegram")
WEBHOOK_SECRET = "telegram-webhook-secret"  # the secret_token given to setWebhook
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 64 * 1024  # a message's text is at most 4,096 characters: an Update is a few KB
MAX_TEXT = 4096
CONFIRM_WITHIN = timedelta(seconds=60)
# An update from a chat not allowed, with the right secret, comes from Telegram itself (a stranger wrote to
# the bot): answered 200 and ignored, since Telegram delivers an update again after any other status and the
# operators' own updates could queue behind it. The stranger sees nothing either way.
UNKNOWN_CHAT_STATUS = 200
FORBIDDEN = {"error": "forbidden"}

HELP = """TRON commands:
/status: the day, halts, the kill switch, the last tick of each asset
/positions: open positions per asset, with their MTM
/pnl: the day's P&L per asset
/orders: today's orders and their states
/halt [reason]: engage the kill switch (no new entries; positions keep their stops)
/resume: release the kill switch
/squareoff stocks|futures|options|all: close positions now (asks for /confirm)
/confirm CODE: confirm a square-off within 60 s
/report: the day's report"""


@dataclass(frozen=True)
class Update:
    """The parts of a Telegram Update TRON reads: a message's chat, sender and text (``chat_id`` None: an
    update that is not a message, ignored)."""

    update_id: int
    chat_id: int | None = None
    user_id: int | None = None
    user: str = ""
    text: str = ""


def webhook(deps: Deps, body: bytes, secret_token: str | None) -> tuple[int, dict[str, Any]]:
    """The telegram_webhook function's work: (status, JSON answer); see the module's docstring."""
    refused = _authenticate(deps, secret_token)
    if refused:
        _audit(_chat_of(body), refused)
        return 403, FORBIDDEN
    try:
        update = read_update(body)
    except BadRequest as e:
        log.warning(f"telegram update refused: {e}", extra={"component": "telegram"})
        return e.status, {"error": str(e)}
    if update.chat_id is None:
        return 200, {"ignored": "not a message"}
    if update.chat_id not in deps.config.telegram_chats:
        _audit(update.chat_id, f"chat not allowed (user {update.user or update.user_id})")
        return UNKNOWN_CHAT_STATUS, {"error": "chat not allowed"}
    now = deps.clock.now()
    seen = {"chat_id": update.chat_id, "at": now.isoformat()}
    if not deps.store.create(updates_path(update.update_id), seen):
        log.info(f"telegram update {update.update_id} delivered again: ignored", extra=_extra(update))
        return 200, {"duplicate": update.update_id}
    command = update.text.split(maxsplit=1)[0].split("@")[0].lower() if update.text.strip() else ""
    try:
        result = run(deps, update)
    except Exception as e:  # recorded and answered; a 5xx would only make Telegram deliver it again
        log.error(f"telegram {command} failed: {type(e).__name__}: {e}", extra=_extra(update), exc_info=True)
        result = f"{command} failed: {type(e).__name__}: {e}"
    record = {
        "update_id": update.update_id,
        "chat_id": update.chat_id,
        "user_id": update.user_id,
        "user": update.user,
        "text": update.text[:500],
        "command": command,
        "result": result[:2000],
        "at": now.isoformat(),
    }
    deps.store.set(commands_path(update.update_id), record)
    log.info(f"telegram {command or 'message'} from {update.user}: {result[:300]}", extra=_extra(update))
    _answer(deps, update.chat_id, result)
    return 200, {"ok": True, "command": command, "reply": result}


def read_update(body: bytes) -> Update:
    """The Update's parts TRON reads; BadRequest says what is wrong (nothing has run)."""
    doc = json_object(body, MAX_UPDATE_BYTES, required=True)
    update_id = doc.get("update_id")
    if type(update_id) is not int or not 0 <= update_id < 2**53:
        raise BadRequest("update_id must be a non-negative integer")
    message = doc.get("message")
    if message is None:  # an edit, a member change, a callback...: not a command
        return Update(update_id)
    if not isinstance(message, dict):
        raise BadRequest("message must be an object")
    chat, sender = message.get("chat"), message.get("from", {})
    if not isinstance(chat, dict) or type(chat.get("id")) is not int:
        raise BadRequest("message.chat.id must be an integer")
    if not isinstance(sender, dict):
        raise BadRequest("message.from must be an object")
    user_id = sender.get("id")
    if user_id is not None and type(user_id) is not int:
        raise BadRequest("message.from.id must be an integer")
    text = message.get("text", "")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise BadRequest(f"message.text must be text of at most {MAX_TEXT} characters")
    name = sender.get("username") or sender.get("first_name") or user_id or "?"
    return Update(update_id, chat["id"], user_id, str(name)[:64], text)


def run(deps: Deps, update: Update) -> str:
    """Run the update's command; its answer."""
    parts = update.text.strip().split(maxsplit=1)
    if not parts or not parts[0].startswith("/"):
        return HELP
    command, args = parts[0].split("@")[0].lower(), (parts[1] if len(parts) > 1 else "").strip()
    by = f"telegram {update.user} ({update.user_id})"
    if command == "/halt":
        return halt(deps, args, by)
    if command == "/resume":
        return resume(deps, by)
    if command == "/squareoff":
        return ask_square_off(deps, update.chat_id or 0, args, by)
    if command == "/confirm":
        return confirm(deps, update.chat_id or 0, args, by)
    shows = {"/status": status, "/positions": positions, "/pnl": pnl, "/orders": orders, "/report": report}
    return shows[command](deps) if command in shows else HELP


# ---------------------------------------------------------------------------------------------- reading
def status(deps: Deps) -> str:
    """The day's status, halts, the kill switch and the last tick of each asset."""
    now = deps.clock.now()
    day = now.date().isoformat()
    daydoc = deps.store.get(day_path(day))
    lines = [f"TRON {day} {now:%H:%M} IST"]
    if daydoc is None:
        lines.append("no plan for today yet (plan_day runs before the open)")
    else:
        closed = f" ({daydoc['reason']})" if daydoc.get("reason") else ""
        lines.append(f"day: {daydoc.get('status')}{closed}, mode {daydoc.get('mode', deps.config.mode)}")
        lines.append(f"halted: {daydoc['halted']}" if daydoc.get("halted") else "entries: not halted")
        if daydoc.get("squaring"):
            lines.append(f"squared off (no more entries): {', '.join(daydoc['squaring'])}")
        if daydoc.get("frozen"):
            lines.append(f"frozen symbols: {', '.join(sorted(daydoc['frozen']))}")
    ks = kill_switch(deps.store)
    lines.append(
        f"kill switch: ENGAGED by {ks.by} at {ks.at[11:16]}: {ks.reason}"
        + ("" if ks.flatten else " (positions kept)")
        if ks.engaged
        else "kill switch: released"
    )
    ticks = []
    for a in Asset:
        last = (deps.store.get(state_path(day, a)) or {}).get("last_minute") if daydoc else None
        ticks.append(f"{a} {datetime.fromisoformat(last):%H:%M}" if last else f"{a} -")
    lines.append("last tick: " + ", ".join(ticks))
    return "\n".join(lines)


def positions(deps: Deps) -> str:
    """Every open position per asset: quantity, average price, the last price and MTM where known."""
    day = deps.clock.now().date().isoformat()
    lines = []
    for a in Asset:
        book = Book.from_doc(deps.store.get(book_path(day, a)))
        if not book.positions:
            continue
        marks = _marks(deps, day, a)
        for s, p in sorted(book.positions.items()):
            mtm = (
                f", last {marks[s]:.2f}, MTM {rupees((Decimal(str(marks[s])) - p.avg_price) * p.qty)}"
                if s in marks
                else ""
            )
            stop = f", stop {p.stop:.2f}{' resting' if p.protect else ''}" if p.stop is not None else ""
            lines.append(f"{a}: {s} {p.qty:+d} @ {p.avg_price}{mtm}{stop}")
    return "\n".join(lines) if lines else "no open positions"


def pnl(deps: Deps) -> str:
    """Realised P&L, charges, net and open MTM per asset, and the total."""
    day = deps.clock.now().date().isoformat()
    lines, net, open_ = [], Decimal(0), Decimal(0)
    for a in Asset:
        book = Book.from_doc(deps.store.get(book_path(day, a)))
        mtm = book.unrealized(_marks(deps, day, a)) if book.positions else Decimal(0)
        net, open_ = net + book.net, open_ + mtm
        lines.append(
            f"{a}: {book.trades} trades, {book.wins} wins, gross {rupees(book.realized)}, charges "
            f"{rupees(book.charges)}, net {rupees(book.net)}"
            + (f", open MTM {rupees(mtm)} ({len(book.positions)} open)" if book.positions else "")
        )
    lines.append(f"total: net {rupees(net)}, open MTM {rupees(open_)}, marked {rupees(net + open_)}")
    return "\n".join(lines)


def orders(deps: Deps, last: int = 15) -> str:
    """Today's intents: how many in each state, and the latest ``last`` of them."""
    day = deps.clock.now().date().isoformat()
    docs = sorted((d for _, d in deps.store.list(intents_path(day))), key=lambda d: str(d.get("claimed_at")))
    if not docs:
        return "no orders today"
    counts: dict[str, int] = {}
    for d in docs:
        counts[str(d.get("state"))] = counts.get(str(d.get("state")), 0) + 1
    lines = [f"{len(docs)} order intents: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]
    for d in docs[-last:]:
        fill = d.get("fill") or {}
        price = f" @ {fill['price']}" if fill.get("price") else ""
        lines.append(
            f"{str(d.get('claimed_at'))[11:16]} {d.get('asset')} {d.get('purpose')} {d.get('side')} "
            f"{d.get('qty')} {d.get('symbol')}: {d.get('state')}{price}"
        )
    return "\n".join(lines)


def report(deps: Deps) -> str:
    """Where the day's report is (end_of_day writes it after the close), with the day's P&L."""
    day = deps.clock.now().date().isoformat()
    daydoc = deps.store.get(day_path(day)) or {}
    where = daydoc.get("report_html") or daydoc.get("report")
    head = (
        f"report of {day}: {where}"
        if where
        else f"no report for {day} yet (end_of_day writes it after the close)"
    )
    return f"{head}\n{pnl(deps)}"


def _marks(deps: Deps, day: str, asset: Asset) -> dict[str, float]:
    """The last price of each symbol the asset's session follows (none before its first tick)."""
    return last_prices(deps.store.get(state_path(day, asset)))


# ---------------------------------------------------------------------------------------------- acting
def halt(deps: Deps, reason: str, by: str) -> str:
    """Engage the kill switch (tron.services.kill_switch.engage_now) without flattening: entries stop at
    once in every asset; the positions keep their resting stops (/squareoff closes them)."""
    why = reason[:500] or "halted from Telegram"
    engage_now(deps, why, flatten=False, by=by)
    return (
        f"kill switch ENGAGED: {why}. No new entries in any asset; open positions keep their stops "
        "(/squareoff all closes them). /resume releases it."
    )


def resume(deps: Deps, by: str) -> str:
    """Release the kill switch; say what else still halts the day."""
    if not kill_switch(deps.store).engaged:
        return "the kill switch is not engaged: nothing to release"
    release(deps, by)
    daydoc = deps.store.get(day_path(deps.clock.now().date().isoformat())) or {}
    still = f" Today is still halted: {daydoc['halted']}" if daydoc.get("halted") else ""
    return f"kill switch released: entries may trade again from the next tick.{still}"


def ask_square_off(deps: Deps, chat_id: int, args: str, by: str) -> str:
    """Note the square-off asked for, with a code that /confirm must repeat within 60 s; nothing is sent."""
    try:
        assets = parse_assets(args.lower())
    except ValueError:
        return "usage: /squareoff stocks|futures|options|all"
    now = deps.clock.now()
    day = now.date().isoformat()
    held = sum(len(Book.from_doc(deps.store.get(book_path(day, a))).positions) for a in assets)
    code = f"{secrets.randbelow(10**6):06d}"
    doc = {"code": code, "asset": args.lower(), "by": by, "state": "pending", "at": now.isoformat()}
    deps.store.set(confirm_path(chat_id), {**doc, "expires": (now + CONFIRM_WITHIN).isoformat()})
    return (
        f"square off {args.lower()}: {held} open position(s) exit now and entries stop for the day. "
        f"Send /confirm {code} within {CONFIRM_WITHIN.seconds} s."
    )


def confirm(deps: Deps, chat_id: int, code: str, by: str) -> str:
    """Act on the chat's pending square-off if ``code`` is its code and it has not expired, once: the
    pending document moves to confirmed in a transaction, so a second /confirm finds nothing to do."""
    now = deps.clock.now()
    path = confirm_path(chat_id)

    def body(txn: Any) -> tuple[str | None, str]:
        doc = txn.get(path)
        if doc is None or doc.get("state") != "pending":
            return None, "nothing to confirm: send /squareoff first"
        if not hmac.compare_digest(str(doc.get("code", "")).encode(), code.strip().encode()):
            return None, "wrong code: nothing done"
        if now > datetime.fromisoformat(str(doc["expires"])):
            txn.set(path, {**doc, "state": "expired"})
            return None, "the code expired: nothing done (send /squareoff again)"
        txn.set(path, {**doc, "state": "confirmed", "confirmed_by": by, "confirmed_at": now.isoformat()})
        return str(doc["asset"]), ""

    asset, why = deps.store.transaction(body)
    if asset is None:
        return why
    out = square_off(deps, asset, reason=f"square-off from Telegram by {by}")
    sent = ", ".join(f"{a} {len(ids)}" for a, ids in out["exits"].items())
    return f"square-off {asset} sent: exits per asset: {sent}. Entries stop for the day on {asset}."


# ---------------------------------------------------------------------------------------------- plumbing
def _authenticate(deps: Deps, given: str | None) -> str | None:
    """Why the request is refused (no secret stored, no header, a wrong one), or None."""
    try:
        expected = deps.secrets.get(WEBHOOK_SECRET)
    except Exception as e:  # the secret store is down: refuse, say so
        log.error(
            f"the webhook secret could not be read: {type(e).__name__}", extra={"component": "telegram"}
        )
        return "the webhook secret could not be read"
    if not expected:
        log.error(
            f"the secret {WEBHOOK_SECRET} is not set: every Telegram update is refused",
            extra={"component": "telegram"},
        )
        return "no webhook secret is configured"
    if not given:
        return f"no {SECRET_HEADER} header"
    if not hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace")):
        return f"wrong {SECRET_HEADER} header"
    return None


def _chat_of(body: bytes) -> str:
    """The chat id an unauthenticated body claims, for the audit line only ("?" when there is none)."""
    try:
        chat = json.loads(body[:MAX_UPDATE_BYTES])["message"]["chat"]["id"]
    except Exception:
        return "?"
    return str(chat)[:32] if type(chat) is int else "?"


def _audit(chat_id: object, reason: str) -> None:
    log.warning(
        f"telegram webhook refused: {reason} (chat {chat_id})",
        extra={"component": "telegram", "data": {"chat_id": str(chat_id), "reason": reason}},
    )


def _answer(deps: Deps, chat_id: int, text: str) -> None:
    if deps.notifier is None:
        return
    try:
        deps.notifier.reply(chat_id, text)
    except Exception as e:  # the command is done and recorded: an answer that fails changes nothing
        log.warning(f"telegram answer not sent: {type(e).__name__}: {e}", extra={"component": "telegram"})


def _extra(update: Update) -> dict[str, Any]:
    return {"component": "telegram", "correlation_id": str(update.update_id)}
