"""Configuration: one YAML file (config/tron.yaml, or the file TRON_CONFIG names) with environment overrides
(TRON_<KEY>, nested with __, e.g. TRON_RISK__DAILY_LOSS_LIMIT=3000), validated at start-up."""

from __future__ import annotations

import math
import os
import re
from datetime import time
from decimal import Decimal
from importlib import resources
from ipaddress import IPv4Address
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from tron.domain.live import Guardrails
from tron.domain.models import Asset
from tron.domain.order_rules import check_market_protection
from tron.domain.risk import RiskLimits
from tron.domain.structures import StructureSpec, parse_spec
from tron.domain.timeutil import parse_hhmm
from tron.ports import NOTIFICATION_KINDS

DEFAULT_CONFIG = Path("config/tron.yaml")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key, file or variable and what is wrong."""


_RISK = RiskLimits()  # the domain's defaults: written once, there


class RiskSettings(BaseModel):
    """The risk keys, validated; defaults are the domain's (tron.domain.risk.RiskLimits)."""

    model_config = ConfigDict(extra="forbid")

    capital: Decimal = Field(_RISK.capital, gt=0, description="trading capital, rupees")
    daily_loss_limit: Decimal = Field(
        _RISK.daily_loss_limit, gt=0, description="stop entries and flatten at this loss, rupees"
    )
    daily_loss_limit_pct: Decimal = Field(
        _RISK.daily_loss_limit_pct, gt=0, le=100, description="the same as % of capital; the smaller applies"
    )
    max_trades_per_day: int = Field(_RISK.max_trades_per_day, ge=0, le=1000)
    max_trades_per_symbol: int = Field(_RISK.max_trades_per_symbol, ge=0, le=100)
    max_open_positions: int = Field(_RISK.max_open_positions, ge=0, le=500)
    risk_per_trade_pct: Decimal = Field(
        _RISK.risk_per_trade_pct, gt=0, le=5, description="loss at the stop, % of capital"
    )
    max_position_pct: Decimal = Field(
        _RISK.max_position_pct, gt=0, le=100, description="largest position, % of capital"
    )
    min_confidence: float = Field(_RISK.min_confidence, ge=0, le=1)
    entry_cutoff: str = Field(
        _RISK.entry_cutoff.strftime("%H:%M"),
        description="no new entries from this IST time (HH:MM, 09:15–15:10)",
    )
    min_position_pct: Decimal = Field(
        _RISK.min_position_pct, ge=0, le=100, description="smallest position, % of the asset's capital"
    )
    max_sector_pct: Decimal = Field(
        _RISK.max_sector_pct, gt=0, le=100, description="exposure in one sector, % of the asset's capital"
    )
    mis_leverage: Decimal = Field(
        _RISK.mis_leverage, ge=1, le=10, description="equity MIS margin = value / this"
    )
    futures_margin_pct: Decimal = Field(
        _RISK.futures_margin_pct, gt=0, le=100, description="futures margin, % of the contract value"
    )
    kelly: bool = Field(
        _RISK.kelly, description="lower the risk per trade to half-Kelly from realised statistics"
    )
    kelly_min_trades: int = Field(
        _RISK.kelly_min_trades, ge=1, le=10000, description="closed trades before Kelly is trusted"
    )
    loss_budget_pct: Decimal = Field(
        _RISK.loss_budget_pct,
        gt=0,
        le=100,
        description="share of the daily loss limit one asset may put at risk",
    )
    stop_slippage_bps: dict[str, Decimal] = Field(
        default_factory=lambda: dict(_RISK.stop_slippage_bps),
        description="per segment, basis points of the stop price the loss limit reserves beyond each stop",
    )

    @field_validator("stop_slippage_bps")
    @classmethod
    def _bps(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for segment, bps in v.items():
            if segment not in _RISK.stop_slippage_bps:
                raise ValueError(f"{segment!r} is not a segment ({', '.join(_RISK.stop_slippage_bps)})")
            if not 0 <= bps <= 5000:
                raise ValueError(f"{segment}: must be between 0 and 5000 bps, got {bps}")
        return {**_RISK.stop_slippage_bps, **v}

    @field_validator("entry_cutoff")
    @classmethod
    def _cutoff(cls, v: str) -> str:
        t = parse_hhmm(v)
        if not time(9, 15) <= t <= time(15, 10):
            raise ValueError(f"must be between 09:15 and 15:10 (before the square-off), got {v}")
        return v

    def limits(self) -> RiskLimits:
        """The domain's limits, with this capital as the whole account's (the margin check)."""
        keys = self.model_dump(exclude={"entry_cutoff", "stop_slippage_bps"})
        return RiskLimits(
            **keys,
            entry_cutoff=parse_hhmm(self.entry_cutoff),
            account_capital=self.capital,
            stop_slippage_bps=MappingProxyType(dict(self.stop_slippage_bps)),
        )


class AssetSettings(BaseModel):
    """One asset's keys: whether it trades, its share of the capital, and overrides of the risk keys."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    capital_pct: Decimal = Field(
        Decimal("100"), gt=0, le=100, description="share of capital this asset may use (an exposure cap)"
    )
    risk: dict[str, Any] = Field(
        default_factory=dict, description="per-asset overrides of risk keys (e.g. risk_per_trade_pct)"
    )


class OpenAISettings(BaseModel):
    """The OpenAI planner's model, call timeout, answer budget and endpoint."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field("gpt-4o-mini", min_length=1)
    timeout_s: float = Field(20, gt=0, le=120, description="seconds before falling back to the rule plan")
    max_tokens: int = Field(1200, ge=100, le=8000, description="token budget of the answer")
    base_url: str | None = Field(None, description="an OpenAI-compatible endpoint (default: OpenAI's)")


TELEGRAM_API = "https://api.telegram.org"  # the Telegram Bot API
KITE_API = "https://api.kite.trade"  # the real Kite Connect API root (the official client's default)
OPS_PER_DELIVERY = 3  # the most order operations one executor delivery makes at the broker


class KiteSettings(BaseModel):
    """The Kite Connect app. `root` is the real API (KITE_API: the daily login and market data only, since
    this build places no real order) or a loopback Kite simulator (`tron kite-sim`, or the one
    `tron run-day --broker kite-sim` starts), which may also take orders."""

    model_config = ConfigDict(extra="forbid")
    root: str | None = Field(
        None, description=f"Kite API root: {KITE_API}, or a simulator such as http://127.0.0.1:8123"
    )
    api_key: str = Field(
        "sim",
        min_length=1,
        description="the Kite app's api key (a stored secret kite_api_key wins; the app's secret is the "
        "secret kite_api_secret)",
    )
    timeout_s: float = Field(7, gt=0, le=60, description="seconds per HTTP call")
    rate_limits: bool = Field(True, description="client-side token buckets at Kite's documented rates")
    market_protection: int = Field(-1, description="-1 (automatic) or 1–100 %; 0 is rejected by Kite")
    retries: int = Field(3, ge=0, le=10, description="retries of a transient failure (network, 429)")
    breaker_failures: int = Field(5, ge=1, le=100, description="consecutive failures that open the breaker")
    breaker_cooloff_s: float = Field(30, gt=0, le=600, description="seconds the open breaker waits")
    follow_polls: int = Field(
        10, ge=1, le=100, description="order_history reads before the rest is cancelled"
    )
    poll_interval_s: float = Field(0.2, ge=0, le=10, description="seconds between those reads")
    order_budget_s: float = Field(
        5,
        gt=0,
        le=30,
        description="seconds one order operation (place, convert, trail, look-up by tag) may start Kite calls "
        "in; past it, it gives up and its outcome is read again by its tag",
    )
    algo_id: str | None = Field(
        None,
        description="the exchange's algo ID sent as algo_id with every order placed (SEBI's retail algo "
        "framework, in force since 1 Apr 2026): 1–20 letters or digits; none: the broker tags API orders",
    )

    @field_validator("algo_id")
    @classmethod
    def _algo_id(cls, v: str | None) -> str | None:
        if v is None or re.fullmatch(r"[A-Za-z0-9]{1,20}", v):
            return v
        raise ValueError("must be 1–20 letters or digits (the exchange's algo ID)")

    @field_validator("market_protection")
    @classmethod
    def _protection(cls, v: int) -> int:
        return check_market_protection(v)

    @field_validator("root")
    @classmethod
    def _kite_or_loopback(cls, v: str | None) -> str | None:
        if v is None or v.rstrip("/") == KITE_API or is_loopback(v):
            return v
        raise ValueError(f"must be {KITE_API} or a loopback Kite simulator URL (http://127.0.0.1:PORT)")

    @property
    def placing_lease_s(self) -> int:
        """The executor's placing lease: longer than the worst case of one delivery's Kite calls, so that no
        second delivery places while the first may still be placing. A delivery makes at most
        OPS_PER_DELIVERY order operations (an exit: convert the resting stop, look its tag up, place), and
        each is over by its budget plus one call's timeout and one poll (KiteSession.budget)."""
        worst = OPS_PER_DELIVERY * (self.order_budget_s + self.timeout_s + self.poll_interval_s)
        return math.ceil(worst) + 1

    @property
    def simulated(self) -> bool:
        """True when ``root`` is a loopback Kite simulator."""
        return self.root is not None and is_loopback(self.root)


class GuardrailSettings(BaseModel):
    """What any order may be, in every mode (tron.domain.live.Guardrails): entries outside them are refused
    with the reason recorded; exits never are."""

    model_config = ConfigDict(extra="forbid")
    allowlist: dict[Asset, list[str]] = Field(
        default_factory=dict, description="per asset, the only symbols it may enter (an asset left out: any)"
    )
    max_order_value: dict[str, Decimal] = Field(
        default_factory=dict, description="per segment, the largest order value in rupees"
    )
    max_order_qty: dict[str, int] = Field(
        default_factory=dict, description="per segment, the largest quantity"
    )
    freeze_qty: dict[str, int] = Field(
        default_factory=lambda: {"NIFTY": 1800},
        description="per F&O underlying, the exchange's freeze quantity (revised monthly by NSE): a larger "
        "order goes in slices of whole lots under it, at most 10",
    )
    max_orders_per_day: int = Field(
        1000, ge=1, le=3000, description="orders a day across the account (Kite allows 3,000)"
    )

    @field_validator("max_order_value", "max_order_qty")
    @classmethod
    def _per_segment(cls, v: dict[str, Any]) -> dict[str, Any]:
        for segment, cap in v.items():
            if segment not in _RISK.stop_slippage_bps:
                raise ValueError(f"{segment!r} is not a segment ({', '.join(_RISK.stop_slippage_bps)})")
            if cap <= 0:
                raise ValueError(f"{segment}: must be positive, got {cap}")
        return v

    @field_validator("freeze_qty")
    @classmethod
    def _freeze(cls, v: dict[str, int]) -> dict[str, int]:
        for underlying, qty in v.items():
            if qty <= 0:
                raise ValueError(f"{underlying}: must be positive, got {qty}")
        return v

    def guardrails(self) -> Guardrails:
        """The domain's guardrails."""
        return Guardrails(
            allowlist={a.value: frozenset(symbols) for a, symbols in self.allowlist.items()},
            max_order_value=dict(self.max_order_value),
            max_order_qty=dict(self.max_order_qty),
            freeze_qty=dict(self.freeze_qty),
            max_orders_per_day=self.max_orders_per_day,
        )


def shipped_templates() -> dict[str, Any]:
    """The multi-leg structures TRON ships (tron/data/options_templates.yaml), as plain mappings."""
    text = resources.files("tron.data").joinpath("options_templates.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text))


class OptionsSettings(BaseModel):
    """The options asset's multi-leg structure (tron.domain.structures), traded instead of the strategies'
    signals when one is chosen."""

    model_config = ConfigDict(extra="forbid")
    templates: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="your own structures by name (they win over shipped ones)"
    )
    template: str | None = Field(
        None,
        description="the structure the options asset trades each day: a template's name (shipped, or under "
        "options.templates) or a YAML file holding one; none: the strategies' signals buy calls and puts",
    )

    @field_validator("templates")
    @classmethod
    def _templates_parse(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, spec in v.items():
            parse_spec(name, spec)
        return v

    @field_validator("template")
    @classmethod
    def _template_exists(cls, v: str | None, info: ValidationInfo) -> str | None:
        read_structure(v, info.data.get("templates", {}))
        return v

    def structure(self) -> StructureSpec | None:
        """The chosen structure, parsed."""
        return read_structure(self.template, self.templates)


def read_structure(template: str | None, templates: dict[str, Any]) -> StructureSpec | None:
    """A template by name (the user's, then the shipped ones) or from a YAML file; ValueError naming what
    is wrong."""
    if template is None:
        return None
    known = {**shipped_templates(), **templates}
    if template in known:
        return parse_spec(template, known[template])
    path = Path(template)
    if path.suffix not in (".yaml", ".yml"):
        raise ValueError(f"{template!r} is not one of {', '.join(sorted(known))} nor a .yaml file")
    if not path.is_file():
        raise ValueError(f"template file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"template file {path} cannot be read: {e}") from None
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), dict):
        ((name, spec),) = data.items()
        return parse_spec(str(name), spec)
    return parse_spec(path.stem, data)


class LiveSettings(BaseModel):
    """What live trading on the real Kite API needs besides an operator's arming of the day."""

    model_config = ConfigDict(extra="forbid")
    static_ips: list[IPv4Address] = Field(
        default_factory=list,
        description="the static egress IPs registered with the Kite app (SEBI: orders only from them; the "
        "terraform output static_ip)",
    )


class TelegramSettings(BaseModel):
    """Telegram: notifications to the operators' chats and commands from them (README "From your phone").
    The bot token is the secret telegram-bot-token, the webhook's secret token telegram-webhook-secret."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(
        False, description="send notifications to chat_ids and answer their commands (off: logs only)"
    )
    chat_ids: list[int] = Field(
        default_factory=list,
        description="the chats allowed to command TRON, and the ones notified (a person's id, or a group's, "
        "negative); every other chat is refused",
    )
    notify: list[str] = Field(
        default_factory=lambda: list(NOTIFICATION_KINDS),
        description=f"the kinds of notification sent ({', '.join(NOTIFICATION_KINDS)})",
    )
    api_base: str = Field(
        TELEGRAM_API, description=f"the Bot API: {TELEGRAM_API}, or a loopback stand-in (tests)"
    )
    timeout_s: float = Field(
        2, gt=0, le=10, description="seconds a send may take before it is dropped (never blocks an order)"
    )

    @field_validator("chat_ids")
    @classmethod
    def _chats(cls, v: list[int]) -> list[int]:
        if any(c == 0 for c in v):
            raise ValueError("a chat id is never 0")
        return list(dict.fromkeys(v))

    @field_validator("notify")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        unknown = [k for k in v if k not in NOTIFICATION_KINDS]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))}: not a kind ({', '.join(NOTIFICATION_KINDS)})")
        return list(dict.fromkeys(v))

    @field_validator("api_base")
    @classmethod
    def _api(cls, v: str) -> str:
        if v.rstrip("/") == TELEGRAM_API or is_loopback(v):
            return v.rstrip("/")
        raise ValueError(f"must be {TELEGRAM_API} or a loopback URL (http://127.0.0.1:PORT)")

    @model_validator(mode="after")
    def _enabled_needs_chats(self) -> TelegramSettings:
        if self.enabled and not self.chat_ids:
            raise ValueError("telegram.enabled needs chat_ids: the chats allowed to command TRON")
        return self


def is_loopback(url: str) -> bool:
    """True for an http(s) URL on 127.0.0.1, localhost or ::1."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")


class Settings(BaseSettings):
    """All of TRON's configuration, validated at start-up (build it with :func:`load_settings`).

    Sources, first wins: explicit keyword arguments, the environment (TRON_<KEY>, nested with __), the
    YAML file (:func:`config_path`). Unknown keys are refused. Cross-key rules: the gcp backend needs a
    project and an archive bucket; Kite market data needs kite.root; the Kite broker needs Kite market data
    on a loopback simulator; mode "live" is refused in this build; an asset's risk overrides must be risk
    keys other than capital.
    """

    model_config = SettingsConfigDict(env_prefix="TRON_", env_nested_delimiter="__", extra="forbid")

    mode: Literal["paper", "live"] = Field(
        "paper",
        description="paper fills (default), or live: Kite orders on each day an operator armed (`tron live arm`), "
        "paper fills on the other days",
    )
    backend: Literal["embedded", "gcp"] = Field(
        "embedded",
        description="embedded: SQLite, in-process bus, local folder; gcp: Firestore, Pub/Sub, GCS, Secret Manager",
    )
    project: str | None = Field(
        default_factory=lambda: os.environ.get("GOOGLE_CLOUD_PROJECT"),
        description="GCP project (gcp backend)",
    )
    archive_bucket: str | None = Field(
        None, description="GCS bucket for logs, reports and replay inputs (gcp backend)"
    )
    data_dir: Path = Field(
        Path("var"), description="where the embedded backend keeps state, logs and reports"
    )
    seed: int = Field(7, description="market generator seed")
    symbols: int | None = Field(None, ge=1, le=2000, description="universe size (default: the NIFTY 50)")
    redeliver_fraction: float = Field(
        0.0, ge=0, le=1, description="share of bus messages delivered twice (testing)"
    )
    orders_topic: str = Field("orders", min_length=1)
    market_data: Literal["generated", "kite"] = Field(
        "generated", description="generated: the seeded simulated market; kite: Kite quotes (kite.root)"
    )
    broker: Literal["paper", "shadow", "kite"] = Field(
        "paper",
        description="paper: fills on the next snapshot's quotes; shadow: the same, with every order call built "
        "as the Kite broker would send it, checked and recorded under days/{date}/shadow/; kite: orders to "
        "kite.root",
    )
    kite: KiteSettings = KiteSettings()
    stops: Literal["broker", "tron"] = Field(
        "broker",
        description="broker: each position's stop rests at the broker (SL-M, SL for options) from its entry's "
        "fill, so it holds when TRON is not running; tron: TRON checks stops each minute and exits with a "
        "protected MARKET order",
    )
    stop_order: Literal["SL-M", "SL"] = Field(
        "SL-M", description="the resting stop of stocks and futures (options always rest an SL)"
    )
    planner: Literal["rules", "openai"] = Field("rules", description="who proposes the daily plan")
    openai: OpenAISettings = OpenAISettings()
    review: bool = Field(False, description="ask the LLM for a review of each day (stored, never applied)")
    risk: RiskSettings = RiskSettings()
    guardrails: GuardrailSettings = GuardrailSettings()
    live: LiveSettings = LiveSettings()
    options: OptionsSettings = OptionsSettings()
    telegram: TelegramSettings = TelegramSettings()
    assets: dict[Asset, AssetSettings] = Field(
        default_factory=lambda: {
            Asset.STOCKS: AssetSettings(enabled=True),
            Asset.FUTURES: AssetSettings(enabled=False),
            Asset.OPTIONS: AssetSettings(enabled=False),
        }
    )

    @model_validator(mode="after")
    def _gcp_needs_a_project_and_bucket(self) -> Settings:
        if self.backend == "gcp" and not (self.project and self.archive_bucket):
            raise ValueError("backend 'gcp' needs project (or GOOGLE_CLOUD_PROJECT) and archive_bucket")
        return self

    @model_validator(mode="after")
    def _kite_roles(self) -> Settings:
        if self.market_data == "kite" and not self.kite.root:
            raise ValueError(
                f"market_data 'kite' needs kite.root: {KITE_API}, or a Kite simulator URL (start one with "
                "`tron kite-sim`, or use `tron run-day --broker kite-sim`)"
            )
        if self.broker == "kite" and self.market_data != "kite":
            raise ValueError("broker 'kite' trades on Kite's quotes: set market_data 'kite' too")
        if self.broker == "kite" and not self.kite.simulated and self.mode != "live":
            raise ValueError(
                f"broker 'kite' sends orders to {KITE_API} only with mode 'live' (and an armed day); in paper "
                "mode use broker 'paper' (paper fills on real quotes) or a loopback Kite simulator"
            )
        return self

    @model_validator(mode="after")
    def _live_needs(self) -> Settings:
        if self.mode != "live":
            return self
        if self.broker != "kite":
            raise ValueError(
                "mode 'live' sends orders through broker 'kite' (with market_data 'kite' and kite.root): set "
                "broker 'kite'; each day still needs an operator's `tron live arm`"
            )
        if not self.kite.simulated and not self.live.static_ips:
            raise ValueError(
                f"mode 'live' on {KITE_API} needs live.static_ips: the static IPs registered with the Kite app "
                "(SEBI: orders only from them; terraform's output static_ip)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """pydantic-settings' hook: keyword arguments, then the environment, then the config file (no
        .env file, no secrets directory)."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_path()
        if path is not None:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=read_config_file(path)))
        return tuple(sources)

    @model_validator(mode="after")
    def _asset_risk_overrides_are_risk_keys(self) -> Settings:
        for a, s in self.assets.items():
            if "capital" in s.risk:
                raise ValueError(f"assets.{a}.risk.capital: use assets.{a}.capital_pct")
            RiskSettings(**{**self.risk.model_dump(), **s.risk})  # names a bad key or value
        return self

    def envelope(self) -> dict[Asset, RiskLimits]:
        """Per asset: the risk settings with the asset's overrides, capital = capital_pct of the account
        (the asset's exposure cap), the account capital kept for the margin check."""
        out = {}
        for a in Asset:
            s = self.assets.get(a, AssetSettings(enabled=False))
            lim = RiskSettings(**{**self.risk.model_dump(), **s.risk}).limits()
            out[a] = RiskLimits(**{**lim.__dict__, "capital": lim.capital * s.capital_pct / 100})
        return out

    def enabled(self) -> dict[Asset, bool]:
        """Per asset, whether it trades (an asset not configured does not)."""
        return {a: self.assets.get(a, AssetSettings(enabled=False)).enabled for a in Asset}


def config_path() -> Path | None:
    """The configuration file: TRON_CONFIG (which must be a file), else config/tron.yaml where it exists."""
    named = os.environ.get("TRON_CONFIG")
    if named:
        path = Path(named)
        if not path.exists():
            raise ConfigError(f"TRON_CONFIG points to {path}, which does not exist")
        if not path.is_file():
            raise ConfigError(f"TRON_CONFIG points to {path}, which is not a file")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's keys; ConfigError names the file and what is wrong with it (and where, for YAML)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {e.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} is nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path}: the top level must be a mapping of keys, got a {type(data).__name__}"
        )
    return data


def load_settings(**overrides: Any) -> Settings:
    """Settings from the file, the environment and explicit overrides; ConfigError names each bad key, or
    the file or environment variable that could not be read."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as e:
        field = re.search(r'field "([^"]+)"', str(e))
        var = f"TRON_{field.group(1).upper()}" if field else "a TRON_ variable"
        raise ConfigError(f"environment variable {var}: not valid JSON for a nested key ({e})") from None
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            allowed = (
                f" (allowed: {err['ctx']['expected']})" if "ctx" in err and "expected" in err["ctx"] else ""
            )
            lines.append(f"config key {key}: {err['msg']}{allowed}; got {err.get('input')!r}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
