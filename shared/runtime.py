"""The pieces every service wires in its app.py: database, broker, outbox relay, consumers,
background loops and health endpoints, each as an aiohttp cleanup context."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

import asyncpg
from aiohttp import web

from shared import grants, sessions, tracing
from shared.api.common import HealthOut
from shared.auth import Principal, TokenVerifier
from shared.db import (
    Notifier,
    app_dsn,
    create_pool,
    migrate,
    migration_components,
    pending_migrations,
    run_loop,
)
from shared.events.common import Event
from shared.http.middleware import correlation_middleware
from shared.http.problems import json_response, problem_middleware
from shared.logs import get_logger
from shared.messaging.broker import Broker
from shared.messaging.consumer import Consumer, Subscription
from shared.messaging.journal import declare_journal
from shared.messaging.outbox import NOTIFY_CHANNEL, OutboxRelay
from shared.messaging.topology import Names, declare_outbound_queue
from shared.metrics import metrics_handler
from shared.ops_metrics import Probe, Sampler
from shared.retention import Purger
from shared.services import SERVICES
from shared.settings import Settings
from shared.tx import Database

log = get_logger(__name__)

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
DB = web.AppKey("db", Database)
BROKER = web.AppKey("broker", Broker)
CONSUMERS = web.AppKey("consumers", list)
# Names of the queues a service's consumers take, and of the durable queues it declares for
# outside systems to read its facts from.
CONSUMER_QUEUES = web.AppKey("consumer_queues", list)
OUTBOUND_QUEUES = web.AppKey("outbound_queues", list)
# Each consumer queue's name → its bindings (exchange, routing key): what the journal keeps for
# it and what a replay gives it again (deploy/replay.py).
SERVICE = web.AppKey("service", str)
VERIFIER = web.AppKey("verifier", TokenVerifier)

Context = Callable[[web.Application], AsyncIterator[None]]
ReadyCheck = Callable[[web.Application], Awaitable[bool]]


def authenticate(request: web.Request, *, password_change: bool = False) -> Principal:
    """The caller of a route that needs an access token (checked again in every service)."""
    return request.app[VERIFIER].authenticate(request, password_change=password_change)


def new_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[correlation_middleware, problem_middleware])
    app[SETTINGS] = settings
    return app


class NotMigrated(RuntimeError):
    """EBOK_MIGRATE_ON_START is false and the service's database lacks migrations."""


def database(service: str) -> Context:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        components = migration_components(service)
        if settings.migrate_on_start:
            await migrate(settings, service, components)
        elif missing := await pending_migrations(settings, service, components):
            raise NotMigrated(
                f"the {service} database lacks migrations {', '.join(missing)}: run "
                f"`python -m deploy.migrate {service}` first (EBOK_MIGRATE_ON_START is false)"
            )
        pool = await create_pool(settings, service)
        app[POOL] = pool
        app[DB] = Database(pool, service, app[SETTINGS])
        yield
        await pool.close()

    return ctx


def broker(service: str) -> Context:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        connection = Broker(app[SETTINGS], service)
        await connection.connect()
        app[BROKER] = connection
        yield
        await connection.close()

    return ctx


def background_loop(
    name: str,
    step_factory: Callable[[web.Application], Callable[[], Awaitable[bool]]],
    notify_channel: str | None,
    poll_seconds: Callable[[Settings], float],
) -> Context:
    """Run a step function in a loop, woken by NOTIFY on `notify_channel` or by polling."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        notifier = Notifier(app_dsn(settings, app[SERVICE]), notify_channel)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_loop(name, step_factory(app), notifier, poll_seconds(settings), stop),
            name=name,
        )
        yield
        stop.set()
        notifier.wake()
        try:
            await asyncio.wait_for(task, 15)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await notifier.close()

    return ctx


def outbox_relay() -> Context:
    return background_loop(
        "outbox-relay",
        lambda app: OutboxRelay(app[POOL], app[BROKER]).publish_batch,
        NOTIFY_CHANNEL,
        lambda s: s.outbox_poll_seconds,
    )


def retention() -> Context:
    return background_loop(
        "retention",
        lambda app: Purger(app[POOL], app[SETTINGS]).step,
        None,  # it polls: no LISTEN connection of its own
        lambda s: s.retention_poll_seconds,
    )


def revocation_loader() -> Context:
    return background_loop(
        "revocation-loader",
        lambda app: sessions.RevocationLoader(app[POOL], app[VERIFIER]).load,
        sessions.NOTIFY_CHANNEL,
        lambda s: s.revocation_poll_seconds,
    )


def ops_sampler(probes: Sequence[Probe] = ()) -> Context:
    """The operations gauges (shared/ops_metrics.py), sampled every EBOK_METRICS_SAMPLE_SECONDS:
    outbox, `probes`, and the service's queues with their delay and dead-letter queues."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        sampler = Sampler(
            app[POOL],
            app[BROKER],
            app[SERVICE],
            consumer_queues=app[CONSUMER_QUEUES],
            outbound_queues=app[OUTBOUND_QUEUES],
            retry_levels=len(app[SETTINGS].retry_delays_ms),
            probes=probes,
        )
        loop = background_loop(
            "ops-sampler", lambda _app: sampler.sample, None, lambda s: s.metrics_sample_seconds
        )
        async for _ in loop(app):
            yield
        await sampler.close()

    return ctx


def consumers(subscriptions: Sequence[Subscription]) -> Context:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        if settings.journal:  # before the consumers: journaled from the queues' first message on
            bindings = [b for s in subscriptions for b in s.bindings]
            await declare_journal(app[BROKER], bindings, settings.journal_max_age)
        started: list[Consumer] = []
        for subscription in subscriptions:
            consumer = Consumer(app[DB], app[BROKER], subscription)
            await consumer.start()
            started.append(consumer)
        app[CONSUMERS] = started  # strong references: robust channels restore only live objects
        yield
        await asyncio.gather(*(c.stop() for c in started))

    return ctx


def outbound_queues(outbound: Mapping[str, Sequence[type[Event]]]) -> Context:
    """Declare `<ns>.backoffice.<fact>` for each fact, bound on the integration exchange to its
    events, so a mandatory publish of the fact always has a route and the fact waits for the
    back office."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        broker = app[BROKER]
        channel = await broker.channel(1)
        for fact, events in outbound.items():
            await declare_outbound_queue(
                channel,
                broker.names,
                broker.names.queue("backoffice", fact),
                [e.TYPE for e in events],
                app[SETTINGS].queue_type,
            )
        await channel.close()
        yield

    return ctx


async def database_ready(app: web.Application) -> bool:
    try:
        async with app[POOL].acquire(timeout=2) as conn:
            return await conn.fetchval("SELECT 1", timeout=2) == 1
    except (OSError, asyncpg.PostgresError, TimeoutError, KeyError):
        return False


async def broker_ready(app: web.Application) -> bool:
    return BROKER in app and app[BROKER].is_connected


def add_health_routes(
    app: web.Application, checks: dict[str, ReadyCheck], *, operations: bool = True
) -> None:
    """GET /health/live; with `operations`, also /health/ready (`checks`) and /metrics. The
    gateway serves those two on its operations port only (services/gateway/app.py)."""

    async def live(_request: web.Request) -> web.Response:
        return json_response(HealthOut(status="ok"))

    async def ready(request: web.Request) -> web.Response:
        results = {name: await check(request.app) for name, check in checks.items()}
        ok = all(results.values())
        return json_response(
            HealthOut(
                status="ok" if ok else "unavailable",
                checks={k: "ok" if v else "failing" for k, v in results.items()},
            ),
            status=200 if ok else 503,
        )

    app.router.add_get("/health/live", live)
    if operations:
        app.router.add_get("/health/ready", ready)
        app.router.add_get("/metrics", metrics_handler)


# What every service with routes also consumes: ended sessions (shared/sessions.py) and
# managers' grants (shared/grants.py).
ROUTED_SUBSCRIPTIONS: tuple[Subscription, ...] = (sessions.SUBSCRIPTION, grants.SUBSCRIPTION)


def subscriptions_of(service: str) -> list[Subscription]:
    """What `service` consumes, without building its app: its handler table
    (`services/<name>/handlers.py` SUBSCRIPTIONS) and, when it has routes (the gateway forwards
    to it: `upstream` in shared/services.py), ROUTED_SUBSCRIPTIONS. The dead-letter and replay
    tools and the Kubernetes generator ask this; tests/unit/test_subscriptions_of.py checks it
    against each built app's CONSUMER_QUEUES."""
    spec = next((s for s in SERVICES if s.name == service), None)
    if spec is None:
        raise KeyError(service)
    try:
        handlers = importlib.import_module(f"{spec.module}.handlers")
    except ModuleNotFoundError:
        return []
    own: list[Subscription] = list(getattr(handlers, "SUBSCRIPTIONS", ()))
    return [*own, *ROUTED_SUBSCRIPTIONS] if spec.upstream else own


def service_app(
    settings: Settings,
    service: str,
    *,
    subscriptions: Sequence[Subscription] = (),
    routes: Sequence[web.RouteTableDef] = (),
    outbound: Mapping[str, Sequence[type[Event]]] | None = None,
    extra_contexts: Sequence[Context] = (),
    probes: Sequence[Probe] = (),
) -> web.Application:
    """A service with its database (app[DB], migrated from `services/<service>/migrations`),
    broker, outbox relay, the consumers of its handler table (`subscriptions`), its HTTP
    `routes` (with app[VERIFIER] for their access tokens), the queues that keep its `outbound`
    facts for outside systems ({fact: [events]}), health checks and the operations gauges
    (with its own `probes`)."""
    app = new_app(settings)
    app[SERVICE] = service
    tracing.instrument(app, settings, service)  # nothing unless EBOK_OTLP_ENDPOINT is set
    # Known before it starts, so that tooling can find (and tests remove) what it declares.
    names = Names(settings.namespace)
    app[OUTBOUND_QUEUES] = [names.queue("backoffice", fact) for fact in outbound or {}]
    if routes:
        # Its routes take access tokens: it learns of ended sessions (shared/sessions.py) and
        # of managers' grants (shared/grants.py).
        app[VERIFIER] = TokenVerifier(settings)
        subscriptions = [*subscriptions, *ROUTED_SUBSCRIPTIONS]
        extra_contexts = [*extra_contexts, revocation_loader()]
        for table in routes:
            app.add_routes(table)
    app[CONSUMER_QUEUES] = [names.queue(service, s.purpose) for s in subscriptions]
    app.cleanup_ctx.extend(
        [
            database(service),
            broker(service),
            outbox_relay(),
            retention(),
            outbound_queues(outbound or {}),
            *extra_contexts,
            consumers(subscriptions),
            ops_sampler(probes),
        ]
    )
    add_health_routes(app, {"database": database_ready, "broker": broker_ready})
    return app


def run_service(build: Callable[[Settings], web.Application], service: str) -> None:
    """Entry point for `python -m services.<name>`: settings → app → run."""
    from shared.logs import configure_logging

    try:
        settings = Settings()
    except ValueError as exc:
        raise SystemExit(f"{service}: invalid settings: {exc}") from None
    if problem := settings.start_problem():
        raise SystemExit(f"{service}: {problem}")
    configure_logging(service, settings.log_level, settings.log_format)
    port = settings.service_port(service)
    host = settings.service_bind_host(service)
    log.info("starting", host=host, port=port, namespace=settings.namespace, env=settings.env)
    if settings.internal_token is None:
        log.warning(
            "security: EBOK_INTERNAL_TOKEN is not set: the gateway's calls cannot be told from "
            "others, so the services key rate limits on the gateway's own address"
        )
    web.run_app(build(settings), host=host, port=port, print=None, shutdown_timeout=20)
