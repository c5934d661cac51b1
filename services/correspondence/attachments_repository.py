"""Attachments' SQL: the uploads and their chunks, linking them to a case, and the purge of those
no case named. Functions take a connection; parameters are always bound."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from services.correspondence.attachments import UNATTACHED_TTL
from shared.api.correspondence import MAX_ATTACHMENTS
from shared.http.problems import Problem
from shared.tx import Database

PURGE_BATCH = 100
# How often the purge looks (an upload lives a day: a quarter of an hour late is nothing).
PURGE_POLL_SECONDS = 900.0


def _refused(code: str, detail: str, message: str) -> Problem:
    return Problem(
        422,
        "Validation failed",
        detail,
        code=code,
        errors=[{"field": "attachment_ids", "message": message, "code": code}],
    )


async def attach(
    conn: asyncpg.Connection,
    attachment_ids: list[uuid.UUID],
    *,
    customer_id: str,
    account_id: uuid.UUID,
    case_id: uuid.UUID,
    message_id: uuid.UUID | None,
) -> list[asyncpg.Record]:
    """Link uploads to the case (and message): each made by this account for this customer, not
    yet attached and not expired; the case holds at most MAX_ATTACHMENTS. Call it inside the
    transaction that writes the case or message; 422 on attachment_ids otherwise."""
    ids = list(dict.fromkeys(attachment_ids))
    if not ids:
        return []
    if len(ids) != len(attachment_ids):
        raise _refused(
            "attachment-unknown",
            "An attachment is named twice",
            "each attachment may be named once",
        )
    # Two messages of one case at once must not both pass the count: one waits for the other.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"attachments:{case_id}"
    )
    # FOR UPDATE: an upload named by two cases at once goes to the first, the other sees it used.
    usable = {
        r["attachment_id"]
        for r in await conn.fetch(
            """SELECT attachment_id FROM attachments
                WHERE attachment_id = ANY($1::uuid[]) AND customer_id = $2
                  AND uploaded_by_account_id = $3 AND case_id IS NULL
                  AND uploaded_at > now() - $4::interval
                FOR UPDATE""",
            ids,
            customer_id,
            account_id,
            UNATTACHED_TTL,
        )
    }
    unknown = [i for i in ids if i not in usable]
    if unknown:
        raise _refused(
            "attachment-unknown",
            "An attachment is unknown, expired or already used",
            f"no such attachment to use: {', '.join(map(str, unknown))}; upload it again",
        )
    held = await conn.fetchval("SELECT count(*) FROM attachments WHERE case_id = $1", case_id)
    if held + len(ids) > MAX_ATTACHMENTS:
        raise _refused(
            "too-many-attachments",
            f"A case holds at most {MAX_ATTACHMENTS} attachments",
            f"the case holds {held}; at most {MAX_ATTACHMENTS - held} more may be added",
        )
    return await conn.fetch(
        """UPDATE attachments SET case_id = $2, message_id = $3, attached_at = now()
             WHERE attachment_id = ANY($1::uuid[])
         RETURNING attachment_id, filename, content_type, size, uploaded_at, message_id""",
        ids,
        case_id,
        message_id,
    )


async def of_case(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    """The case's attachments (its messages' included), oldest first."""
    return await conn.fetch(
        """SELECT attachment_id, filename, content_type, size, uploaded_at, message_id
              FROM attachments WHERE case_id = $1
             ORDER BY uploaded_at, attachment_id""",
        case_id,
    )


async def add_chunk(
    conn: asyncpg.Connection, attachment_id: uuid.UUID, seq: int, data: bytes
) -> None:
    await conn.execute(
        "INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES ($1, $2, $3)",
        attachment_id,
        seq,
        data,
    )


async def add_attachment(
    conn: asyncpg.Connection,
    attachment_id: uuid.UUID,
    *,
    customer_id: str,
    account_id: uuid.UUID,
    filename: str,
    content_type: str,
    size: int,
    sha256: str,
) -> asyncpg.Record:
    """The upload's row, written after its chunks in the same transaction."""
    row = await conn.fetchrow(
        """INSERT INTO attachments (attachment_id, customer_id, uploaded_by_account_id,
                                     filename, content_type, size, sha256)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING attachment_id, filename, content_type, size, uploaded_at, message_id""",
        attachment_id,
        customer_id,
        account_id,
        filename,
        content_type,
        size,
        sha256,
    )
    assert row is not None
    return row


async def find(conn: asyncpg.Connection, attachment_id: uuid.UUID) -> asyncpg.Record | None:
    """An attachment with whose it is and where it belongs (none unattached and expired)."""
    return await conn.fetchrow(
        """SELECT attachment_id, filename, content_type, size, uploaded_at, message_id,
                   customer_id, uploaded_by_account_id, case_id, sha256
              FROM attachments
             WHERE attachment_id = $1
               AND (case_id IS NOT NULL OR uploaded_at > now() - $2::interval)""",
        attachment_id,
        UNATTACHED_TTL,
    )


async def chunk(conn: asyncpg.Connection, attachment_id: uuid.UUID, seq: int) -> bytes | None:
    data: bytes | None = await conn.fetchval(
        "SELECT data FROM attachment_chunks WHERE attachment_id = $1 AND seq = $2",
        attachment_id,
        seq,
    )
    return data


async def purge_unattached(conn: asyncpg.Connection) -> int:
    """Delete a batch of uploads no case named within UNATTACHED_TTL (their chunks go with
    them); returns how many."""
    deleted: Sequence[asyncpg.Record] = await conn.fetch(
        """DELETE FROM attachments
            WHERE attachment_id IN (
                  SELECT attachment_id FROM attachments
                   WHERE case_id IS NULL AND uploaded_at <= now() - $1::interval
                   ORDER BY uploaded_at LIMIT $2
                   FOR UPDATE SKIP LOCKED)
        RETURNING attachment_id""",
        UNATTACHED_TTL,
        PURGE_BATCH,
    )
    return len(deleted)


class UnattachedPurge:
    """The background loop's step: a batch of expired uploads deleted at a time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def step(self) -> bool:
        """True when a full batch went: more may be waiting."""
        async with self.db.transaction() as tx:
            return await purge_unattached(tx.conn) == PURGE_BATCH
