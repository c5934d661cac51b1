"""A consumer platform of one probe service: its database (shared migrations only), a broker
connection and an integration client, for tests of the shared consumer with handlers of their
own; everything it declared is removed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from deploy.integration_client import IntegrationClient
from shared.db import SHARED_MIGRATIONS, create_pool, drop_database, migrate
from shared.envelope import Envelope
from shared.events import erp
from shared.messaging.broker import Broker
from shared.messaging.consumer import Consumer, Subscription
from shared.messaging.topology import Names
from shared.settings import Settings
from shared.tx import Database, Tx
from tests.support.infra import Infra
from tests.support.platform import make_settings


@dataclass
class Probe:
    service: str
    settings: Settings
    pool: asyncpg.Pool
    broker: Broker
    client: IntegrationClient
    consumers: list[Consumer] = field(default_factory=list)

    async def consume(
        self, purpose: str, handler: Callable[[Tx, Envelope, Any], Awaitable[None]]
    ) -> Consumer:
        """A consumer of `erp.customer.upserted` on `<ns>.<service>.<purpose>`."""
        consumer = Consumer(
            Database(self.pool, self.service, self.settings),
            self.broker,
            Subscription(purpose, {erp.CustomerUpserted: handler}),
        )
        await consumer.start()
        self.consumers.append(consumer)
        return consumer


@asynccontextmanager
async def consumer_probe(
    infra: Infra, keys: Path, service: str, **overrides: object
) -> AsyncIterator[Probe]:
    settings = make_settings(infra.database_url, infra.amqp_url, keys, **overrides)
    await migrate(settings, service, [("shared", SHARED_MIGRATIONS)])
    pool = await create_pool(settings, service)
    broker = Broker(settings, service)
    await broker.connect()
    async with IntegrationClient(settings.amqp_url, settings.namespace) as client:
        probe = Probe(service, settings, pool, broker, client)
        try:
            yield probe
        finally:
            for consumer in probe.consumers:
                await consumer.stop()
            channel = await broker.channel(1)
            for consumer in probe.consumers:
                q = consumer.queue_name
                retries = range(len(settings.retry_delays_ms))
                for name in [
                    q,
                    Names.dead_letter_queue(q),
                    *(Names.retry_queue(q, i) for i in retries),
                ]:
                    await channel.queue_delete(name)
            for name in ("events", "integration"):
                await channel.exchange_delete(broker.names.exchange(name))
            await channel.exchange_delete(broker.names.dead_letter_exchange)
            await broker.close()
            await pool.close()
            await drop_database(settings, settings.database_name(service))
