"""plan_day: before the open, write days/{date} with the validated plan, or say why the day is closed."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from typing import Any

from tron.domain.models import Asset, is_tron_tag
from tron.domain.plan import Plan, PlanContext, validate
from tron.domain.structures import StructureSpec
from tron.ports import BrokerUnavailable, OrderRejected
from tron.services import notify
from tron.services.deps import Deps
from tron.services.live import DayBroker
from tron.services.paths import day_path
from tron.services.tick import tradable

log = logging.getLogger("tron.plan_day")


def build_plan(deps: Deps, day: date) -> Plan:
    """The plan plan_day would write: the configured planner's, or the rule plan with the reason why."""
    cfg = deps.config
    history = deps.market.daily_history(cfg.index_symbol, day, cfg.history_days)
    ctx = PlanContext(day, history, cfg.envelope, cfg.enabled)
    reason = None
    try:
        plan = deps.planner.plan(ctx)
        problems = validate(plan, ctx)
        if problems:
            reason = f"{deps.planner.name} plan rejected: " + "; ".join(problems)
    except Exception as e:  # any planner failure falls back to rules
        reason = f"{deps.planner.name} planner failed: {type(e).__name__}: {e}"
    if reason:
        log.warning(reason, extra={"component": "plan_day"})
        fallback = deps.fallback_planner.plan(ctx)
        plan = Plan(fallback.day, fallback.planner, fallback.regime, fallback.assets, fallback_reason=reason)
    return with_structure(plan, cfg.structure)


def with_structure(plan: Plan, spec: StructureSpec | None) -> Plan:
    """The plan with the configured multi-leg structure on the options asset, where it trades today (the
    structure replaces its strategies' signals)."""
    options = plan.assets.get(Asset.OPTIONS)
    if spec is None or options is None or not options.enabled:
        return plan
    note = f"{options.note}; structure {spec.name}".lstrip("; ")
    assets = {**plan.assets, Asset.OPTIONS: replace(options, structure=spec.to_doc(), note=note)}
    return replace(plan, assets=assets)


def health_gate(deps: Deps, day: date, plan: Plan) -> str | None:
    """Everything that must hold before entries are allowed today; the failures, joined, or None."""
    problems = []
    if reason := deps.broker.preflight():
        problems.append(f"broker: {reason}")
    missing = [a.value for a, ap in plan.assets.items() if ap.enabled and not deps.market.instruments(a)]
    if missing:
        problems.append(f"no instruments loaded for {', '.join(missing)}")
    history = deps.market.daily_history(deps.config.index_symbol, day, deps.config.history_days)
    if len(history) < deps.config.history_days:
        problems.append(f"history not warmed up: {len(history)} of {deps.config.history_days} sessions")
    return "; ".join(problems) or None


def open_check(deps: Deps, day: date, plan: Plan) -> dict[str, str]:
    """The account before the open: a position, a working order or an active GTT that TRON did not place on
    a symbol it may trade today freezes entries on that symbol for the day (ERROR); an order of TRON's
    still working (from an earlier day: today's are not placed yet) is cancelled. The frozen symbols, each
    with why (empty when the broker cannot be read: the ticks' drift check still sees its positions)."""
    extra = {"component": "plan_day", "correlation_id": day.isoformat()}
    ours: set[str] = set()
    for asset, ap in plan.assets.items():
        try:
            ours |= {i.symbol for i in tradable(deps, asset, ap, day)[0] if i.segment != "index"}
        except ValueError:  # no contract to trade: its first tick says so
            continue
    try:
        held = deps.broker.net_positions(day)
        working = deps.broker.working_orders()
    except BrokerUnavailable as e:
        log.error(f"the account at the open could not be read: {e}", extra=extra)
        return {}
    frozen = {s: f"{q:+d} held at the broker at the open" for s, q in sorted(held.items()) if q and s in ours}
    for w in working:
        if is_tron_tag(w.tag):
            try:
                deps.broker.cancel(w.order_id)
                log.warning(
                    f"an order of TRON's from an earlier day cancelled: {w.order_id} {w.symbol}", extra=extra
                )
            except (OrderRejected, BrokerUnavailable) as e:
                log.error(
                    f"an order of TRON's from an earlier day not cancelled: {w.order_id}: {e}", extra=extra
                )
        elif w.symbol in ours:
            frozen.setdefault(w.symbol, f"{w.kind} {w.order_id} TRON did not place works on it at the open")
    if frozen:
        log.error(
            f"no entries today on {', '.join(sorted(frozen))}: {'; '.join(f'{s} {v}' for s, v in frozen.items())}",
            extra=extra,
        )
    return frozen


def _mode(deps: Deps, day: date) -> str:
    """How the day's orders fill: paper, or live (mode live on a day an operator armed: tron.services.live)."""
    if isinstance(deps.broker, DayBroker):
        return "live" if deps.broker.is_live(day) else "paper"
    return deps.config.mode


def plan_day(deps: Deps, day: date | None = None) -> dict[str, Any]:
    """Write the day's document (default: today's) once, and return it.

    A day already planned is returned as stored. On a closed day the document says why (status "closed").
    Otherwise the plan is built (:func:`build_plan`), the health gate run (:func:`health_gate`, whose
    failures halt entries for the day with an ERROR log), the account checked (:func:`open_check`: the
    symbols it freezes are kept under "frozen"), and the document written with status "armed".
    Creation is create-if-absent, so of two concurrent runs one plan wins and both return it.
    """
    now = deps.clock.now()
    day = day or now.date()
    path = day_path(day.isoformat())
    existing = deps.store.get(path)
    if existing is not None:
        log.info("day already planned", extra={"component": "plan_day", "correlation_id": day.isoformat()})
        return existing
    closed = deps.calendar.why_closed(day)
    if closed:
        doc: dict[str, Any] = {
            "day": day.isoformat(),
            "trading_day": False,
            "status": "closed",
            "reason": closed,
        }
        deps.store.create(path, doc)
        log.info(f"{day} is not a trading day ({closed}): nothing to do", extra={"component": "plan_day"})
        return doc
    plan = build_plan(deps, day)
    halted = health_gate(deps, day, plan)
    if halted:
        log.error(
            f"pre-open health gate failed, entries halted for the day: {halted}",
            extra={"component": "plan_day"},
        )
        notify.gate(deps, day.isoformat(), halted)
    frozen = {} if halted else open_check(deps, day, plan)
    doc = {
        "day": day.isoformat(),
        "trading_day": True,
        "status": "armed",
        "halted": halted,
        "frozen": frozen,
        "planned_at": now.isoformat(),
        "mode": _mode(deps, day),
        "plan": plan.to_doc(),
        "squaring": [],
    }
    if not deps.store.create(path, doc):
        return deps.store.get(path) or doc
    log.info(
        f"plan written: {plan.planner}, {plan.regime} regime",
        extra={"component": "plan_day", "correlation_id": day.isoformat(), "data": plan.to_doc()},
    )
    return doc
