"""The composition root: settings → adapters → services. The only place that chooses implementations."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tron.adapters.calendar import nse_calendar
from tron.adapters.clock import RealClock
from tron.adapters.env_secrets import EnvSecrets
from tron.adapters.inproc_bus import InProcBus
from tron.adapters.localfs import LocalArchive
from tron.adapters.logs import ArchiveHandler, JsonFormatter, install
from tron.adapters.paper import PaperBroker
from tron.adapters.rules_planner import RulesPlanner
from tron.adapters.sqlite_store import SqliteStore
from tron.ports import Clock, Planner, Secrets
from tron.services.deps import Deps, ServiceConfig
from tron.settings import Settings
from tron.sim.market import GeneratedMarketData, MarketGenerator, nifty50


def service_config(settings: Settings) -> ServiceConfig:
    return ServiceConfig(
        envelope=settings.envelope(),
        enabled=settings.enabled(),
        mode=settings.mode,
        orders_topic=settings.orders_topic,
        universe_size=settings.symbols,
    )


def _openai(settings: Settings, secrets: Secrets) -> Any:
    from tron.adapters.openai_planner import OpenAIPlanner

    o = settings.openai
    return OpenAIPlanner(secrets, o.model, o.timeout_s, o.max_tokens, o.base_url)


def configured_planner(settings: Settings, secrets: Secrets) -> Planner | None:
    """The configured planner when it is not the rule planner."""
    return _openai(settings, secrets) if settings.planner == "openai" else None


def _assemble(settings: Settings, clock: Clock, store: Any, bus: Any, archive: Any, secrets: Secrets) -> Deps:
    """The parts every backend shares: the calendar, market data and paper fills, the planners."""
    calendar = nse_calendar()
    gen = MarketGenerator(nifty50(settings.symbols), calendar, seed=settings.seed)
    market = GeneratedMarketData(gen, clock)
    rules = RulesPlanner()
    deps = Deps(
        store=store,
        bus=bus,
        archive=archive,
        secrets=secrets,
        clock=clock,
        market=market,
        broker=PaperBroker(store, market),
        planner=configured_planner(settings, secrets) or rules,
        fallback_planner=rules,
        calendar=calendar,
        config=service_config(settings),
    )
    if settings.review:
        from tron.adapters.openai_planner import OpenAIReviewer

        deps.reviewer = OpenAIReviewer(_openai(settings, secrets))
    return deps


def embedded(
    settings: Settings, clock: Clock | None = None, root: Path | None = None, log_to_archive: bool = True
) -> tuple[Deps, InProcBus]:
    """The embedded set: SQLite, an in-process bus, a local folder, environment secrets, generated market
    data and paper fills. Returns the deps and the bus (the runner drives its deliveries)."""
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
    firestore: Any
    publisher: Any
    storage: Any
    secretmanager: Any | None = None  # None: secrets from the environment (what the functions mount)

    @staticmethod
    def default(project: str) -> GcpClients:
        from google.cloud import firestore, pubsub_v1, secretmanager, storage

        return GcpClients(
            firestore.Client(project=project),
            pubsub_v1.PublisherClient(),
            storage.Client(project=project),
            secretmanager.SecretManagerServiceClient(),
        )


def gcp(settings: Settings, clock: Clock, clients: GcpClients | None = None) -> Deps:
    """The Google Cloud set: Firestore, Pub/Sub, Cloud Storage and Secret Manager. Market data and fills are
    the simulator's and paper until the Kite adapter lands."""
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


def from_environment() -> Deps:
    """Deps for a Cloud Function process: settings from the environment, logs as JSON lines on stdout
    (Cloud Logging parses them). A deployment uses backend gcp; the embedded bus is not drained here."""
    import sys

    from tron.settings import load_settings

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
