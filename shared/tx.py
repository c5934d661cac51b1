"""The unit of work every handler gets, HTTP and message handlers alike.

    async with app[DB].transaction() as tx:     # one transaction; commits when the block ends
        await repository.something(tx.conn, ...)
        await tx.publish(events.SomethingHappened(...))

A `Tx` carries the connection, the service it works for (the producer of what it publishes), the
utility's calendar and, for message handlers, the queue whose message it handles (where
`dead_letter` sends what can never be handled). Events go to the outbox in the same transaction
as the change they announce.

In a unit opened with `Database.transaction()` (every HTTP write and every batch of messages),
what is published is written to the outbox with one statement just before the commit, and work a
handler asks for with `tx.before_commit(action, key)` runs once for all the keys every handler of
the unit gave it (a batch of a hundred messages about one customer settles that customer once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

import asyncpg
from asyncpg.transaction import Transaction

from shared.envelope import Envelope
from shared.events.common import Event
from shared.messaging.outbox import OutboxRow, outbox_row, write_outbox
from shared.messaging.topology import dead_letter_headers
from shared.settings import Settings

ACQUIRE_TIMEOUT_SECONDS = 30.0


# Work a unit does once, just before it commits, for every key its handlers gave it.
BeforeCommit = Callable[["Tx", list[str]], Awaitable[None]]


@dataclass(frozen=True)
class Tx:
    conn: asyncpg.Connection
    service: str
    settings: Settings
    queue: str | None = None
    # Set in units opened with Database.transaction(): their events and before-commit work wait
    # for the end of the unit (`finish`). Units opened with connection() write events at once.
    _outbox: list[OutboxRow] | None = None
    _before_commit: dict[BeforeCommit, dict[str, None]] = field(default_factory=dict)

    def today(self) -> date:
        """The utility's calendar date (due dates and "overdue" follow it, not UTC)."""
        return self.settings.today()

    def transaction(self) -> Transaction:
        """A transaction on this connection, for a Tx opened with `Database.connection()`."""
        return self.conn.transaction()

    async def publish(self, payload: Event) -> Envelope:
        """Publish `payload` as its event type when the transaction commits."""
        self._require_transaction("publish")
        return await self._add(outbox_row(payload, self.service))

    async def dead_letter(self, payload: Event, reason: str) -> Envelope:
        """Send `payload` to the dead-letter queue of the queue being handled, with `reason`."""
        if self.queue is None:
            raise RuntimeError("dead_letter() is for message handlers: this Tx has no queue")
        self._require_transaction("dead_letter")
        return await self._add(
            outbox_row(
                payload,
                self.service,
                exchange="dead-letter",
                routing_key=self.queue,
                headers=dead_letter_headers(self.queue, reason),
            )
        )

    def before_commit(self, action: BeforeCommit, key: str) -> None:
        """Run `action(tx, keys)` once before this unit commits, with every key that any call
        gave it (sorted: locks taken in key order cannot deadlock). Units opened with
        `Database.transaction()` only."""
        if self._outbox is None:
            raise RuntimeError("before_commit() needs a unit opened with Database.transaction()")
        self._before_commit.setdefault(action, {})[key] = None

    async def finish(self) -> None:
        """The unit's before-commit work, then its events into the outbox (one statement)."""
        while self._before_commit:
            action, keys = next(iter(self._before_commit.items()))
            del self._before_commit[action]
            await action(self, sorted(keys))
        if self._outbox:
            rows = list(self._outbox)
            self._outbox.clear()
            await write_outbox(self.conn, rows)

    async def _add(self, row: OutboxRow) -> Envelope:
        if self._outbox is not None:
            self._outbox.append(row)
        else:
            await write_outbox(self.conn, [row])
        return row.envelope

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

    __slots__ = ("_conn", "_db", "_queue", "_transaction", "_transactional", "_tx")

    def __init__(self, db: Database, queue: str | None, *, transactional: bool) -> None:
        self._db = db
        self._queue = queue
        self._transactional = transactional
        self._conn: asyncpg.Connection | None = None
        self._transaction: Transaction | None = None
        self._tx: Tx | None = None

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
        self._tx = Tx(
            conn,
            self._db.service,
            self._db.settings,
            self._queue,
            [] if self._transactional else None,
        )
        return self._tx

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> None:
        conn, transaction, tx = self._conn, self._transaction, self._tx
        self._conn = self._transaction = self._tx = None
        try:
            if transaction is not None:
                if exc_type is None:
                    try:
                        assert tx is not None
                        await tx.finish()
                    except BaseException:
                        await transaction.rollback()
                        raise
                    await transaction.commit()
                else:
                    await transaction.rollback()
        finally:
            await self._db.pool.release(conn)
