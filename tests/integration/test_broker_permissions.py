"""The RabbitMQ users of deploy/rabbitmq.py against the real broker: each service can declare,
consume and publish what its wiring needs and nothing of another service's; the ERP can only
publish its feed; the back office can only read its facts."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import aiormq
import pytest
import pytest_asyncio

from deploy.rabbitmq import users
from services.billing.handlers import SUBSCRIPTIONS as BILLING
from services.identity.handlers import SUBSCRIPTIONS as IDENTITY
from shared.messaging.broker import Broker as ServiceBroker
from shared.messaging.journal import declare_journal
from shared.messaging.topology import Names, declare_consumer_queue, declare_outbound_queue
from shared.settings import Settings
from tests.support.infra import Infra

PASSWORD = "permissions-test-" + secrets.token_hex(8)
REFUSED = (aiormq.exceptions.ChannelAccessRefused, aio_pika.exceptions.ChannelClosed)


async def rabbitmqctl(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()


@dataclass(frozen=True)
class Broker:
    namespace: str
    admin_url: str

    def url_of(self, who: str) -> str:
        parts = urlsplit(self.admin_url)
        host = parts.hostname or "127.0.0.1"
        netloc = f"{quote(f'{self.namespace}-{who}')}:{PASSWORD}@{host}:{parts.port or 5672}"
        return urlunsplit(parts._replace(netloc=netloc))


@pytest_asyncio.fixture(loop_scope="session")
async def broker(infra: Infra) -> AsyncIterator[Broker]:
    namespace = f"t{secrets.token_hex(5)}"
    made = users(namespace)
    for name, p in made.items():
        await rabbitmqctl("add_user", name, PASSWORD)
        await rabbitmqctl("set_permissions", "-p", "/", name, p.configure, p.write, p.read)
    try:
        yield Broker(namespace, infra.amqp_url)
    finally:
        for name in made:
            await rabbitmqctl("delete_user", name)
        connection = await aio_pika.connect(infra.amqp_url)
        async with connection:
            channel = await connection.channel()
            names = Names(namespace)
            for subscription in (*BILLING, *IDENTITY):
                for service in ("billing", "identity"):
                    queue = names.queue(service, subscription.purpose)
                    for name in (queue, names.dead_letter_queue(queue)):
                        await channel.queue_delete(name)
                    for level in range(10):
                        await channel.queue_delete(names.retry_queue(queue, level))
            await channel.queue_delete(names.queue("backoffice", "self-readings"))
            await channel.queue_delete(names.journal)
            for exchange in ("events", "integration"):
                await channel.exchange_delete(names.exchange(exchange))
            await channel.exchange_delete(names.dead_letter_exchange)


async def ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    await message.reject(requeue=True)


async def channel_of(
    url: str,
) -> tuple[aio_pika.abc.AbstractConnection, aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(url)
    return connection, await connection.channel()


async def test_a_service_declares_and_uses_its_own_queues_only(broker: Broker) -> None:
    names = Names(broker.namespace)
    connection, channel = await channel_of(broker.url_of("billing"))
    async with connection:
        # What billing's consumers declare at start: exchanges, queues, retry and dead-letter
        # queues, bindings.
        for subscription in BILLING:
            await declare_consumer_queue(
                channel,
                names,
                names.queue("billing", subscription.purpose),
                subscription.bindings,
                [100, 300],
                "classic",
            )
        events = await channel.get_exchange(names.exchange("events"))
        await events.publish(aio_pika.Message(b"{}"), routing_key="billing.nothing.happened")
        default = channel.default_exchange
        await default.publish(
            aio_pika.Message(b"{}"),
            routing_key=names.retry_queue(names.queue("billing", BILLING[0].purpose), 0),
        )

    # The journal: billing declares it and binds it like its queues, but may not read it (the
    # operator's replay does).
    service = ServiceBroker(
        Settings(namespace=broker.namespace, amqp_url=broker.url_of("billing")), "billing"
    )
    await service.connect()
    try:
        await declare_journal(service, [b for s in BILLING for b in s.bindings], "7D")
        channel = await service.channel(10)
        journal = await channel.get_queue(names.journal, ensure=False)
        with pytest.raises(REFUSED):
            await journal.consume(ignore, arguments={"x-stream-offset": "first"})
    finally:
        await service.close()

    # Identity's queues are not billing's to declare or to read.
    connection, channel = await channel_of(broker.url_of("billing"))
    async with connection:
        with pytest.raises(REFUSED):
            await declare_consumer_queue(
                channel,
                names,
                names.queue("identity", IDENTITY[0].purpose),
                IDENTITY[0].bindings,
                [100],
                "classic",
            )

    admin = await aio_pika.connect(broker.admin_url)
    async with admin:
        admin_channel = await admin.channel()
        await admin_channel.declare_queue(names.queue("identity", "peek"), auto_delete=True)
        connection, channel = await channel_of(broker.url_of("billing"))
        async with connection:
            queue = await channel.get_queue(names.queue("identity", "peek"), ensure=False)
            with pytest.raises(REFUSED):
                await queue.consume(ignore)


async def test_outside_systems_publish_their_feed_and_read_their_facts_only(
    broker: Broker,
) -> None:
    names = Names(broker.namespace)
    # metering declares its outbound queue for the back office
    connection, channel = await channel_of(broker.url_of("metering"))
    async with connection:
        await declare_outbound_queue(
            channel,
            names,
            names.queue("backoffice", "self-readings"),
            ["metering.reading.submitted"],
            "classic",
        )

    async def publish(channel: aio_pika.abc.AbstractChannel, exchange: str, key: str) -> None:
        found = await channel.get_exchange(names.exchange(exchange))  # passive: not checked
        await found.publish(aio_pika.Message(b"{}"), routing_key=key)

    async def consume(channel: aio_pika.abc.AbstractChannel, queue: str) -> None:
        await (await channel.get_queue(queue)).consume(ignore)

    async def refused(who: str, attempt: object) -> None:
        connection, channel = await channel_of(broker.url_of(who))
        async with connection:
            with pytest.raises(REFUSED):
                await attempt(channel)  # type: ignore[operator]

    connection, channel = await channel_of(broker.url_of("erp"))
    async with connection:
        integration = await channel.get_exchange(names.exchange("integration"))
        await integration.publish(aio_pika.Message(b"{}"), routing_key="erp.invoice.issued")
    await refused("erp", lambda ch: ch.declare_queue(names.queue("erp", "sneaky")))
    await refused("erp", lambda ch: publish(ch, "events", "identity.account.activated"))
    await refused("erp", lambda ch: consume(ch, names.queue("backoffice", "self-readings")))

    connection, channel = await channel_of(broker.url_of("backoffice"))
    async with connection:
        facts = await channel.get_queue(names.queue("backoffice", "self-readings"))
        await facts.consume(ignore)
    await refused("backoffice", lambda ch: publish(ch, "integration", "erp.invoice.issued"))
    await refused("backoffice", lambda ch: ch.declare_queue(names.queue("backoffice", "other")))
