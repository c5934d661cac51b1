"""Dead-lettered messages in the broker, for the operator's tool (`python -m deploy.dlq`).

A dead-letter queue is `<ns>.<service>.<purpose>.dlq` (shared/messaging/topology.py). AMQP has
no way to look at a message without taking it, so the messages are taken unacknowledged on a
channel of their own (basic.get, each once) and the ones not acted on go back to the queue, in
their places, when that channel closes. A replay publishes a copy to the original queue through
the default exchange and waits for the broker's confirm before it acknowledges the dead letter:
a tool that dies in between leaves the dead letter where it was and, at worst, the copy too — the
consumer's inbox makes the second delivery a no-op.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aio_pika
import aiormq
import orjson
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from shared.logs import get_logger
from shared.messaging.broker import republished
from shared.messaging.consumer import ATTEMPT_HEADER
from shared.messaging.packing import ENVELOPES_CONTENT_TYPE, ENVELOPES_HEADER
from shared.messaging.topology import QUEUE_HEADER, REASON_HEADER, Names
from shared.runtime import subscriptions_of
from shared.services import SERVICES

log = get_logger(__name__)

ROUTING_KEY_HEADER = "x-ebok-routing-key"
DEAD_LETTERED_AT_HEADER = "x-ebok-dead-lettered-at"
REPLAYS_HEADER = "x-ebok-replays"
REPLAYED_AT_HEADER = "x-ebok-replayed-at"
# Headers a replayed copy does not carry: its retries start afresh, and the broker's own
# bookkeeping is the broker's.
DROPPED_ON_REPLAY = frozenset({ATTEMPT_HEADER, "x-ebok-last-error", "x-death", "x-delivery-count"})

Action = Literal["replayed", "discarded"]


class DeadLetterError(Exception):
    """Something the operator must hear about in plain words (exit status 1)."""


class UnknownQueue(DeadLetterError):
    """Not a dead-letter queue of this namespace, or no such queue in the broker."""


@dataclass(frozen=True)
class DeadLetterQueue:
    """`<ns>.<service>.<purpose>.dlq`: its name, the queue its letters came from, and the
    service that owns both (and whose database holds the audit)."""

    name: str
    namespace: str
    service: str
    origin: str

    @property
    def service_prefix(self) -> str:
        """What the names of the owning service's queues begin with."""
        return f"{self.namespace}.{self.service}."

    @classmethod
    def parse(cls, name: str, namespace: str) -> DeadLetterQueue:
        prefix = f"{namespace}."
        if not name.startswith(prefix) or not name.endswith(".dlq"):
            raise UnknownQueue(
                f"{name!r} is not a dead-letter queue of namespace {namespace!r} "
                f"(they are named {namespace}.<service>.<purpose>.dlq)"
            )
        origin = name.removesuffix(".dlq")
        parts = origin.removeprefix(prefix).split(".")
        if len(parts) < 2 or not all(parts):
            raise UnknownQueue(f"{name!r}: expected {namespace}.<service>.<purpose>.dlq")
        return cls(name=name, namespace=namespace, service=parts[0], origin=origin)


def known_queues(namespace: str) -> list[DeadLetterQueue]:
    """The dead-letter queue of every consumer queue of every service (shared/runtime.py
    subscriptions_of), in the order of shared/services.py."""
    names = Names(namespace)
    return [
        DeadLetterQueue.parse(
            names.dead_letter_queue(names.queue(service.name, subscription.purpose)), namespace
        )
        for service in SERVICES
        for subscription in subscriptions_of(service.name)
    ]


@dataclass(frozen=True)
class Letter:
    """One dead-lettered message as it sits in its queue."""

    queue: str
    message_id: str | None
    reason: str
    origin: str | None  # x-ebok-queue
    routing_key: str | None
    dead_lettered_at: datetime | None
    size: int
    envelopes: int  # more than one: a packed message dead-lettered whole
    deliveries: int | None  # quorum queues: how often it was taken and returned (x-delivery-count)
    headers: dict[str, Any]
    properties: dict[str, Any]
    body: bytes

    @property
    def id(self) -> str:
        return self.message_id or "-"

    def age(self, now: datetime | None = None) -> timedelta | None:
        if self.dead_lettered_at is None:
            return None
        return (now or datetime.now(UTC)) - self.dead_lettered_at

    @classmethod
    def of(cls, queue: str, message: AbstractIncomingMessage) -> Letter:
        headers = dict(message.headers or {})
        return cls(
            queue=queue,
            message_id=message.message_id or _envelope_id(message.body),
            reason=_text(headers.get(REASON_HEADER)) or _broker_reason(headers),
            origin=_text(headers.get(QUEUE_HEADER)),
            routing_key=_text(headers.get(ROUTING_KEY_HEADER)) or None,
            dead_lettered_at=_when(headers.get(DEAD_LETTERED_AT_HEADER)),
            size=len(message.body),
            envelopes=_envelope_count(message, headers),
            deliveries=_count(headers.get("x-delivery-count")),
            headers=headers,
            properties={
                "content_type": message.content_type,
                "correlation_id": message.correlation_id,
                "type": message.type,
                "app_id": message.app_id,
                "timestamp": message.timestamp.isoformat() if message.timestamp else None,
                "redelivered": message.redelivered,
            },
            body=message.body,
        )


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _when(value: object) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _broker_reason(headers: dict[str, Any]) -> str:
    """A message the broker dead-lettered itself (rejected, expired, over a delivery limit)
    has no reason of ours, only the broker's x-death record."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return f"broker: {_text(deaths[0].get('reason')) or 'unknown'}"
    return "(no reason recorded)"


def _envelope_id(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    found = parsed.get("id") if isinstance(parsed, dict) else None
    return str(found) if isinstance(found, str) else None


def _envelope_count(message: AbstractIncomingMessage, headers: dict[str, Any]) -> int:
    if message.content_type != ENVELOPES_CONTENT_TYPE:
        return 1
    count = headers.get(ENVELOPES_HEADER)
    return count if isinstance(count, int) and count > 0 else 1


@dataclass(frozen=True)
class Selection:
    """Which letters to act on: by id, or every one (`everything`), narrowed by a piece of the
    reason (case-insensitive). Nothing is selected unless ids, `everything` or a reason is
    given, so a mistyped command never takes the whole queue."""

    message_ids: frozenset[str] = frozenset()
    everything: bool = False
    reason_contains: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.message_ids or self.everything or self.reason_contains)

    def matches(self, letter: Letter) -> bool:
        if self.is_empty:
            return False
        if self.message_ids and letter.id not in self.message_ids:
            return False
        return not self.reason_contains or self.reason_contains.lower() in letter.reason.lower()


@dataclass
class Outcome:
    """What an action did (or, on a dry run, would do), and the ids asked for but not found."""

    action: Action
    dry_run: bool
    acted: list[Letter] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@asynccontextmanager
async def connected(
    amqp_url: str, name: str = "ebok-dlq-tool"
) -> AsyncIterator[AbstractConnection]:
    """A plain (not robust) connection: a tool that loses the broker stops and says so."""
    try:
        connection = await aio_pika.connect(
            amqp_url, client_properties={"connection_name": name}, timeout=15
        )
    except (ConnectionError, OSError, aiormq.exceptions.AMQPError) as exc:
        raise DeadLetterError(f"cannot connect to the broker: {type(exc).__name__}") from None
    try:
        yield connection
    finally:
        await connection.close()


async def depth(connection: AbstractConnection, queue: str) -> int | None:
    """How many messages are ready in `queue`; None if there is no such queue."""
    channel = await connection.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return None  # a failed passive declare closes the channel itself
    count = declared.declaration_result.message_count
    await channel.close()
    return count


async def _open(
    connection: AbstractConnection, queue: DeadLetterQueue
) -> tuple[AbstractChannel, aio_pika.abc.AbstractQueue, int]:
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    try:
        declared = await channel.declare_queue(queue.name, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        raise UnknownQueue(f"no queue {queue.name!r} in the broker") from None
    return channel, declared, declared.declaration_result.message_count


async def browse(
    connection: AbstractConnection, queue: DeadLetterQueue, limit: int | None = None
) -> list[Letter]:
    """The letters in `queue` (the first `limit` of them), left where they are."""
    channel, declared, count = await _open(connection, queue)
    letters: list[Letter] = []
    try:
        while len(letters) < (count if limit is None else min(count, limit)):
            message = await declared.get(no_ack=False, fail=False)
            if message is None:
                break
            letters.append(Letter.of(queue.name, message))
    finally:
        await _close(channel)  # every message taken goes back, in its place
    return letters


def replay_copy(message: AbstractIncomingMessage) -> aio_pika.Message:
    """The dead letter as it first came, with its id, body and properties, so that the
    consumer's inbox knows it; its attempt count is reset and the replay is counted."""
    headers = {k: v for k, v in (message.headers or {}).items() if k not in DROPPED_ON_REPLAY}
    replays = headers.get(REPLAYS_HEADER)
    headers[REPLAYS_HEADER] = (replays if isinstance(replays, int) else 0) + 1
    headers[REPLAYED_AT_HEADER] = datetime.now(UTC).isoformat()
    return republished(message, headers)


# Records an action (in the owning service's database) before the dead letter is acknowledged.
Record = Callable[[Letter, Action], Awaitable[None]]
# Called after a replayed copy is confirmed, before anything else: for tests to fail there.
AfterPublish = Callable[[Letter], Awaitable[None]]


async def settle(
    connection: AbstractConnection,
    queue: DeadLetterQueue,
    selection: Selection,
    action: Action,
    record: Record,
    *,
    operator: str,
    dry_run: bool = False,
    after_publish: AfterPublish | None = None,
) -> Outcome:
    """Replay or discard the selected letters of `queue`, each: (replay: publish the copy to
    the original queue, confirmed) → `record` → acknowledge. The others stay where they are."""
    if selection.is_empty:
        raise DeadLetterError("select messages by id, with --all, or with --reason-contains")
    outcome = Outcome(action=action, dry_run=dry_run)
    seen: set[str] = set()
    channel, declared, count = await _open(connection, queue)
    try:
        for _ in range(count):
            message = await declared.get(no_ack=False, fail=False)
            if message is None:
                break
            letter = Letter.of(queue.name, message)
            seen.add(letter.id)
            if not selection.matches(letter):
                continue
            outcome.acted.append(letter)
            if dry_run:
                continue
            if action == "replayed":
                destination = _destination(queue, letter)
                try:
                    await channel.default_exchange.publish(
                        replay_copy(message), routing_key=destination, mandatory=True, timeout=30
                    )
                except aio_pika.exceptions.DeliveryError as exc:
                    raise DeadLetterError(
                        f"the broker did not take the copy of {letter.id} for {destination!r} "
                        f"(is the queue there?): {exc}"
                    ) from None
                if after_publish is not None:
                    await after_publish(letter)
            await record(letter, action)
            await message.ack()
            log.warning(
                f"dead letter {action}",
                operator=operator,
                queue=queue.name,
                message_id=letter.message_id,
                routing_key=letter.routing_key,
                reason=letter.reason[:300],
            )
    finally:
        await _close(channel)  # what was not acknowledged goes back, in its place
    outcome.missing = sorted(selection.message_ids - seen)
    return outcome


def _destination(queue: DeadLetterQueue, letter: Letter) -> str:
    """x-ebok-queue, which must be a queue of the service that owns the dead-letter queue (the
    audit is that service's); a letter without it goes to the queue the DLQ belongs to."""
    if letter.origin is None:
        return queue.origin
    if not letter.origin.startswith(queue.service_prefix):
        raise DeadLetterError(
            f"{letter.id}: its x-ebok-queue {letter.origin!r} is not a queue of "
            f"{queue.service!r}; not replayed"
        )
    return letter.origin


async def _close(channel: AbstractChannel) -> None:
    """Close the channel (the broker requeues what it holds unacknowledged); one the broker has
    closed already needs nothing more."""
    if channel.is_closed:
        return
    try:
        await channel.close()
    except (aiormq.exceptions.AMQPError, ConnectionError, OSError) as exc:
        log.warning("could not close the channel", error=str(exc))
