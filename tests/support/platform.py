"""The whole platform in-process: every service's real app on a free port, on one event loop,
against real PostgreSQL and RabbitMQ, in a namespace of its own that is removed afterwards."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg
from aiohttp import web

from services.gateway.app import OPS_URL
from shared.db import drop_database
from shared.messaging.topology import Names
from shared.runtime import CONSUMER_QUEUES, OUTBOUND_QUEUES
from shared.services import GATEWAY_UPSTREAMS, SERVICES
from shared.settings import Settings

BUILDERS: dict[str, Callable[[Settings], web.Application]] = {
    s.name: importlib.import_module(f"{s.module}.app").build_app for s in SERVICES
}
DATABASE_SERVICES = tuple(s.name for s in SERVICES if s.owns_database)
# Processes started with other settings (the runner, benchmarks) may have more delay queues.
MAX_RETRY_LEVELS = 10


def make_settings(database_url: str, amqp_url: str, keys: Path, **overrides: object) -> Settings:
    namespace = f"t{secrets.token_hex(5)}"
    values: dict[str, object] = {
        "env": "test",
        "namespace": namespace,
        "database_url": database_url,
        "amqp_url": amqp_url,
        "jwt_private_key_file": keys / "private.pem",
        "jwt_public_key_file": keys / "public.pem",
        "sealing_key_file": keys / "sealing.key",
        "captcha_test_answer": "TEST1",
        # The gateway's credential towards the services, as `make run` makes one.
        "internal_token": secrets.token_urlsafe(32),
        # The gateway's operations listener on a free port (Platform.ops_url).
        "gateway_ops_port": 0,
        # A light proof of work: the tests solve many (production: 1,000,000).
        "captcha_pow_max_number": 2_000,
        "retry_delays_ms": [100, 300, 1000],
        "queue_type": "classic",
        # Several platforms run at once in a test session; PostgreSQL has 100 connections.
        "db_pool_max": 4,
        "outbox_poll_seconds": 0.5,
        "email_poll_seconds": 0.2,
        "email_retry_base_seconds": 0.2,
        "email_retry_max_seconds": 1.0,
        "broker_connect_timeout_seconds": 30.0,
        "public_url": "https://ebok.test",
        # No test reaches the real Przelewy24: a closed port unless a test gives its own provider.
        "p24_base_url": "http://127.0.0.1:9",
        "log_format": "console",
        # Rate limits get their own tests; the rest of the suite registers from one address.
        "registrations_per_window": 10_000,
        "captchas_per_window": 10_000,
        "login_failures_per_window": 10_000,
        "login_failures_per_ip_per_window": 10_000,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


class Platform:
    def __init__(self, settings: Settings, ports: dict[str, int] | None = None) -> None:
        self.settings = settings
        # A service's port when a test must know it before the start (else a free one).
        self.ports = ports or {}
        self.names = Names(settings.namespace)
        self.runners: dict[str, web.AppRunner] = {}
        self.urls: dict[str, str] = {}
        self.apps: dict[str, web.Application] = {}

    async def start(self, *services: str) -> Platform:
        for name in services or tuple(BUILDERS):
            await self.start_service(name)
        return self

    async def start_service(self, name: str, **overrides: object) -> None:
        """Start `name`; `overrides` change its settings only (a service restarted with a new
        configuration)."""
        settings = self.settings.model_copy(
            update={
                **{f"{s}_url": u for s, u in self.urls.items() if s in GATEWAY_UPSTREAMS},
                **overrides,
            }
        )
        app = BUILDERS[name](settings)
        runner = web.AppRunner(app, shutdown_timeout=5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.ports.get(name, 0))
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.runners[name] = runner
        self.apps[name] = app
        self.urls[name] = f"http://127.0.0.1:{port}"

    def ops_url(self, name: str) -> str:
        """Where `name` answers /health/ready and /metrics: the gateway on its operations port,
        the others on their only one."""
        return self.apps[name].get(OPS_URL) or self.urls[name]

    async def stop_service(self, name: str) -> None:
        runner = self.runners.pop(name)
        await runner.cleanup()

    async def stop(self) -> None:
        for name in reversed(list(self.runners)):
            await self.stop_service(name)

    def queues(self) -> tuple[set[str], set[str]]:
        """The consumer queues and outbound queues every service declares in this namespace,
        whether it ran here or as a process (services know them before they start)."""
        consumers: set[str] = set()
        outbound: set[str] = set()
        for build in BUILDERS.values():
            app = build(self.settings)
            consumers.update(app.get(CONSUMER_QUEUES, []))
            outbound.update(app.get(OUTBOUND_QUEUES, []))
        return consumers, outbound

    async def remove_namespace(self) -> None:
        """Drop the namespace's databases, queues (the journal stream too) and exchanges."""
        consumer_queues, outbound_queues = self.queues()
        for service in DATABASE_SERVICES:
            await drop_database(self.settings, self.settings.database_name(service))
        connection = await aio_pika.connect(self.settings.amqp_url)
        async with connection:
            channel = await connection.channel()
            for name in [*outbound_queues, self.names.journal]:
                await channel.queue_delete(name)
            for queue in consumer_queues:
                names = [queue, Names.dead_letter_queue(queue)]
                names += [Names.retry_queue(queue, n) for n in range(MAX_RETRY_LEVELS)]
                for name in names:
                    await channel.queue_delete(name)
            for exchange in (
                self.names.exchange("events"),
                self.names.exchange("integration"),
                self.names.dead_letter_exchange,
            ):
                await channel.exchange_delete(exchange)

    async def db(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(self.settings.service_dsn(service))


async def wait_until(
    check: Callable[[], Awaitable[object] | object],
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> object:
    """Poll `check` (plain or async) until it returns something truthy; fail after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class ApiClient:
    """The front end's view: JSON over HTTP to the gateway."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url
        # Every JSON exchange, so a test can check them all against the OpenAPI document.
        self.recorded: list[tuple[str, str, int, str, object]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        token: str | None = None,
        **kwargs: object,
    ) -> tuple[int, object]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.base_url + path, json=json, headers=headers, **kwargs
        ) as resp:  # type: ignore[arg-type]
            body = await resp.json(content_type=None) if resp.content_length != 0 else None
            self.recorded.append((method, resp.url.raw_path, resp.status, resp.content_type, body))
            return resp.status, body
