"""A robust RabbitMQ connection with a publisher-confirms channel (aio-pika)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

from shared.envelope import Envelope
from shared.logs import get_logger
from shared.messaging.topology import ExchangeName, Names, declare_exchanges
from shared.retrying import connect_with_retry
from shared.settings import Settings

log = get_logger(__name__)

PUBLISH_ERRORS = (
    aio_pika.exceptions.AMQPError,
    aiormq.exceptions.AMQPError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
    RuntimeError,
)


def republished(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    """A message taken from a queue, to publish again as it was (body, id and properties, so
    that the consumer's inbox knows it) with `headers` instead of its own: the dead-letter and
    replay tools' copies."""
    return aio_pika.Message(
        body=message.body,
        headers=headers,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        type=message.type,
        app_id=message.app_id,
        timestamp=message.timestamp,
        content_type=message.content_type or "application/json",
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


def envelope_message(envelope: Envelope, body: bytes | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        body=body if body is not None else envelope.model_dump_json().encode(),
        message_id=str(envelope.id),
        correlation_id=envelope.correlation_id,
        type=envelope.type,
        app_id=envelope.producer,
        timestamp=envelope.occurred_at,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


class Broker:
    """One connection per service; a confirming channel for publishing, one per consumer."""

    def __init__(self, settings: Settings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.names = Names(settings.namespace)
        self.connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._lost_at: float | None = None  # monotonic time the connection was lost, if it is

    async def connect(self) -> None:
        """Connect, retrying until the configured deadline: aio-pika fails fast on the first try."""
        self.connection = await connect_with_retry(
            lambda: aio_pika.connect_robust(
                self.settings.amqp_url,
                client_properties={"connection_name": f"{self.settings.namespace}.{self.service}"},
            ),
            what="broker",
            timeout=self.settings.broker_connect_timeout_seconds,
            errors=(ConnectionError, OSError, aiormq.exceptions.AMQPError),
        )
        # aio-pika reconnects on its own; these make a lost and a restored connection visible.
        self.connection.close_callbacks.add(self._on_connection_lost)
        self.connection.reconnect_callbacks.add(self._on_reconnected)
        self._publish_channel = await self.connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._exchanges = await declare_exchanges(self._publish_channel, self.names)
        self._exchanges[""] = self._publish_channel.default_exchange
        log.info("broker connected", service=self.service)

    def _on_connection_lost(
        self, _connection: AbstractConnection, reason: BaseException | None
    ) -> None:
        # aio-pika calls this again on every failed reconnection attempt (and logs each attempt
        # itself): one line per outage is enough.
        if self._lost_at is not None:
            return
        self._lost_at = time.monotonic()
        log.warning(
            "broker connection lost",
            service=self.service,
            reason=(str(reason) or type(reason).__name__) if reason is not None else "closed",
            error_type=type(reason).__name__ if reason is not None else None,
        )

    def _on_reconnected(self, _connection: AbstractConnection) -> None:
        lost_at, self._lost_at = self._lost_at, None
        down = round(time.monotonic() - lost_at, 1) if lost_at is not None else None
        log.info("broker reconnected", service=self.service, down_seconds=down)

    async def channel(self, prefetch: int) -> AbstractChannel:
        assert self.connection is not None, "connect() first"
        channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        await channel.set_qos(prefetch_count=prefetch)
        return channel

    @property
    def is_connected(self) -> bool:
        return (
            self.connection is not None
            and not self.connection.is_closed
            and self._publish_channel is not None
            and not self._publish_channel.is_closed
        )

    async def publish(
        self,
        exchange: ExchangeName | str,
        routing_key: str,
        message: aio_pika.Message,
        timeout: float = 10.0,
    ) -> None:
        """Publish mandatory with confirms: an unroutable or refused message raises."""
        if not self.is_connected:
            raise ConnectionError("broker connection is not open")
        await self._exchanges[exchange].publish(
            message, routing_key=routing_key, mandatory=True, timeout=timeout
        )

    async def close(self) -> None:
        if self.connection is not None:
            # Our own close is no lost connection.
            self.connection.close_callbacks.discard(self._on_connection_lost)
            self.connection.reconnect_callbacks.discard(self._on_reconnected)
            await self.connection.close()
            self.connection = None
