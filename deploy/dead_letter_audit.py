"""The record of every replay and discard of a dead letter, in the database of the service that
owns the queue (table `dead_letter_audit`, shared/migrations/0006_dead_letter_audit.sql)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from deploy.dead_letters import Action, DeadLetterError, Letter
from shared.db import app_dsn
from shared.settings import Settings


class DeadLetterAudit:
    """Writes one row per action, committed before the dead letter is acknowledged."""

    def __init__(self, conn: asyncpg.Connection, operator: str) -> None:
        self.conn = conn
        self.operator = operator

    async def record(self, letter: Letter, action: Action) -> None:
        await self.conn.execute(
            """INSERT INTO dead_letter_audit
                   (operator, action, queue, message_id, routing_key, reason, dead_lettered_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            self.operator,
            action,
            letter.queue,
            letter.message_id,
            letter.routing_key,
            letter.reason,
            letter.dead_lettered_at,
        )


@asynccontextmanager
async def audit_in(
    settings: Settings, service: str, operator: str
) -> AsyncIterator[DeadLetterAudit]:
    """The audit of `service`, as the service's own database role; refuses before anything is
    touched when the database cannot be reached or has no audit table yet."""
    try:
        conn = await asyncpg.connect(app_dsn(settings, service), timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise DeadLetterError(
            f"cannot open {service}'s database for the audit: {type(exc).__name__}: {exc}"
        ) from None
    try:
        if await conn.fetchval("SELECT to_regclass('dead_letter_audit')") is None:
            raise DeadLetterError(
                f"{service}'s database has no dead_letter_audit table: start the service once "
                "(its migrations make it), then try again"
            )
        yield DeadLetterAudit(conn, operator)
    finally:
        await conn.close()


async def audit_rows(
    settings: Settings, service: str, since: datetime | None = None
) -> list[dict[str, Any]]:
    """The audit rows of `service`, oldest first."""
    conn = await asyncpg.connect(app_dsn(settings, service), timeout=10)
    try:
        rows = await conn.fetch(
            """SELECT at, operator, action, queue, message_id, routing_key, reason,
                      dead_lettered_at
                 FROM dead_letter_audit WHERE $1::timestamptz IS NULL OR at >= $1 ORDER BY id""",
            since,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]
