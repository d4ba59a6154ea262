"""The Planner port on OpenAI: market context in the prompt, a strict JSON schema for the answer, a timeout
and a token budget. The answer is only a proposal: plan_day validates it against the strategy registry and
the configured risk envelope, and falls back to the rule plan (recording why) on any failure."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

from tron.domain.models import Asset
from tron.domain.plan import AssetPlan, Plan, PlanContext, StrategyChoice
from tron.domain.risk import RiskLimits
from tron.domain.rules import regime
from tron.domain.strategies import REGISTRY
from tron.ports import Secrets

RISK_KEYS = ("daily_loss_limit", "max_trades_per_day", "max_open_positions", "risk_per_trade_pct")


def schema() -> dict[str, Any]:
    """The strict JSON schema of the model's answer: the regime, and per asset whether it trades, registry
    strategies with numeric params, the risk limits in ``RISK_KEYS`` and a note."""
    strategy = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "params"],
        "properties": {
            "name": {"type": "string", "enum": sorted(REGISTRY)},
            "params": {"type": "object", "additionalProperties": {"type": "number"}},
        },
    }
    asset = {
        "type": "object",
        "additionalProperties": False,
        "required": ["enabled", "strategies", "risk", "note"],
        "properties": {
            "enabled": {"type": "boolean"},
            "strategies": {"type": "array", "items": strategy},
            "risk": {
                "type": "object",
                "additionalProperties": False,
                "required": list(RISK_KEYS),
                "properties": {k: {"type": "number"} for k in RISK_KEYS},
            },
            "note": {"type": "string"},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["regime", "assets"],
        "properties": {
            "regime": {"type": "string", "enum": ["trending", "ranging", "volatile"]},
            "assets": {"type": "object", "additionalProperties": asset},
        },
    }


def prompt(ctx: PlanContext) -> str:
    """The user message: the index's daily bars, the rule regime, every registry strategy (its description
    and parameter ranges), the enabled assets and the risk envelope the model may only tighten."""
    bars = [
        {"day": b.day.isoformat(), "open": b.open, "high": b.high, "low": b.low, "close": b.close}
        for b in ctx.index_history
    ]
    strategies = {
        n: {"doc": s.doc.strip(), "params": {k: [p.low, p.default, p.high] for k, p in s.params.items()}}
        for n, s in REGISTRY.items()
    }
    envelope = {a.value: {k: str(getattr(r, k)) for k in RISK_KEYS} for a, r in ctx.envelope.items()}
    return (
        f"Plan intraday trading on NSE for {ctx.day.isoformat()}.\n"
        f"NIFTY 50 daily bars, oldest first: {json.dumps(bars)}\n"
        f"Rule-based regime estimate: {regime(ctx.index_history)}\n"
        f"Strategies available (params as [min, default, max]): {json.dumps(strategies)}\n"
        f"Assets enabled by the user: {json.dumps({a.value: e for a, e in ctx.enabled.items()})}\n"
        f"Risk envelope (maxima; you may only tighten): {json.dumps(envelope)}\n"
        "Answer with the JSON schema given: per asset, whether to trade, which strategies with which params, "
        "the risk limits, and a one-line note."
    )


class OpenAIPlanner:
    """The Planner port on the OpenAI chat API (``model``, a ``timeout_s`` per call, no retries, at most
    ``max_tokens`` in the answer; ``base_url`` for another endpoint)."""

    name = "openai"

    def __init__(
        self, secrets: Secrets, model: str, timeout_s: float, max_tokens: int, base_url: str | None = None
    ):
        self.secrets = secrets
        self.model = model
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.base_url = base_url

    def client(self) -> Any:
        """An OpenAI client with the key from the secret openai-api-key; RuntimeError if it is not set."""
        key = self.secrets.get("openai-api-key")
        if not key:
            raise RuntimeError("no OpenAI API key (secret openai-api-key)")
        from openai import OpenAI

        return OpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout_s, max_retries=0)

    def plan(self, context: PlanContext) -> Plan:
        """Ask the model (temperature 0, the strict schema) and :func:`parse` its answer. Any failure
        raises; plan_day then falls back to the rule plan."""
        reply = self.client().chat.completions.create(
            model=self.model,
            messages=[
                {
                    "role": "system",
                    "content": "You are a cautious intraday risk manager for an NSE trading system.",
                },
                {"role": "user", "content": prompt(context)},
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "plan", "strict": True, "schema": schema()},
            },
            max_completion_tokens=self.max_tokens,
            temperature=0,
        )
        return parse(reply.choices[0].message.content or "", context)


def parse(text: str, context: PlanContext) -> Plan:
    """The model's JSON as a Plan (raises ValueError on anything malformed); limits not named keep the envelope."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"the answer is not JSON: {e}") from None
    try:
        assets: dict[Asset, AssetPlan] = {}
        for name, a in doc["assets"].items():
            asset = Asset(name)
            env = context.envelope[asset]
            risk: RiskLimits = replace(
                env, **{k: _like(getattr(env, k), v) for k, v in a["risk"].items() if k in RISK_KEYS}
            )
            strategies = tuple(
                StrategyChoice(str(s["name"]), dict(s.get("params", {}))) for s in a["strategies"]
            )
            assets[asset] = AssetPlan(
                asset,
                bool(a["enabled"]) and context.enabled.get(asset, False),
                strategies,
                risk,
                str(a.get("note", "")),
            )
        return Plan(context.day, "openai", str(doc["regime"]), assets)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"the answer does not fit the plan schema: {type(e).__name__}: {e}") from None


def _like(current: Any, value: Any) -> Any:
    """The model's number as the type of the configured limit (a whole number where one is expected)."""
    if isinstance(current, Decimal):
        return Decimal(str(value))
    if float(value) != int(float(value)):
        raise ValueError(f"{value} is not a whole number")
    return int(float(value))


REVIEW_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary", "suggestions"],
    "properties": {
        "summary": {"type": "string"},
        "suggestions": {"type": "array", "items": {"type": "string"}},
    },
}


class OpenAIReviewer:
    """A review of the day's report by the LLM: suggestions for the trader, stored, never applied."""

    def __init__(self, planner: OpenAIPlanner) -> None:
        self.llm = planner

    def review(self, report: dict[str, Any]) -> dict[str, Any]:
        """{"summary", "suggestions" (at most 20)} for the day's report (its per-asset figures, without the
        equity curves); ValueError when the answer does not fit the schema."""
        brief = {
            a: {k: v for k, v in r.items() if k not in ("equity_curve",)} for a, r in report["assets"].items()
        }
        reply = self.llm.client().chat.completions.create(
            model=self.llm.model,
            messages=[
                {
                    "role": "system",
                    "content": "You review an NSE intraday trading day. Suggest, do not decide.",
                },
                {"role": "user", "content": f"The day's report: {json.dumps(brief, default=str)[:20000]}"},
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "review", "strict": True, "schema": REVIEW_SCHEMA},
            },
            max_completion_tokens=self.llm.max_tokens,
            temperature=0,
        )
        doc = json.loads(reply.choices[0].message.content or "")
        if not isinstance(doc.get("summary"), str) or not isinstance(doc.get("suggestions"), list):
            raise ValueError("the review does not fit its schema")
        return {"summary": doc["summary"], "suggestions": [str(x) for x in doc["suggestions"]][:20]}
