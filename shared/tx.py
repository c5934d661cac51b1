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

import asyncio
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

    def transaction(self, *, queue: str | None = None) -> Unit:
        """A connection in one transaction: committed when the block ends, rolled back when it
        raises."""
        return Unit(self, queue, transactional=True)

    def connection(self) -> Unit:
        """A connection whose statements commit one by one: for reads (no BEGIN/COMMIT round
        trips), and for work that must commit in steps (`tx.transaction()` for each step)."""
        return Unit(self, None, transactional=False)


class Unit:
    """`async with` a Tx: acquires a connection (bounded wait), maybe a transaction, and gives
    both back. A class rather than a generator: it runs on every request and every message
    batch, and asyncio.timeout() costs less than the task that pool.acquire(timeout=…) makes."""

    __slots__ = ("_conn", "_db", "_queue", "_transaction", "_transactional")

    def __init__(self, db: Database, queue: str | None, *, transactional: bool) -> None:
        self._db = db
        self._queue = queue
        self._transactional = transactional
        self._conn: asyncpg.Connection | None = None
        self._transaction: Transaction | None = None

    async def __aenter__(self) -> Tx:
        pool = self._db.pool
        async with asyncio.timeout(ACQUIRE_TIMEOUT_SECONDS):
            conn = await pool.acquire()
        if self._transactional:
            transaction = conn.transaction()
            try:
                await transaction.start()
            except BaseException:
                await pool.release(conn)
                raise
            self._transaction = transaction
        self._conn = conn
        return Tx(conn, self._db.service, self._db.settings, self._queue)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> None:
        conn, transaction = self._conn, self._transaction
        self._conn = self._transaction = None
        try:
            if transaction is not None:
                if exc_type is None:
                    await transaction.commit()
                else:
                    await transaction.rollback()
        finally:
            await self._db.pool.release(conn)
