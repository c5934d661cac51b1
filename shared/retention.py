"""Inbox and outbox rows are not kept for good: a handled message's inbox row after
EBOK_INBOX_RETENTION_DAYS (it only has to outlive every redelivery the broker and the senders
can still make), a published event's outbox row after EBOK_OUTBOX_RETENTION_DAYS. Deleted in
small batches, each its own short transaction, so that the purge never holds up the feed.
Every instance of a service runs the purge; each batch skips the rows another instance's batch
holds (SKIP LOCKED), so two instances delete different rows instead of waiting on each other."""

from __future__ import annotations

import asyncpg

from shared.logs import get_logger
from shared.settings import Settings

log = get_logger(__name__)

BATCH = 1_000


async def purge_batch(pool: asyncpg.Pool, settings: Settings) -> int:
    """Delete up to BATCH expired inbox rows and BATCH expired outbox rows; how many went."""
    async with pool.acquire() as conn:
        inbox = await conn.execute(
            """DELETE FROM inbox WHERE message_id IN (
                   SELECT message_id FROM inbox
                    WHERE handled_at < now() - make_interval(days => $1)
                    LIMIT $2 FOR UPDATE SKIP LOCKED)""",
            settings.inbox_retention_days,
            BATCH,
        )
        outbox = await conn.execute(
            """DELETE FROM outbox WHERE id IN (
                   SELECT id FROM outbox
                    WHERE published_at < now() - make_interval(days => $1)
                    LIMIT $2 FOR UPDATE SKIP LOCKED)""",
            settings.outbox_retention_days,
            BATCH,
        )
    deleted = int(inbox.rsplit(" ", 1)[1]) + int(outbox.rsplit(" ", 1)[1])
    if deleted:
        log.info("retention: old inbox and outbox rows purged", rows=deleted)
    return deleted


class Purger:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    async def step(self) -> bool:
        """One batch; True when a full batch went (run again at once)."""
        return await purge_batch(self.pool, self.settings) >= BATCH
