"""A service's message handlers against a database of its own, without the broker.

    async with ServiceHandlers.open("billing", infra, keys) as billing:
        assert await billing.deliver(payload) == "handled"
        [event] = billing.published("billing.invoice.issued")

Each message goes through `shared.messaging.consumer.deliver`: the envelope, routing, inbox and
one transaction are the consumer's own, so what a handler does here is what it does in service.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from shared.db import SHARED_MIGRATIONS, create_pool, drop_database, migrate
from shared.envelope import Envelope
from shared.events.common import Event
from shared.messaging import consumer
from shared.messaging.consumer import Subscription
from shared.messaging.topology import Names
from shared.settings import Settings
from shared.tx import Database
from tests.support.infra import Infra
from tests.support.platform import make_settings

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"


@dataclass(frozen=True)
class DeadLetter:
    envelope: Envelope
    routing_key: str
    headers: dict[str, str]


@dataclass(frozen=True)
class ServiceHandlers:
    service: str
    settings: Settings
    pool: asyncpg.Pool
    subscriptions: tuple[Subscription, ...]

    @classmethod
    @asynccontextmanager
    async def open(cls, service: str, infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
        """The service's database in a fresh namespace, migrated as the service migrates it;
        dropped afterwards."""
        settings = make_settings(infra.database_url, infra.amqp_url, keys)
        await migrate(
            settings,
            service,
            [("shared", SHARED_MIGRATIONS), (service, SERVICES_DIR / service / "migrations")],
        )
        pool = await create_pool(settings, service)
        try:
            module = importlib.import_module(f"services.{service}.handlers")
            yield cls(service, settings, pool, tuple(module.SUBSCRIPTIONS))
        finally:
            await pool.close()
            await drop_database(settings, settings.database_name(service))

    def queue(self, event_type: str) -> str:
        """The queue that takes `event_type`, named as the consumer names it."""
        return Names(self.settings.namespace).queue(
            self.service, self._subscription(event_type).purpose
        )

    async def deliver(
        self,
        payload: Event,
        *,
        message_id: uuid.UUID | None = None,
        producer: str = "test",
        timezone: str | None = None,
    ) -> str:
        """Handle `payload` as a message of its type: "handled", or "duplicate" when the inbox
        has `message_id` already. `timezone` puts the handlers' calendar (Tx.today) elsewhere,
        for effects that depend on the day."""
        return await self.deliver_raw(
            payload.TYPE,
            payload.model_dump(mode="json"),
            message_id=message_id,
            producer=producer,
            timezone=timezone,
        )

    async def deliver_raw(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        message_id: uuid.UUID | None = None,
        producer: str = "test",
        timezone: str | None = None,
        occurred_at: datetime | None = None,
    ) -> str:
        """As `deliver`, for a payload the models would refuse to build (or an envelope written
        at another time, `occurred_at`)."""
        envelope = Envelope(
            id=message_id or uuid.uuid4(),
            type=event_type,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            correlation_id=f"test-{uuid.uuid4()}",
            payload=payload,
        )
        settings = self.settings
        if timezone is not None:
            settings = settings.model_copy(update={"timezone": timezone})
        return await consumer.deliver(
            Database(self.pool, self.service, settings),
            self.queue(event_type),
            self._subscription(event_type),
            envelope.model_dump_json().encode(),
        )

    async def deliver_batch(self, payloads: Sequence[Event]) -> list[str]:
        """Handle `payloads` as messages that arrived together on one queue: one transaction,
        as the consumer's batches run (consumer.handle). The outcome of each."""
        envelopes = [
            Envelope(
                id=uuid.uuid4(),
                type=p.TYPE,
                occurred_at=datetime.now(UTC),
                producer="test",
                correlation_id=f"test-{uuid.uuid4()}",
                payload=p.model_dump(mode="json"),
            )
            for p in payloads
        ]
        subscription = self._subscription(envelopes[0].type)
        return await consumer.handle(
            Database(self.pool, self.service, self.settings),
            self.queue(envelopes[0].type),
            [(e, subscription.route(e)) for e in envelopes],
        )

    async def published(self, event_type: str | None = None) -> list[Envelope]:
        """The events the handlers published (the outbox, dead letters aside), oldest first."""
        rows = await self.pool.fetch(
            """SELECT body FROM outbox WHERE exchange <> 'dead-letter'
                  AND ($1::text IS NULL OR routing_key = $1) ORDER BY id""",
            event_type,
        )
        return [Envelope.model_validate_json(r["body"]) for r in rows]

    async def dead_letters(self) -> list[DeadLetter]:
        rows = await self.pool.fetch(
            """SELECT body, routing_key, headers FROM outbox WHERE exchange = 'dead-letter'
                ORDER BY id"""
        )
        return [
            DeadLetter(
                Envelope.model_validate_json(r["body"]),
                r["routing_key"],
                json.loads(r["headers"]) if r["headers"] else {},
            )
            for r in rows
        ]

    async def snapshot(
        self, *, skip_tables: Sequence[str] = ("inbox",), skip_columns: Sequence[str] = ()
    ) -> dict[str, list[str]]:
        """Every row of every table, to show that a delivery changed nothing; `skip_columns`
        leaves out what an idempotent upsert may touch (its timestamps)."""
        tables = await self.pool.fetch(
            """SELECT tablename FROM pg_tables WHERE schemaname = 'public'
                  AND tablename <> 'schema_migrations' AND NOT tablename = ANY($1::text[])""",
            list(skip_tables),
        )
        found: dict[str, list[str]] = {}
        for (table,) in tables:
            # Table names come from the catalog, not from a caller.
            rows = await self.pool.fetch(
                f'SELECT (to_jsonb(t) - $1::text[])::text FROM "{table}" t',  # noqa: S608
                list(skip_columns),
            )
            found[table] = sorted(r[0] for r in rows)
        return found

    async def assert_redelivery_changes_nothing(self, payload: Event) -> None:
        """Deliver `payload` twice under one message id: the first is handled, the second is a
        duplicate that leaves every table (outbox included) as the first left it."""
        message_id = uuid.uuid4()
        first = await self.deliver(payload, message_id=message_id)
        before = await self.snapshot()
        second = await self.deliver(payload, message_id=message_id)
        assert (first, second) == ("handled", "duplicate")
        assert await self.snapshot() == before, "the duplicate changed a table or published again"

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        return await self.pool.fetch(query, *args)

    async def fetchval(self, query: str, *args: object) -> Any:
        return await self.pool.fetchval(query, *args)

    async def execute(self, query: str, *args: object) -> str:
        return await self.pool.execute(query, *args)

    def _subscription(self, event_type: str) -> Subscription:
        for subscription in self.subscriptions:
            if any(model.TYPE == event_type for model in subscription.handlers):
                return subscription
        # Unknown here: the first queue then refuses it, as a consumer would.
        return self.subscriptions[0]
