"""The consumer every service uses: validate, dedupe (inbox), handle in one transaction, ack.

- a message that can never succeed (bad JSON, bad envelope, unknown type, bad payload, or a
  handler raising `PermanentError`) goes to the queue's dead-letter queue at once, with the reason
  in the `x-ebok-reason` header;
- any other failure is retried through the delay queues, then dead-lettered with the last error;
- a redelivered message whose id the inbox already holds changes nothing;
- while the service's database is unreachable, a message is not a failure of its own: it goes
  back to the queue untouched, and the consumer pauses (takes no messages) until the database
  answers again, so an outage of any length dead-letters nothing;
- a packed message (several envelopes, `shared.messaging.packing`) is taken envelope by
  envelope: each is deduped and handled on its own, a bad one is dead-lettered alone, the ones
  that failed go to the retry queue together, and the message is acked when every envelope has
  its outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aio_pika
import asyncpg
import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pydantic import ValidationError

from shared import tracing
from shared.envelope import Envelope
from shared.events.common import Event, ExchangeName
from shared.logs import get_logger, set_correlation_id
from shared.messaging.broker import PUBLISH_ERRORS, Broker
from shared.messaging.packing import (
    ENVELOPES_CONTENT_TYPE,
    ENVELOPES_HEADER,
    NotPacked,
    pack,
    unpack,
)
from shared.messaging.topology import DeclaredQueue, dead_letter_headers, declare_consumer_queue
from shared.metrics import message_outcome
from shared.tx import Database, Tx

log = get_logger(__name__)

# Every message handler: `async def handler(tx, envelope, payload) -> None`.
Handler = Callable[[Tx, Envelope, Any], Awaitable[None]]


@dataclass(frozen=True)
class Many:
    """A handler of all the messages of its type in a batch at once, for feeds where one
    statement for a hundred rows costs what one statement for one row does:
    `async def handler(tx, items: list[tuple[Envelope, payload]]) -> None`, the items in the
    order they arrived. Its effect must be that of handling them one by one in that order."""

    handle: Callable[[Tx, list[tuple[Envelope, Any]]], Awaitable[None]]
    # The handler of one message, when this takes them one by one (`handle_each`): traced, each
    # message is handled in a span of its own (shared/tracing.py).
    each: Handler | None = None


K = TypeVar("K")
P = TypeVar("P")


def latest(items: list[tuple[Envelope, P]], key: Callable[[P], K]) -> list[P]:
    """For a `Many` handler: the last message of each key, in the order of those last
    messages; what handling them one by one would leave where each message replaces its key's
    row (an upsert may not touch a row twice in one statement)."""
    found: dict[K, P] = {}
    for _envelope, payload in items:
        found.pop(key(payload), None)
        found[key(payload)] = payload
    return list(found.values())


def handle_each(handler: Handler) -> Many:
    """`handler` as a Many, one message after the other."""

    async def each(tx: Tx, items: list[tuple[Envelope, Any]]) -> None:
        for envelope, payload in items:
            set_correlation_id(envelope.correlation_id)
            await handler(tx, envelope, payload)

    return Many(each, handler)


ATTEMPT_HEADER = "x-ebok-attempt"


def attempts_so_far(headers: Mapping[str, Any] | None, retries: int) -> int:
    """The retries a message has had, from its attempt header, within 0..`retries` (at most:
    give up). Our retry copies carry a whole number; anything else (no header, or what an outside
    system put there: text, a list, a negative number) counts as none, so a message is retried or
    dead-lettered as usual and never fails its consumer's error handling."""
    value = (headers or {}).get(ATTEMPT_HEADER)
    if isinstance(value, bytes | str):
        try:
            value = int(value)
        except ValueError:  # also for a number too long to convert
            return 0
    if not isinstance(value, int) or isinstance(value, bool):
        return 0
    return min(max(value, 0), retries)


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (not that this message is wrong)."""
    return isinstance(
        exc,
        OSError  # refused, reset, unreachable
        | TimeoutError  # no pool connection within the bound (tx.ACQUIRE_TIMEOUT_SECONDS)
        | asyncpg.PostgresConnectionError  # class 08: connection exceptions
        | asyncpg.exceptions.OperatorInterventionError  # class 57: shutdown, cannot connect now
        | asyncpg.exceptions.TooManyConnectionsError
        | asyncpg.InterfaceError,  # the connection closed under the transaction
    )


# While the database is unreachable: the first probe after this, then up to the last apart.
PROBE_SECONDS = (0.5, 5.0)


class PermanentError(Exception):
    """Raised by a handler for a message that can never succeed; it is dead-lettered with this."""


class Undeliverable(Exception):
    """A message that no handler of the queue can take (bad envelope, unknown type, bad
    payload); it is dead-lettered with this reason."""


@dataclass(frozen=True)
class Route:
    """Where one message goes: its handler, its validated payload, and its place when a batch
    is handled type by type."""

    handler: Many
    payload: Event
    rank: int


@dataclass(frozen=True)
class Subscription:
    """A queue `<ns>.<service>.<purpose>` and the handler of each event it takes. Each payload
    model names its event type and exchange, so the queue is bound to exactly those.

    `types_commute`: the effects of messages of different types do not depend on each other's
    order (they touch different rows, and work that needs them all waits for the end of the
    transaction: `Tx.before_commit`). A batch is then handled type by type, in the table's
    order, each type's messages in the order they arrived, so that a `Many` handler takes all
    the messages of its type in one call.

    `in_order`: the handlers' effects depend on the order the messages arrive in (last writer
    wins, or a final state refuses what comes after it). With several instances of the service
    the queue then has a single active consumer: one instance takes its messages, the others
    stand by and the broker hands the queue to one of them when it goes (docs/scaling.md).
    Without it, every instance consumes the queue at once (competing consumers)."""

    purpose: str
    handlers: Mapping[type[Event], Handler | Many]
    types_commute: bool = False
    in_order: bool = False

    def __post_init__(self) -> None:
        many = {
            model: h if isinstance(h, Many) else handle_each(h)
            for model, h in self.handlers.items()
        }
        object.__setattr__(
            self,
            "_routes",
            {
                model.TYPE: (model, handler, rank if self.types_commute else 0)
                for rank, (model, handler) in enumerate(many.items())
            },
        )

    @property
    def bindings(self) -> list[tuple[ExchangeName, str]]:
        return [(model.EXCHANGE, model.TYPE) for model in self.handlers]

    def route(self, envelope: Envelope) -> Route:
        """The route of `envelope` with its validated payload, or Undeliverable."""
        found = self._routes.get(envelope.type)  # type: ignore[attr-defined]
        if found is None:
            raise Undeliverable(f"no handler for type {envelope.type!r} on this queue")
        model, handler, rank = found
        try:
            return Route(handler, model.model_validate(envelope.payload), rank)
        except ValidationError as exc:
            raise Undeliverable(
                f"invalid payload for {envelope.type}: {describe_validation_error(exc)}"
            ) from None


def parse_envelope(body: bytes) -> Envelope:
    try:
        return Envelope.model_validate_json(body)
    except ValidationError as exc:
        raise Undeliverable(f"invalid envelope: {describe_validation_error(exc)}") from None


def envelope_of(item: dict[str, Any]) -> Envelope:
    """One envelope of a packed message, validated, or Undeliverable."""
    try:
        return Envelope.model_validate(item)
    except ValidationError as exc:
        raise Undeliverable(f"invalid envelope: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        where = ".".join(str(p) for p in err["loc"]) or "(message)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class _Acks:
    """Acknowledges handled messages in runs: one `basic.ack(multiple)` for every message on a
    channel up to the last one whose predecessors are all handled (a batch of a hundred is one
    frame, not a hundred, each a write to the socket). Acks requested in one turn of the event
    loop go out together at its end; a message that goes back to the queue is forgotten here
    (its nack settles it), so an ack of many never covers it."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self._tags: dict[int, tuple[Any, dict[int, bool]]] = {}  # id(channel) -> channel, tags
        self._flush_due = False
        self._flushing: set[asyncio.Task[None]] = set()

    def received(self, message: AbstractIncomingMessage) -> None:
        channel = message.channel
        self._tags.setdefault(id(channel), (channel, {}))[1][message.delivery_tag] = False

    def forget(self, message: AbstractIncomingMessage) -> None:
        entry = self._tags.get(id(message.channel))
        if entry is not None:
            entry[1].pop(message.delivery_tag, None)
            self._flush_soon()  # the messages after it may be ackable now

    def ack(self, message: AbstractIncomingMessage) -> None:
        entry = self._tags.get(id(message.channel))
        if entry is None or message.delivery_tag not in entry[1]:
            return
        entry[1][message.delivery_tag] = True
        self._flush_soon()

    def _flush_soon(self) -> None:
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        self._flush_due = False
        task = asyncio.ensure_future(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        for key, (channel, tags) in list(self._tags.items()):
            last = None
            while tags:
                tag = next(iter(tags))
                if not tags[tag]:
                    break
                del tags[tag]
                last = tag
            if getattr(channel, "is_closed", False):
                # The broker requeues what a closed channel had not acked; the inbox makes a
                # redelivery of a handled message a no-op.
                del self._tags[key]
                continue
            if last is None:
                continue
            try:
                await channel.basic_ack(delivery_tag=last, multiple=True)
            except PUBLISH_ERRORS as exc:
                log.warning(
                    "ack failed; messages will be redelivered", queue=self.queue, error=str(exc)
                )

    async def drain(self) -> None:
        """Send what is due now and wait for every ack on its way."""
        await self.flush()
        await asyncio.gather(*self._flushing, return_exceptions=True)


class Consumer:
    def __init__(self, db: Database, broker: Broker, subscription: Subscription) -> None:
        self.settings = db.settings
        self.broker = broker
        self.subscription = subscription
        self.queue_name = broker.names.queue(db.service, subscription.purpose)
        self._channel: AbstractChannel | None = None
        self._declared: DeclaredQueue | None = None
        self._consumer_tag: str | None = None
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.db = db
        self._batcher = _Batcher(
            db, self.queue_name, db.settings.consumer_transactions, db.settings.consumer_batch_size
        )
        self._paused: asyncio.Task[None] | None = None
        self._acks = _Acks(self.queue_name)

    async def start(self) -> None:
        self._channel = await self.broker.channel(self.settings.amqp_prefetch)
        self._declared = await declare_consumer_queue(
            self._channel,
            self.broker.names,
            self.queue_name,
            self.subscription.bindings,
            self.settings.retry_delays_ms,
            self.settings.queue_type,
            single_active=self.subscription.in_order,
        )
        self._batcher.start()
        self._consumer_tag = await self._declared.queue.consume(self._on_message)
        log.info("consuming", queue=self.queue_name)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, let in-flight ones finish, then close the channel."""
        if self._paused is not None:
            self._paused.cancel()
            await asyncio.gather(self._paused, return_exceptions=True)
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
        await self._acks.drain()
        await self._batcher.stop()
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._acks.received(message)
        self._inflight += 1
        self._idle.clear()
        try:
            await self._process(message)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    async def _process(self, message: AbstractIncomingMessage) -> None:
        if message.content_type == ENVELOPES_CONTENT_TYPE:
            await self._process_packed(message)
            return
        try:
            envelope = parse_envelope(message.body)
            set_correlation_id(envelope.correlation_id)
            route = self.subscription.route(envelope)
        except Undeliverable as exc:
            await self._dead_letter(message, str(exc))
            return
        try:
            outcome = await self._batcher.submit(_Work(envelope, route))
            message_outcome(self.queue_name, outcome)
            if outcome == "duplicate":
                log.info("duplicate message ignored", message_id=str(envelope.id))
        except PermanentError as exc:
            await self._dead_letter(message, f"{envelope.type} refused: {exc}")
            return
        except Exception as exc:
            # Whether the database is away is asked of the database itself: a handler's own
            # ConnectionError (another system it calls) must go the usual way, retries and all.
            if database_unreachable(exc) and not await self._database_answers():
                await self._back_to_queue(message, exc)
                return
            await self._retry_or_give_up(message, exc)
            return
        await self._ack(message)

    async def _process_packed(self, message: AbstractIncomingMessage) -> None:
        """Each envelope of a packed message through the batcher; then one forward per
        envelope that can never succeed, one retry copy of those that failed, and the ack."""
        try:
            items = unpack(message.body)
        except NotPacked as exc:
            await self._dead_letter(message, str(exc))
            return
        works: list[tuple[dict[str, Any], _Work]] = []
        dead: list[tuple[dict[str, Any], str]] = []
        for item in items:
            try:
                envelope = envelope_of(item)
                works.append((item, _Work(envelope, self.subscription.route(envelope))))
            except Undeliverable as exc:
                dead.append((item, str(exc)))
        results = await self._batcher.submit_many([work for _, work in works])
        failed: list[tuple[dict[str, Any], Exception]] = []
        for (item, work), result in zip(works, results, strict=True):
            if isinstance(result, str):
                message_outcome(self.queue_name, result)
            elif isinstance(result, PermanentError):
                dead.append((item, f"{work.envelope.type} refused: {result}"))
            elif isinstance(result, Exception):
                failed.append((item, result))
            else:
                raise result  # cancelled: the consumer is stopping
        if any(database_unreachable(exc) for _, exc in failed) and not (
            await self._database_answers()
        ):
            # The whole message goes back; what was handled is in the inbox already.
            await self._back_to_queue(message, next(exc for _, exc in failed))
            return
        copies: list[tuple[str, str, aio_pika.Message]] = []
        delays = self.settings.retry_delays_ms
        attempt = attempts_so_far(message.headers, len(delays))
        if failed and attempt >= len(delays):
            dead += [
                (item, f"gave up after {attempt + 1} attempts: {type(exc).__name__}: {exc}"[:1000])
                for item, exc in failed
            ]
        elif failed:
            error = f"{type(failed[0][1]).__name__}: {failed[0][1]}"[:1000]
            log.warning(
                "envelopes failed, will retry",
                queue=self.queue_name,
                message_id=message.message_id,
                envelopes=len(failed),
                attempt=attempt + 1,
                retry_in_ms=delays[attempt],
                error=error,
                exc_info=failed[0][1],
            )
            message_outcome(self.queue_name, "retried", len(failed))
            body = pack([orjson.dumps(item).decode() for item, _ in failed])
            copy = self._copy(
                message,
                body=body,
                **{ATTEMPT_HEADER: attempt + 1, "x-ebok-last-error": error},
                **{ENVELOPES_HEADER: len(failed)},
            )
            copies.append(("", self.broker.names.retry_queue(self.queue_name, attempt), copy))
        for item, reason in dead:
            message_outcome(self.queue_name, "dead_lettered")
            log.warning(
                "envelope dead-lettered",
                queue=self.queue_name,
                message_id=str(item.get("id")),
                routing_key=message.routing_key,
                reason=reason,
            )
            copy = self._copy(
                message,
                body=orjson.dumps(item),
                content_type="application/json",
                message_id=str(item.get("id")) if item.get("id") is not None else None,
                **dead_letter_headers(self.queue_name, reason, message.routing_key or ""),
            )
            copies.append(("dead-letter", self.queue_name, copy))
        await self._forward_all(message, copies)

    async def _back_to_queue(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        """The database is unreachable: the message waits in the queue (no attempt counted)
        and the consumer pauses until the database answers."""
        message_outcome(self.queue_name, "requeued")
        if self._paused is None:
            log.warning(
                "database unreachable; consumer paused",
                queue=self.queue_name,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            self._paused = asyncio.create_task(self._pause(), name=f"{self.queue_name}-paused")
        self._acks.forget(message)
        try:
            await message.nack(requeue=True)
        except PUBLISH_ERRORS:
            pass  # the channel is gone: the broker requeues unacked messages itself

    async def _pause(self) -> None:
        """Take no messages until the database answers, then consume again."""
        if self._declared is not None and self._consumer_tag is not None:
            try:
                await self._declared.queue.cancel(self._consumer_tag)
            except PUBLISH_ERRORS as exc:
                log.warning("could not pause consumer", queue=self.queue_name, error=str(exc))
            self._consumer_tag = None
        started = asyncio.get_running_loop().time()
        delay, longest = PROBE_SECONDS
        while not await self._database_answers():
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)
        down = asyncio.get_running_loop().time() - started
        while self._declared is not None:
            try:
                self._consumer_tag = await self._declared.queue.consume(self._on_message)
                break
            except PUBLISH_ERRORS as exc:  # the broker is away too: its reconnect comes first
                log.warning("could not resume consumer", queue=self.queue_name, error=str(exc))
                await asyncio.sleep(longest)
        log.info("database back; consumer resumed", queue=self.queue_name, paused_seconds=down)
        self._paused = None

    async def _database_answers(self) -> bool:
        """Whether the database answers a query now. Any failure is a no (a database that is
        starting up may refuse in ways of its own), so a paused consumer never stops probing."""
        try:
            async with self.db.connection() as tx:
                return await tx.conn.fetchval("SELECT 1") == 1
        except Exception as exc:
            if not database_unreachable(exc):
                log.warning("database probe failed", queue=self.queue_name, error=repr(exc)[:300])
            return False

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        # If the channel goes away first, the broker redelivers, and the inbox makes that a
        # no-op.
        self._acks.ack(message)

    def _copy(
        self,
        message: AbstractIncomingMessage,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        message_id: str | None = None,
        **headers: Any,
    ) -> aio_pika.Message:
        """A copy of `message` to forward, with `headers` added (and, for one envelope taken
        out of a packed message, its own body, content type and id)."""
        kept = {k: v for k, v in (message.headers or {}).items() if k.startswith("x-ebok-")}
        if body is not None and ENVELOPES_HEADER not in headers:
            kept.pop(ENVELOPES_HEADER, None)
        return aio_pika.Message(
            body=message.body if body is None else body,
            headers={**kept, **headers},
            message_id=message_id or message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            app_id=message.app_id,
            timestamp=message.timestamp,
            content_type=content_type or message.content_type or "application/json",
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
            message, **dead_letter_headers(self.queue_name, reason, message.routing_key or "")
        )
        await self._forward(message, "dead-letter", self.queue_name, copy)

    async def _retry_or_give_up(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        delays = self.settings.retry_delays_ms
        attempt = attempts_so_far(message.headers, len(delays))
        error = f"{type(exc).__name__}: {exc}"[:1000]
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
        await self._forward_all(message, [(exchange, routing_key, copy)])

    async def _forward_all(
        self, message: AbstractIncomingMessage, copies: list[tuple[str, str, aio_pika.Message]]
    ) -> None:
        """Publish the copies with confirms, then ack the original; if one fails, requeue the
        original (the inbox makes what was handled of it a no-op when it comes again)."""
        try:
            for exchange, routing_key, copy in copies:
                await self.broker.publish(exchange, routing_key, copy)
        except PUBLISH_ERRORS as exc:
            log.error(
                "could not forward message; requeueing", queue=self.queue_name, error=str(exc)
            )
            await asyncio.sleep(1.0)
            self._acks.forget(message)
            try:
                await message.nack(requeue=True)
            except PUBLISH_ERRORS:
                pass  # the channel is gone: the broker requeues unacked messages itself
            return
        await self._ack(message)


@dataclass
class _Work:
    envelope: Envelope
    route: Route
    done: asyncio.Future[str] | None = None


class _Batcher:
    """Runs the handlers of messages that arrive together in one transaction: one commit (one
    WAL flush) for many messages instead of one each. Up to `transactions` batches run at once;
    while they do, new messages gather for the next. If anything in a batch fails, the batch is
    rolled back and its messages run again one by one, so one bad message cannot fail others and
    every message gets its own outcome. A message alone in the queue goes at once, unbatched."""

    def __init__(self, db: Database, queue: str, transactions: int, batch_size: int) -> None:
        self.db = db
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

    async def submit_many(self, works: list[_Work]) -> list[str | BaseException]:
        """Each work's outcome ("handled" or "duplicate") or what its handler raised; the works
        join the queue together, in their order."""
        loop = asyncio.get_running_loop()
        for work in works:
            work.done = loop.create_future()
        self._pending.extend(works)
        if works:
            self._ready.set()
        return await asyncio.gather(*(w.done for w in works), return_exceptions=True)  # type: ignore[misc]

    async def _work(self) -> None:
        while True:
            await self._ready.wait()
            if len(self._pending) < self.batch_size:
                # One turn of the loop: messages the broker has already delivered, whose tasks
                # are ready to run, join this batch instead of starting the next.
                await asyncio.sleep(0)
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
        return await handle(self.db, self.queue, [(w.envelope, w.route) for w in batch])


async def handle(db: Database, queue: str, messages: list[tuple[Envelope, Route]]) -> list[str]:
    """Run the handlers of `messages` in one transaction, each message once: its id goes into
    the inbox in the same transaction, and a message the inbox holds already is a "duplicate".
    The messages go to their handlers in runs: consecutive messages with the same handler
    (after ordering by type, where the subscription's types commute) in one call. Returns
    "handled" or "duplicate" per message; raises (rolling back all) what a handler raised."""
    async with db.transaction(queue=queue) as tx:
        fresh = {
            r["message_id"]
            for r in await tx.conn.fetch(
                """INSERT INTO inbox (message_id, queue, type)
                   SELECT m, $2, t FROM unnest($1::uuid[], $3::text[]) AS x(m, t)
                   ON CONFLICT (message_id) DO NOTHING RETURNING message_id""",
                [envelope.id for envelope, _ in messages],
                queue,
                [envelope.type for envelope, _ in messages],
            )
        }
        outcomes = []
        todo: list[tuple[Envelope, Route]] = []
        for envelope, route in messages:
            if envelope.id not in fresh:
                outcomes.append("duplicate")
                continue
            fresh.discard(envelope.id)  # the same id twice in one batch: once only
            todo.append((envelope, route))
            outcomes.append("handled")
        todo.sort(key=lambda m: m[1].rank)  # stable: arrival order within a type
        run: list[tuple[Envelope, Any]] = []
        for n, (envelope, route) in enumerate(todo):
            run.append((envelope, route.payload))
            if n + 1 == len(todo) or todo[n + 1][1].handler is not route.handler:
                set_correlation_id(run[0][0].correlation_id)
                await _run_handler(db.service, queue, tx, route.handler, run)
                run = []
        return outcomes


async def _run_handler(
    service: str, queue: str, tx: Tx, handler: Many, run: list[tuple[Envelope, Any]]
) -> None:
    """`handler` on `run`; traced, in a consumer span per message (one for the run, when the
    handler takes them all at once) that continues the trace the message brought."""
    if tracing.tracer(service) is None:
        await handler.handle(tx, run)
    elif handler.each is not None:
        for envelope, payload in run:
            set_correlation_id(envelope.correlation_id)
            with tracing.consuming(service, queue, [envelope]):
                await handler.each(tx, envelope, payload)
    else:
        with tracing.consuming(service, queue, [envelope for envelope, _ in run]):
            await handler.handle(tx, run)


async def deliver(db: Database, queue: str, subscription: Subscription, body: bytes) -> str:
    """Handle one message body as the consumer would, without the broker: parse, route, handle
    once. For tests of a service's handlers; raises Undeliverable for what would be
    dead-lettered."""
    envelope = parse_envelope(body)
    [outcome] = await handle(db, queue, [(envelope, subscription.route(envelope))])
    return outcome


def _settle(work: _Work, *, outcome: str | None = None, error: BaseException | None = None) -> None:
    if work.done is None or work.done.done():
        return
    if error is not None:
        work.done.set_exception(error)
    else:
        work.done.set_result(outcome or "handled")
