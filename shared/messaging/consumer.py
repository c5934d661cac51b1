"""The consumer every service uses: validate, dedupe (inbox), handle in one transaction, ack.

- a message that can never succeed (bad JSON, bad envelope, unknown type, bad payload, or a
  handler raising `PermanentError`) goes to the queue's dead-letter queue at once, with the reason
  in the `x-ebok-reason` header;
- any other failure is retried through the delay queues, then dead-lettered with the last error;
- a redelivered message whose id the inbox already holds changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pydantic import BaseModel, ValidationError

from shared.envelope import Envelope
from shared.events import CATALOG
from shared.logs import get_logger, set_correlation_id
from shared.messaging.broker import PUBLISH_ERRORS, Broker
from shared.messaging.topology import DeclaredQueue, ExchangeName, declare_consumer_queue
from shared.metrics import message_outcome
from shared.settings import Settings

log = get_logger(__name__)

Handler = Callable[[asyncpg.Connection, Envelope, Any], Awaitable[None]]

ATTEMPT_HEADER = "x-ebok-attempt"
REASON_HEADER = "x-ebok-reason"


class PermanentError(Exception):
    """Raised by a handler for a message that can never succeed; it is dead-lettered with this."""


@dataclass(frozen=True)
class Subscription:
    """A queue `<ns>.<service>.<purpose>` bound to the routing keys its handlers take."""

    purpose: str
    exchange: ExchangeName
    handlers: Mapping[str, Handler]
    payload_models: Mapping[str, type[BaseModel]] | None = None

    def model_for(self, event_type: str) -> type[BaseModel] | None:
        models = self.payload_models or CATALOG
        return models.get(event_type)


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        where = ".".join(str(p) for p in err["loc"]) or "(message)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class Consumer:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        broker: Broker,
        service: str,
        subscription: Subscription,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.broker = broker
        self.subscription = subscription
        self.queue_name = broker.names.queue(service, subscription.purpose)
        self._channel: AbstractChannel | None = None
        self._declared: DeclaredQueue | None = None
        self._consumer_tag: str | None = None
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._batcher = _Batcher(
            pool, self.queue_name, settings.consumer_transactions, settings.consumer_batch_size
        )

    async def start(self) -> None:
        self._channel = await self.broker.channel(self.settings.amqp_prefetch)
        self._declared = await declare_consumer_queue(
            self._channel,
            self.broker.names,
            self.queue_name,
            [(self.subscription.exchange, key) for key in self.subscription.handlers],
            self.settings.retry_delays_ms,
            self.settings.queue_type,
        )
        self._batcher.start()
        self._consumer_tag = await self._declared.queue.consume(self._on_message)
        log.info("consuming", queue=self.queue_name)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, let in-flight ones finish, then close the channel."""
        if self._declared is not None and self._consumer_tag is not None:
            try:
                await self._declared.queue.cancel(self._consumer_tag)
            except PUBLISH_ERRORS as exc:
                log.warning("could not cancel consumer", queue=self.queue_name, error=str(exc))
            self._consumer_tag = None
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("in-flight messages did not finish", queue=self.queue_name)
        await self._batcher.stop()
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._inflight += 1
        self._idle.clear()
        try:
            await self._process(message)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    async def _process(self, message: AbstractIncomingMessage) -> None:
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError as exc:
            await self._dead_letter(message, f"invalid envelope: {describe_validation_error(exc)}")
            return
        set_correlation_id(envelope.correlation_id)
        handler = self.subscription.handlers.get(envelope.type)
        model = self.subscription.model_for(envelope.type)
        if handler is None or model is None:
            await self._dead_letter(message, f"no handler for type {envelope.type!r} on this queue")
            return
        try:
            payload = model.model_validate(envelope.payload)
        except ValidationError as exc:
            reason = f"invalid payload for {envelope.type}: {describe_validation_error(exc)}"
            await self._dead_letter(message, reason)
            return
        try:
            outcome = await self._batcher.submit(_Work(envelope, handler, payload))
            message_outcome(self.queue_name, outcome)
            if outcome == "duplicate":
                log.info("duplicate message ignored", message_id=str(envelope.id))
        except PermanentError as exc:
            await self._dead_letter(message, f"{envelope.type} refused: {exc}")
            return
        except Exception as exc:
            await self._retry_or_give_up(message, exc)
            return
        await self._ack(message)

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.ack()
        except PUBLISH_ERRORS as exc:
            # The channel went away: the broker redelivers, and the inbox makes that a no-op.
            log.warning("ack failed; message will be redelivered", error=str(exc))

    def _copy(self, message: AbstractIncomingMessage, **headers: Any) -> aio_pika.Message:
        kept = {k: v for k, v in (message.headers or {}).items() if k.startswith("x-ebok-")}
        return aio_pika.Message(
            body=message.body,
            headers={**kept, **headers},
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            app_id=message.app_id,
            timestamp=message.timestamp,
            content_type=message.content_type or "application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        message_outcome(self.queue_name, "dead_lettered")
        log.warning(
            "message dead-lettered",
            queue=self.queue_name,
            message_id=message.message_id,
            routing_key=message.routing_key,
            reason=reason,
        )
        copy = self._copy(
            message,
            **{
                REASON_HEADER: reason[:4000],
                "x-ebok-queue": self.queue_name,
                "x-ebok-routing-key": message.routing_key or "",
                "x-ebok-dead-lettered-at": datetime.now(UTC).isoformat(),
            },
        )
        await self._forward(message, "dead-letter", self.queue_name, copy)

    async def _retry_or_give_up(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0) or 0)
        error = f"{type(exc).__name__}: {exc}"[:1000]
        delays = self.settings.retry_delays_ms
        if attempt >= len(delays):
            await self._dead_letter(message, f"gave up after {attempt + 1} attempts: {error}")
            return
        log.warning(
            "message handling failed, will retry",
            queue=self.queue_name,
            message_id=message.message_id,
            attempt=attempt + 1,
            retry_in_ms=delays[attempt],
            error=error,
            exc_info=exc,
        )
        message_outcome(self.queue_name, "retried")
        copy = self._copy(message, **{ATTEMPT_HEADER: attempt + 1, "x-ebok-last-error": error})
        await self._forward(
            message, "", self.broker.names.retry_queue(self.queue_name, attempt), copy
        )

    async def _forward(
        self,
        message: AbstractIncomingMessage,
        exchange: str,
        routing_key: str,
        copy: aio_pika.Message,
    ) -> None:
        """Publish the copy with confirms, then ack the original; if that fails, requeue it."""
        try:
            await self.broker.publish(exchange, routing_key, copy)
        except PUBLISH_ERRORS as exc:
            log.error(
                "could not forward message; requeueing", queue=self.queue_name, error=str(exc)
            )
            await asyncio.sleep(1.0)
            try:
                await message.nack(requeue=True)
            except PUBLISH_ERRORS:
                pass  # the channel is gone: the broker requeues unacked messages itself
            return
        await self._ack(message)


@dataclass
class _Work:
    envelope: Envelope
    handler: Handler
    payload: Any
    done: asyncio.Future[str] | None = None


class _Batcher:
    """Runs the handlers of messages that arrive together in one transaction: one commit (one
    WAL flush) for many messages instead of one each. Up to `transactions` batches run at once;
    while they do, new messages gather for the next. If anything in a batch fails, the batch is
    rolled back and its messages run again one by one, so one bad message cannot fail others and
    every message gets its own outcome. A message alone in the queue goes at once, unbatched."""

    def __init__(self, pool: asyncpg.Pool, queue: str, transactions: int, batch_size: int) -> None:
        self.pool = pool
        self.queue = queue
        self.transactions = transactions
        self.batch_size = batch_size
        self._pending: list[_Work] = []
        self._ready = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._workers = [
            asyncio.create_task(self._work(), name=f"{self.queue}-batch-{n}")
            for n in range(self.transactions)
        ]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        for work in self._pending:
            if work.done is not None and not work.done.done():
                work.done.set_exception(ConnectionError("consumer stopped"))
        self._pending.clear()

    async def submit(self, work: _Work) -> str:
        """ "handled" or "duplicate"; raises what the handler raised."""
        work.done = asyncio.get_running_loop().create_future()
        self._pending.append(work)
        self._ready.set()
        return await work.done

    async def _work(self) -> None:
        while True:
            await self._ready.wait()
            batch = self._pending[: self.batch_size]
            del self._pending[: self.batch_size]
            if not self._pending:
                self._ready.clear()
            if batch:
                await self._run(batch)

    async def _run(self, batch: list[_Work]) -> None:
        try:
            outcomes = await self._transaction(batch)
        except Exception as exc:
            if len(batch) > 1:
                for work in batch:
                    await self._run([work])
                return
            _settle(batch[0], error=exc)
            return
        for work, outcome in zip(batch, outcomes, strict=True):
            _settle(work, outcome=outcome)

    async def _transaction(self, batch: list[_Work]) -> list[str]:
        async with self.pool.acquire(timeout=30) as conn, conn.transaction():
            fresh = {
                r["message_id"]
                for r in await conn.fetch(
                    """INSERT INTO inbox (message_id, queue, type)
                       SELECT m, $2, t FROM unnest($1::uuid[], $3::text[]) AS x(m, t)
                       ON CONFLICT (message_id) DO NOTHING RETURNING message_id""",
                    [w.envelope.id for w in batch],
                    self.queue,
                    [w.envelope.type for w in batch],
                )
            }
            outcomes = []
            for work in batch:
                if work.envelope.id not in fresh:
                    outcomes.append("duplicate")
                    continue
                fresh.discard(work.envelope.id)  # the same id twice in one batch: once only
                set_correlation_id(work.envelope.correlation_id)
                await work.handler(conn, work.envelope, work.payload)
                outcomes.append("handled")
            return outcomes


def _settle(work: _Work, *, outcome: str | None = None, error: BaseException | None = None) -> None:
    if work.done is None or work.done.done():
        return
    if error is not None:
        work.done.set_exception(error)
    else:
        work.done.set_result(outcome or "handled")
