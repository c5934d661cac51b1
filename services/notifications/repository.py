"""Notifications' SQL: the email queue and the files its emails carry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.notifications.rendering import RenderedEmail
from shared import tracing
from shared.envelope import Envelope

NOTIFY_CHANNEL = "ebok_emails"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


async def queue_email(
    conn: asyncpg.Connection,
    *,
    source: Envelope,
    template: str,
    language: str,
    recipient: str,
    email: RenderedEmail,
    sensitive: bool,
    reference_id: str | None,
    attachments: Sequence[Attachment] = (),
) -> None:
    """Queue the email that the event `source` asks for (once per event), with its
    attachments: a repeat of the event adds neither a second email nor a second file."""
    email_id = await conn.fetchval(
        """INSERT INTO emails (id, source_event_id, source_event_type, template, language,
                               recipient, subject, text_body, html_body, sensitive, reference_id,
                               correlation_id, traceparent)
           VALUES ($1, $2, $12, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13)
           ON CONFLICT (source_event_id) DO NOTHING
           RETURNING id""",
        uuid.uuid4(),
        source.id,
        template,
        language,
        recipient,
        email.subject,
        email.text,
        email.html,
        sensitive,
        reference_id,
        source.correlation_id,
        source.type,
        tracing.current_traceparent(),  # its delivery continues the trace (None: tracing off)
    )
    if email_id is None:
        return  # queued already
    if attachments:
        await conn.executemany(
            """INSERT INTO email_attachments (email_id, position, filename, content_type, content)
               VALUES ($1, $2, $3, $4, $5)""",
            [
                (email_id, position, a.filename, a.content_type, a.content)
                for position, a in enumerate(attachments)
            ],
        )
    await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)


async def attachments_of(conn: asyncpg.Connection, email_id: uuid.UUID) -> list[Attachment]:
    rows = await conn.fetch(
        """SELECT filename, content_type, content FROM email_attachments
            WHERE email_id = $1 ORDER BY position""",
        email_id,
    )
    return [Attachment(r["filename"], r["content_type"], bytes(r["content"])) for r in rows]


async def claim_next_due(
    conn: asyncpg.Connection, besides: list[uuid.UUID]
) -> asyncpg.Record | None:
    """Lock the next due email (other than `besides`) for this transaction; other instances
    skip it."""
    return await conn.fetchrow(
        """SELECT * FROM emails WHERE status = 'pending' AND next_attempt_at <= now()
              AND NOT id = ANY($1::uuid[])
           ORDER BY next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED""",
        besides,
    )


async def mark_sent(conn: asyncpg.Connection, email_id: uuid.UUID, forget_body: bool) -> None:
    """Sent: the delivery log keeps who/what/when; bodies with secrets in them are dropped, and
    attachments are not kept at all."""
    await conn.execute("DELETE FROM email_attachments WHERE email_id = $1", email_id)
    await conn.execute(
        """UPDATE emails SET status = 'sent', sent_at = now(), attempts = attempts + 1,
               last_error = NULL,
               text_body = CASE WHEN $2 THEN NULL ELSE text_body END,
               html_body = CASE WHEN $2 THEN NULL ELSE html_body END
           WHERE id = $1""",
        email_id,
        forget_body,
    )


async def mark_attempt_failed(
    conn: asyncpg.Connection, email_id: uuid.UUID, error: str, retry_in_seconds: float | None
) -> None:
    """Failed once: try again later, or give up (retry_in_seconds None) and drop secrets and
    attachments."""
    if retry_in_seconds is None:
        await conn.execute("DELETE FROM email_attachments WHERE email_id = $1", email_id)
    await conn.execute(
        """UPDATE emails SET attempts = attempts + 1, last_error = $2,
               status = CASE WHEN $3::float8 IS NULL THEN 'failed' ELSE 'pending' END,
               next_attempt_at = now() + make_interval(secs => coalesce($3::float8, 0)),
               text_body = CASE WHEN $3::float8 IS NULL AND sensitive THEN NULL ELSE text_body END,
               html_body = CASE WHEN $3::float8 IS NULL AND sensitive THEN NULL ELSE html_body END
           WHERE id = $1""",
        email_id,
        error[:1000],
        retry_in_seconds,
    )
