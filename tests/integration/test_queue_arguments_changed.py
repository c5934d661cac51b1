"""A release that declares a queue with other arguments than the broker holds (the single active
consumer of the ordered queues, added to queues made by an earlier release) stops with a message
naming the queue and the runbook's step, not with the broker's bare PRECONDITION_FAILED."""

from __future__ import annotations

import secrets

import aio_pika
import pytest

from shared.messaging.topology import Names, QueueArgumentsChanged, declare_consumer_queue
from tests.support.infra import Infra


async def test_a_queue_made_without_single_active_consumer_is_named(infra: Infra) -> None:
    names = Names(f"t{secrets.token_hex(5)}")
    queue_name = names.queue("billing", "erp")
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        try:
            channel = await connection.channel()
            await declare_consumer_queue(
                channel, names, queue_name, [("integration", "erp.#")], [100], "classic"
            )
            channel = await connection.channel()
            with pytest.raises(QueueArgumentsChanged) as refused:
                await declare_consumer_queue(
                    channel,
                    names,
                    queue_name,
                    [("integration", "erp.#")],
                    [100],
                    "classic",
                    single_active=True,
                )
            message = str(refused.value)
            assert queue_name in message
            assert "with a single active consumer" in message
            assert "Upgrading without downtime" in message
        finally:
            channel = await connection.channel()
            for name in (queue_name, Names.dead_letter_queue(queue_name)):
                await channel.queue_delete(name)
            await channel.queue_delete(Names.retry_queue(queue_name, 0))
            for exchange in ("events", "integration"):
                await channel.exchange_delete(names.exchange(exchange))
            await channel.exchange_delete(names.dead_letter_exchange)
