"""What an outside utility system does: publish feed messages to the integration exchange.

Used by the demo-data loader and by the tests, exactly as ERP or the reading system would.
"""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
from pydantic import BaseModel

from shared.envelope import new_envelope
from shared.messaging.broker import envelope_message
from shared.messaging.topology import ExchangeName, Names

RECONNECT_TIMEOUT_SECONDS = 60


class IntegrationClient:
    def __init__(
        self,
        amqp_url: str,
        namespace: str,
        producer: str = "erp",
        exchange: ExchangeName = "integration",
    ) -> None:
        self.amqp_url = amqp_url
        self.names = Names(namespace)
        self.producer = producer
        self.exchange_name = self.names.exchange(exchange)
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractRobustChannel | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def __aenter__(self) -> IntegrationClient:
        self._connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._channel = channel  # type: ignore[assignment]
        self._exchange = await channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def publish(
        self, event_type: str, payload: BaseModel, message_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        envelope = new_envelope(event_type, payload, self.producer, message_id=message_id)
        await self.publish_raw(event_type, envelope_message(envelope))
        return envelope.id

    async def publish_raw(self, routing_key: str, message: aio_pika.Message) -> None:
        """Publish as is (mandatory, confirmed): for feeds built elsewhere, and for bad ones."""
        assert self._exchange is not None, "use `async with IntegrationClient(...)`"
        assert self._channel is not None
        # After a broker restart the robust channel comes back in the background: wait for it
        # (bounded) instead of failing on the closed one, as an outside system's client would.
        await asyncio.wait_for(self._channel.ready(), timeout=RECONNECT_TIMEOUT_SECONDS)
        await self._exchange.publish(message, routing_key=routing_key, mandatory=True)
