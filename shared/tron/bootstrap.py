"""The composition root: settings → adapters → services. The only place that chooses implementations."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tron.adapters.calendar import nse_calendar
from tron.adapters.calendar_snapshot import snapshot_calendar
from tron.adapters.clock import RealClock
from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.inproc_bus import InProcBus
from tron.adapters.localfs import LocalArchive
from tron.adapters.log_notifier import LogNotifier
from tron.adapters.logs import ArchiveHandler, JsonFormatter, install
from tron.adapters.paper import PaperBroker
from tron.adapters.rules_planner import RulesPlanner
from tron.adapters.sqlite_store import SqliteStore
from tron.config.settings import Settings
from tron.domain.calendar import TradingCalendar
from tron.ports import Clock, Planner, Secrets
from tron.services.deps import Deps, ServiceConfig
from tron.sim.market import GeneratedMarketData, MarketGenerator, nifty50


def state_store(settings: Settings, sqlite_path: Path | None = None) -> Any:
    """The configured backend's state store on its own (an operator's command): Firestore for backend
    gcp, else the SQLite file (`sqlite_path`, default the data folder's state.sqlite)."""
    if settings.backend == "gcp":
        from google.cloud import firestore

        from tron.adapters.firestore_store import FirestoreStore

        return FirestoreStore(firestore.Client(project=settings.project))
    path = sqlite_path or settings.data_dir / "state.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path)


def service_config(settings: Settings) -> ServiceConfig:
    """The services' view of the settings: the risk envelope and enabled flag per asset, the mode, the
    orders topic, the universe size, the placing lease (sized from the Kite settings), where stops live and
    the guardrails (the other ServiceConfig fields keep their defaults)."""
    return ServiceConfig(
        envelope=settings.envelope(),
        enabled=settings.enabled(),
        mode=settings.mode,
        orders_topic=settings.orders_topic,
        universe_size=settings.symbols,
        placing_lease_seconds=settings.kite.placing_lease_s,
        resting_stops=settings.stops == "broker",
        stop_order=settings.stop_order,
        guardrails=settings.guardrails.guardrails(),
        structure=settings.options.structure(),
        telegram_chats=frozenset(settings.telegram.chat_ids if settings.telegram.enabled else ()),
    )


def _openai(settings: Settings, secrets: Secrets) -> Any:
    from tron.adapters.openai_planner import OpenAIPlanner

    o = settings.openai
    return OpenAIPlanner(secrets, o.model, o.timeout_s, o.max_tokens, o.base_url)


def notifier(settings: Settings, secrets: Secrets) -> Any:
    """Telegram when ``telegram.enabled`` (the kinds in ``telegram.notify``, to ``telegram.chat_ids``), else
    log lines (tron.adapters.log_notifier)."""
    t = settings.telegram
    if not t.enabled:
        return LogNotifier()
    from tron.adapters.telegram import TelegramNotifier

    return TelegramNotifier(secrets, t.chat_ids, t.notify, t.api_base, t.timeout_s)


def configured_planner(settings: Settings, secrets: Secrets) -> Planner | None:
    """The configured planner when it is not the rule planner."""
    return _openai(settings, secrets) if settings.planner == "openai" else None


def kite_adapters(
    settings: Settings, clock: Clock, secrets: Secrets, store: Any, gen: MarketGenerator
) -> tuple[Any, Any]:
    """Kite market data, and the broker: Kite orders sharing the session (the official client, the account's
    order budget and per-process rate limits, breaker), or paper (or shadow) fills on Kite's quotes; with
    mode live, Kite orders only on the days an operator armed, shadow fills on the others
    (tron.services.live.DayBroker). The universe is the configured one (settings.symbols of the NIFTY 50
    list), as with generated data."""
    from tron.adapters.kite import CircuitBreaker, KiteBroker, KiteMarketData, KiteSession, RateLimiter
    from tron.adapters.kite.account_budget import AccountOrderBudget

    k = settings.kite
    session = KiteSession(
        k.api_key,  # unless the secret kite_api_key holds one (read on first use: no call at cold start)
        secrets,
        k.root,
        # Order operations share the account's budget with every other instance; other calls pace per process.
        limiter=AccountOrderBudget(
            store,
            RateLimiter(enabled=k.rate_limits),
            max_wait=k.order_budget_s,
            today=lambda: clock.now().date(),
            enabled=k.rate_limits,
        ),
        breaker=CircuitBreaker(k.breaker_failures, k.breaker_cooloff_s),
        retries=k.retries,
        timeout=k.timeout_s,
    )
    market = KiteMarketData(
        session, clock, [x.symbol for x in gen.listings], {x.symbol: x.sector for x in gen.listings}
    )
    if settings.broker != "kite":
        return market, paper_broker(settings, store, market, clock)
    kite = KiteBroker(
        session,
        clock,
        k.market_protection,
        k.follow_polls,
        k.poll_interval_s,
        order_budget=k.order_budget_s,
        algo_id=k.algo_id,
        slices=settings.guardrails.guardrails().slices,
    )
    if settings.mode == "live":  # Kite orders only on a day an operator armed; the others are shadow days
        from tron.services.live import DayBroker

        shadow = paper_broker(settings.model_copy(update={"broker": "shadow"}), store, market, clock)
        return market, DayBroker(store, kite, shadow, clock)
    return market, kite


def paper_broker(settings: Settings, store: Any, market: Any, clock: Clock) -> Any:
    """Paper fills on the market's quotes; with broker "shadow", every order call also built as the Kite
    broker would send it, checked against Kite's rules and recorded (tron.adapters.kite.shadow)."""
    slices = settings.guardrails.guardrails().slices
    paper = PaperBroker(store, market, clock, slices=slices)
    if settings.broker != "shadow":
        return paper
    from tron.adapters.kite.shadow import ShadowBroker

    return ShadowBroker(
        paper, store, clock, settings.kite.market_protection, settings.kite.algo_id, slices=slices
    )


def trading_calendar() -> TradingCalendar:
    """NSE's calendar: the packaged snapshot (it spares a cold start pandas, ~0.4 s), else computed."""
    return snapshot_calendar() or nse_calendar()


def seeded_market(settings: Settings, clock: Clock) -> GeneratedMarketData:
    """The simulated market of the configuration's seed and universe (settings.seed, settings.symbols)."""
    return GeneratedMarketData(
        MarketGenerator(nifty50(settings.symbols), trading_calendar(), seed=settings.seed), clock
    )


def _assemble(settings: Settings, clock: Clock, store: Any, bus: Any, archive: Any, secrets: Secrets) -> Deps:
    """The parts every backend shares: the calendar, market data and paper fills, the planners."""
    generated = seeded_market(settings, clock)
    calendar = generated.gen.calendar
    market: Any = generated
    broker: Any = paper_broker(settings, store, market, clock)
    margins = None
    if settings.market_data == "kite":
        market, broker = kite_adapters(settings, clock, secrets, store, generated.gen)
        if settings.broker == "kite":  # the structures' margin from Kite's own calculator
            from tron.adapters.kite.margins import KiteMargins

            margins = KiteMargins(market.session)
    rules = RulesPlanner()
    deps = Deps(
        store=store,
        bus=bus,
        archive=archive,
        secrets=secrets,
        clock=clock,
        market=market,
        broker=broker,
        planner=configured_planner(settings, secrets) or rules,
        fallback_planner=rules,
        calendar=calendar,
        config=service_config(settings),
        margins=margins,
        notifier=notifier(settings, secrets),
    )
    if settings.market_data == "kite":
        from tron.services.kite_login import halt_for_expired_token

        market.session.on_token_expired = lambda reason: halt_for_expired_token(deps, reason)
    if settings.kite.root:  # the daily login's exchange (it makes no call until a login)
        from tron.adapters.kite import KiteTokenExchange

        k = settings.kite
        deps.login = KiteTokenExchange(k.api_key, secrets, k.root, k.timeout_s)
    if settings.review:
        from tron.adapters.openai_planner import OpenAIReviewer

        deps.reviewer = OpenAIReviewer(_openai(settings, secrets))
    return deps


def embedded(
    settings: Settings, clock: Clock | None = None, root: Path | None = None, log_to_archive: bool = True
) -> tuple[Deps, InProcBus]:
    """The embedded set: SQLite, an in-process bus, a local folder, environment secrets, generated market
    data and paper fills. Returns the deps and the bus (the day loop, tron.runday, drives its deliveries)."""
    root = root or settings.data_dir
    clock = clock or RealClock()
    archive = LocalArchive(root / "archive")
    bus = InProcBus(redeliver_fraction=settings.redeliver_fraction, seed=settings.seed)
    deps = _assemble(settings, clock, SqliteStore(root / "state.sqlite"), bus, archive, EnvSecrets())
    if log_to_archive:
        install(ArchiveHandler(archive, JsonFormatter(clock)), logging.INFO)
    return deps, bus


@dataclass
class GcpClients:
    """The Google Cloud clients the gcp backend is composed on (the emulator day passes its own)."""

    firestore: Any
    publisher: Any
    storage: Any
    secretmanager: Any | None = None  # None: secrets from the environment (what the functions mount)

    @staticmethod
    def default(project: str) -> GcpClients:
        """Firestore now (every function reads state); the others on first use, so a function does not
        import and connect what it never calls at cold start (bench/cold_start.py)."""
        from google.cloud import firestore

        def publisher() -> Any:
            import google.cloud.pubsub_v1 as pubsub_v1

            return pubsub_v1.PublisherClient()

        def storage_client() -> Any:
            import google.cloud.storage as storage

            return storage.Client(project=project)

        def secretmanager_client() -> Any:
            from google.cloud import secretmanager

            return secretmanager.SecretManagerServiceClient()

        return GcpClients(
            firestore.Client(project=project),
            _OnFirstUse(publisher),
            _OnFirstUse(storage_client),
            _OnFirstUse(secretmanager_client),
        )


class _OnFirstUse:
    """A client built when one of its attributes is first used (the adapters only call methods on it)."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


def gcp(settings: Settings, clock: Clock, clients: GcpClients | None = None) -> Deps:
    """The Google Cloud set: Firestore, Pub/Sub, Cloud Storage and Secret Manager; market data and the broker
    as configured (Kite quotes with paper fills when deployed)."""
    from tron.adapters.firestore_store import FirestoreStore
    from tron.adapters.gcs_archive import GcsArchive
    from tron.adapters.pubsub_bus import PubSubBus
    from tron.adapters.secretmanager import SecretManagerSecrets

    project, bucket = settings.project or "", settings.archive_bucket or ""
    clients = clients or GcpClients.default(project)
    secrets: Secrets = (
        SecretManagerSecrets(clients.secretmanager, project, ttl_seconds=300, clock=clock)
        if clients.secretmanager is not None
        else EnvSecrets()
    )
    return _assemble(
        settings,
        clock,
        FirestoreStore(clients.firestore),
        PubSubBus(clients.publisher, project),
        GcsArchive(clients.storage, bucket),
        secrets,
    )


def sweep_archive(settings: Settings) -> Any:
    """The configured backend's archive on its own (a sweep's Cloud Run task reads and writes only it): the
    GCS bucket for backend gcp, else the data folder's archive. No Firestore client is made."""
    if settings.backend != "gcp":
        return LocalArchive(settings.data_dir / "archive")
    import google.cloud.storage as storage

    from tron.adapters.gcs_archive import GcsArchive

    return GcsArchive(storage.Client(project=settings.project), settings.archive_bucket or "")


def cloud_run_sweeps(project: str, region: str, bucket: str, endpoint: str | None = None) -> tuple[Any, Any]:
    """What `tron optimize --runner cloud-run` submits through: the project's archive bucket (where the job
    reads and writes) and the Cloud Run jobs launcher (the Admin API, or a local stand-in at ``endpoint``).
    google.auth's DefaultCredentialsError when there are no credentials."""
    import google.cloud.storage as storage

    from tron.adapters.cloud_run_jobs import CloudRunJobs, make_session
    from tron.adapters.gcs_archive import GcsArchive

    launcher = CloudRunJobs(make_session(endpoint), project, region, endpoint)
    return GcsArchive(storage.Client(project=project), bucket), launcher


def from_environment() -> Deps:
    """Deps for a Cloud Function process: settings from the environment, logs as JSON lines on stdout
    (Cloud Logging parses them). A deployment uses backend gcp; the embedded bus is not drained here."""
    import sys

    from tron.config.settings import load_settings

    settings = load_settings()
    clock = RealClock()
    deps = (
        gcp(settings, clock)
        if settings.backend == "gcp"
        else embedded(settings, clock, log_to_archive=False)[0]
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(clock))
    install(handler)
    return deps
