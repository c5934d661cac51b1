"""Hands queued emails to the SMTP server (aiosmtplib), with bounded retries and backoff.

Each email is claimed, handed over and marked sent (with `notifications.email.sent` written to
the outbox) in a transaction of its own: a crash between the SMTP server's acceptance and that
commit can send that one email again (at-least-once, never not at all), and no other. Its
`Message-ID` is the same on every attempt, so a repeated copy is recognisably the same message.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

import aiosmtplib
import asyncpg
from opentelemetry.trace import SpanKind

from services.notifications import repository
from shared import tracing
from shared.events.notifications import EmailDelivery, EmailFailed, EmailSent
from shared.logs import get_logger, set_correlation_id
from shared.metrics import EMAILS
from shared.settings import Settings
from shared.tx import Database, Tx

log = get_logger(__name__)

BATCH_SIZE = 20


def message_id(settings: Settings, email_id: uuid.UUID) -> str:
    """The email's one Message-ID, at the sender's domain."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "ebok.local"
    return f"<{email_id}@{domain}>"


def build_message(
    settings: Settings, row: asyncpg.Record, attachments: Sequence[repository.Attachment] = ()
) -> EmailMessage:
    """The email: text and HTML alternatives; with attachments, those inside multipart/mixed."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row["recipient"]
    message["Subject"] = row["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(settings, row["id"])
    message["X-Ebok-Template"] = row["template"]
    message.set_content(row["text_body"])
    message.add_alternative(row["html_body"], subtype="html")
    for a in attachments:
        maintype, _, subtype = a.content_type.partition("/")
        message.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
    # After the body: set_content() drops Content-* headers set before it.
    message["Content-Language"] = row["language"]
    return message


def smtp_options(settings: Settings) -> dict[str, Any]:
    """How to reach the SMTP server: transport security, credentials, timeout."""
    security = settings.smtp_transport_security
    options: dict[str, Any] = {
        "hostname": settings.smtp_host,
        "port": settings.smtp_port,
        "timeout": settings.smtp_timeout_seconds,
        "use_tls": security == "tls",
        # True: STARTTLS or fail (no silent fallback to plain text); False: never.
        "start_tls": security == "starttls",
    }
    if security != "none":
        context = ssl.create_default_context()
        if settings.smtp_ca_file is not None:
            context.load_verify_locations(cafile=str(settings.smtp_ca_file))
        options["tls_context"] = context
    if settings.smtp_username and settings.smtp_password is not None:
        options["username"] = settings.smtp_username
        options["password"] = settings.smtp_password.get_secret_value()
    return options


class Mailer:
    def __init__(self, db: Database) -> None:
        self.settings = db.settings
        self.db = db
        self._smtp = smtp_options(db.settings)

    def _retry_delay(self, attempts_so_far: int) -> float | None:
        if attempts_so_far + 1 >= self.settings.email_max_attempts:
            return None
        delay = self.settings.email_retry_base_seconds * 2 ** min(attempts_so_far, 16)
        return min(delay, self.settings.email_retry_max_seconds)

    async def deliver_due(self) -> bool:
        """Send up to BATCH_SIZE due emails, each in its own transaction; True when there may be
        more waiting."""
        attempted: list[uuid.UUID] = []  # once per pass, even if it is due again already
        for _ in range(BATCH_SIZE):
            async with self.db.transaction() as tx:
                row = await repository.claim_next_due(tx.conn, attempted)
                if row is None:
                    return False
                attempted.append(row["id"])
                await self._deliver(tx, row)
        return True

    async def _deliver(self, tx: Tx, row: asyncpg.Record) -> None:
        set_correlation_id(row["correlation_id"])
        attachments = await repository.attachments_of(tx.conn, row["id"])
        try:
            with tracing.span(
                self.db.service,
                "smtp send",
                parent=row["traceparent"],
                kind=SpanKind.CLIENT,
                attributes={
                    "server.address": self.settings.smtp_host,
                    "server.port": self.settings.smtp_port,
                    "ebok.email.id": str(row["id"]),
                    "ebok.email.template": row["template"],
                    "ebok.email.attempt": row["attempts"] + 1,
                },
            ):
                await aiosmtplib.send(build_message(self.settings, row, attachments), **self._smtp)
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            delay = self._retry_delay(row["attempts"])
            await repository.mark_attempt_failed(tx.conn, row["id"], error, delay)
            EMAILS.labels(row["template"], "failed" if delay is None else "deferred").inc()
            log.warning(
                "email not delivered",
                email_id=str(row["id"]),
                template=row["template"],
                attempt=row["attempts"] + 1,
                retry_in_seconds=delay,
                error=error,
            )
            if delay is None:
                await tx.publish(_delivery(EmailFailed, row, error))
            return
        await repository.mark_sent(tx.conn, row["id"], forget_body=row["sensitive"])
        EMAILS.labels(row["template"], "sent").inc()
        await tx.publish(_delivery(EmailSent, row))
        log.info("email sent", email_id=str(row["id"]), template=row["template"])


def _delivery(
    event: type[EmailDelivery], row: asyncpg.Record, error: str | None = None
) -> EmailDelivery:
    return event(
        email_id=row["id"],
        template=row["template"],
        source_event_id=row["source_event_id"],
        source_event_type=row["source_event_type"],
        reference_id=row["reference_id"],
        error=error,
    )
