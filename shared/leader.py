"""One instance at a time: leader election by PostgreSQL advisory lock, for work that must not
run on several instances of a service at once (docs/scaling.md).

The lock is PostgreSQL's own (`pg_try_advisory_lock`): held by one session of the service's
database, let go when that session ends, so an instance that dies (or loses its connection)
gives it up without anyone deciding it is dead. Nobody waits for it: an instance that does not
get it skips the round, and whichever asks next after it is let go takes the work on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


async def try_transaction_lock(conn: asyncpg.Connection, name: str) -> bool:
    """Whether this transaction now leads `name` (until it ends); False: another one does."""
    return bool(
        await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", name)
    )


async def try_session_lock(conn: asyncpg.Connection, name: str) -> bool:
    """Whether this session now leads `name` (until it lets go or ends); False: another does."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", name))


@asynccontextmanager
async def leading(pool: asyncpg.Pool, name: str) -> AsyncIterator[bool]:
    """Whether this instance leads `name` for the block (True) or another one does (False).
    The lock is held on a connection of the pool taken for the block, and let go at its end
    (the pool keeps no session state and does not reset sessions: shared/db.py
    _keep_session; so it is let go explicitly)."""
    async with pool.acquire() as conn:
        held = await try_session_lock(conn, name)
        try:
            yield held
        finally:
            if held:
                try:
                    await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", name)
                except BaseException:
                    # Not let go (cancelled, connection lost): end the session, and the lock
                    # with it, rather than leave it on a pooled connection for good.
                    conn.terminate()
                    raise
