"""The unit of work every handler gets, HTTP and message handlers alike.

    async with app[DB].transaction() as tx:     # one transaction; commits when the block ends
        await repository.something(tx.conn, ...)
        await tx.publish(events.SomethingHappened(...))

A `Tx` carries the connection, the service it works for (the producer of what it publishes), the
utility's calendar and, for message handlers, the queue whose message it handles (where
`dead_letter` sends what can never be handled). Events go to the outbox in the same transaction
as the change they announce.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

import asyncpg
from asyncpg.transaction import Transaction

from shared.envelope import Envelope
from shared.events.common import Event
from shared.messaging.outbox import add_to_outbox
from shared.messaging.topology import dead_letter_headers
from shared.settings import Settings

ACQUIRE_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Tx:
    conn: asyncpg.Connection
    service: str
    settings: Settings
    queue: str | None = None

    def today(self) -> date:
        """The utility's calendar date (due dates and "overdue" follow it, not UTC)."""
        return self.settings.today()

    def transaction(self) -> Transaction:
        """A transaction on this connection, for a Tx opened with `Database.connection()`."""
        return self.conn.transaction()

    async def publish(self, payload: Event) -> Envelope:
        """Publish `payload` as its event type when the transaction commits."""
        self._require_transaction("publish")
        return await add_to_outbox(self.conn, payload, self.service)

    async def dead_letter(self, payload: Event, reason: str) -> Envelope:
        """Send `payload` to the dead-letter queue of the queue being handled, with `reason`."""
        if self.queue is None:
            raise RuntimeError("dead_letter() is for message handlers: this Tx has no queue")
        self._require_transaction("dead_letter")
        return await add_to_outbox(
            self.conn,
            payload,
            self.service,
            exchange="dead-letter",
            routing_key=self.queue,
            headers=dead_letter_headers(self.queue, reason),
        )

    def _require_transaction(self, what: str) -> None:
        # Outside a transaction the outbox row would commit whatever happens to the change.
        if not self.conn.is_in_transaction():
            raise RuntimeError(f"{what}() needs a transaction: use Database.transaction()")


class Database:
    """A service's pool, handing out units of work."""

    def __init__(self, pool: asyncpg.Pool, service: str, settings: Settings) -> None:
        self.pool = pool
        self.service = service
        self.settings = settings

    @asynccontextmanager
    async def transaction(self, *, queue: str | None = None) -> AsyncIterator[Tx]:
        """A connection in one transaction: committed when the block ends, rolled back when it
        raises."""
        async with (
            self.pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as conn,
            conn.transaction(),
        ):
            yield Tx(conn, self.service, self.settings, queue)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Tx]:
        """A connection whose statements commit one by one: for reads (no BEGIN/COMMIT round
        trips), and for work that must commit in steps (`tx.transaction()` for each step)."""
        async with self.pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS) as conn:
            yield Tx(conn, self.service, self.settings)
