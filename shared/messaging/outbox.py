"""Transactional outbox: write events with the state change; a relay publishes them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aio_pika
import asyncpg

from shared import tracing
from shared.envelope import Envelope, new_envelope
from shared.events.common import Event, ExchangeName
from shared.leader import try_transaction_lock
from shared.logs import get_logger
from shared.messaging.broker import PUBLISH_ERRORS, Broker, envelope_message
from shared.messaging.packing import (
    ENVELOPES_CONTENT_TYPE,
    ENVELOPES_HEADER,
    PACKED_EXCHANGE,
    pack,
    runs,
)
from shared.metrics import OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISHED

log = get_logger(__name__)

NOTIFY_CHANNEL = "ebok_outbox"
BATCH_SIZE = 500
# The advisory lock of the relay's transaction (shared/leader.py), in each service's database.
RELAY_LOCK = "ebok-outbox-relay"


@dataclass(frozen=True)
class OutboxRow:
    """An event on its way into the outbox table."""

    envelope: Envelope
    exchange: str
    routing_key: str
    headers: dict[str, str] | None = None


def outbox_row(
    payload: Event,
    producer: str,
    *,
    exchange: ExchangeName | Literal["dead-letter"] | None = None,
    routing_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> OutboxRow:
    """The outbox row of an event. Its type and exchange come from its payload model; dead
    letters name their own (`<queue>` on the dead-letter exchange)."""
    envelope = new_envelope(payload.TYPE, payload, producer)
    return OutboxRow(envelope, exchange or payload.EXCHANGE, routing_key or envelope.type, headers)


async def write_outbox(conn: asyncpg.Connection, rows: Sequence[OutboxRow]) -> None:
    """Write `rows` in their order with one statement, and wake the relay; call inside the
    transaction that makes the change they announce (units of work do: `Tx.publish`)."""
    if not rows:
        return
    await conn.execute(
        """WITH written AS (
               INSERT INTO outbox (message_id, exchange, routing_key, body, headers)
               SELECT m, e, k, b, h::jsonb
                 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
                      WITH ORDINALITY AS r(m, e, k, b, h, n)
                ORDER BY n
               RETURNING 1)
           SELECT pg_notify($6, '')""",
        [r.envelope.id for r in rows],
        [r.exchange for r in rows],
        [r.routing_key for r in rows],
        [r.envelope.model_dump_json() for r in rows],
        [json.dumps(r.headers) if r.headers else None for r in rows],
        NOTIFY_CHANNEL,
    )


async def add_to_outbox(
    conn: asyncpg.Connection,
    payload: Event,
    producer: str,
    *,
    exchange: ExchangeName | Literal["dead-letter"] | None = None,
    routing_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Envelope:
    """Record one event to publish at once; call inside the transaction that makes the change."""
    row = outbox_row(payload, producer, exchange=exchange, routing_key=routing_key, headers=headers)
    await write_outbox(conn, [row])
    return row.envelope


def _retry_delay_seconds(attempts: int) -> float:
    return min(0.5 * 2 ** min(attempts, 10), 60.0)


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, broker: Broker) -> None:
        self.pool = pool
        self.broker = broker

    async def publish_batch(self) -> bool:
        """Publish what is due; True when a full batch went out (more may be waiting). Runs of
        events of one type on the events exchange go out packed, one message each
        (`shared.messaging.packing`). One instance of the service publishes at a time (the
        one whose transaction holds the relay's advisory lock; the others skip the round), so
        the events go out in the order one relay gives them, however many instances run."""
        if not self.broker.is_connected:
            return False
        async with self.pool.acquire() as conn, conn.transaction():
            if not await try_transaction_lock(conn, RELAY_LOCK):
                # Another instance is publishing: the NOTIFY that woke us woke it too, so it takes
                # what is waiting when its batch is done.
                return False
            rows = await conn.fetch(
                """SELECT id, message_id, exchange, routing_key, body, headers, attempts FROM outbox
                   WHERE published_at IS NULL AND next_attempt_at <= now()
                   ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                BATCH_SIZE,
            )
            if not rows:
                return False
            groups = runs(rows, _packing_key, lambda row: len(row["body"]))
            results = await asyncio.gather(
                *(self._publish_group(group) for group in groups), return_exceptions=True
            )
            published = [
                row["id"]
                for group, err in zip(groups, results, strict=True)
                if err is None
                for row in group
            ]
            failed = [
                (group, err) for group, err in zip(groups, results, strict=True) if err is not None
            ]
            if published:
                OUTBOX_PUBLISHED.labels(self.broker.service).inc(len(published))
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                    published,
                )
            for group, err in failed:
                OUTBOX_PUBLISH_FAILURES.labels(self.broker.service).inc(len(group))
                delay = _retry_delay_seconds(group[0]["attempts"])
                log.warning(
                    "outbox publish failed, will retry",
                    message_id=str(group[0]["message_id"]),
                    events=len(group),
                    routing_key=group[0]["routing_key"],
                    error=repr(err),
                    retry_in_seconds=delay,
                )
                await conn.execute(
                    """UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                           next_attempt_at = now() + make_interval(secs => $3)
                       WHERE id = ANY($1::bigint[])""",
                    [row["id"] for row in group],
                    repr(err)[:1000],
                    delay,
                )
        # A full batch with something published: go on at once. Rows that failed wait out their
        # backoff, so the next batch is other rows; a batch where nothing went out (the broker
        # refusing everything) waits for the next wake-up instead of spinning.
        return len(rows) == BATCH_SIZE and bool(published)

    async def _publish_group(self, rows: list[asyncpg.Record]) -> None:
        first = rows[0]
        exchange, routing_key = first["exchange"], first["routing_key"]
        # Traced, each envelope goes out under a publish span of its own (shared/tracing.py).
        with tracing.publishing(
            self.broker.service, [row["body"] for row in rows], exchange, routing_key
        ) as bodies:
            if len(rows) == 1:
                await self._publish(exchange, routing_key, _message(first, bodies[0]))
                return
            message = aio_pika.Message(
                body=pack(bodies),
                message_id=str(first["message_id"]),
                type=routing_key,
                app_id=self.broker.service,
                content_type=ENVELOPES_CONTENT_TYPE,
                headers={ENVELOPES_HEADER: len(rows)},
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await self._publish(exchange, routing_key, message)

    async def _publish(self, exchange: str, routing_key: str, message: aio_pika.Message) -> None:
        try:
            await self.broker.publish(exchange, routing_key, message)
        except PUBLISH_ERRORS as exc:
            raise OutboxPublishError(str(exc) or type(exc).__name__) from exc


def _packing_key(row: asyncpg.Record) -> tuple[str, str] | None:
    """Rows with the same key may travel in one message: events of one type on the events
    exchange without headers of their own."""
    if row["exchange"] != PACKED_EXCHANGE or row["headers"]:
        return None
    return (row["exchange"], row["routing_key"])


def _message(row: asyncpg.Record, envelope_json: str) -> aio_pika.Message:
    envelope = Envelope.model_validate_json(envelope_json)
    message = envelope_message(envelope, body=envelope_json.encode())
    if row["headers"]:
        message.headers = json.loads(row["headers"])
    return message


class OutboxPublishError(Exception):
    pass
