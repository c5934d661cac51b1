"""The SMTP server is down when an e-invoice is issued, and notifications is killed and started
again meanwhile: the e-invoice email goes out exactly once, with its PDF, when the server is
back; the PDF is not kept once it is sent."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from shared.events import billing
from tests.integration.test_notifications_issue12 import invoice_pdf
from tests.support.flows import mails_of, wait_for_mail
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack

pytestmark = pytest.mark.fault


@pytest_asyncio.fixture(loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    # Small retry settings: several attempts within seconds, not minutes.
    async for running in start_stack(
        infra,
        keys,
        smtp_up=False,
        email_retry_base_seconds=0.2,
        email_retry_max_seconds=1.0,
        email_poll_seconds=0.2,
    ):
        yield running


async def e_invoice_email(stack: Stack, address: str) -> dict[str, object] | None:
    """The email queued for `address`, with how many attachments it holds now."""
    conn = await stack.platform.db("notifications")
    try:
        row = await conn.fetchrow(
            """SELECT e.status, e.attempts, e.last_error,
                      (SELECT count(*) FROM email_attachments a WHERE a.email_id = e.id)
                          AS attachments,
                      (SELECT count(*) FROM emails o WHERE o.recipient = e.recipient) AS emails
                 FROM emails e WHERE e.recipient = $1 AND e.template = 'e-invoice'""",
            address,
        )
        return dict(row) if row is not None else None
    finally:
        await conn.close()


async def queued(stack: Stack, address: str) -> bool:
    conn = await stack.platform.db("notifications")
    try:
        return bool(await conn.fetchval("SELECT 1 FROM emails WHERE recipient = $1", address))
    finally:
        await conn.close()


async def attachments_left(stack: Stack) -> int:
    conn = await stack.platform.db("notifications")
    try:
        return await conn.fetchval("SELECT count(*) FROM email_attachments")
    finally:
        await conn.close()


async def failed_attempts(stack: Stack, address: str, more_than: int) -> bool:
    email = await e_invoice_email(stack, address)
    return (
        email is not None
        and email["status"] == "pending"
        and email["last_error"] is not None
        and int(email["attempts"]) > more_than  # type: ignore[call-overload]
    )


async def test_an_e_invoice_goes_out_once_with_its_pdf_after_an_outage_and_a_restart(
    stack: Stack,
) -> None:
    suffix = secrets.token_hex(4)
    number = f"FV/2026/11/{suffix}"
    address = f"faktury.{suffix}@example.com"
    pdf = invoice_pdf(number)
    issued = billing.EInvoiceIssued(
        customer_id=f"C-{suffix}",
        email=address,
        language="pl",
        invoice_number=number,
        issued_on=date(2026, 11, 20),
        due_on=date(2026, 12, 4),
        gross=Decimal("108.00"),
        filename=f"FV_2026_11_{suffix}.pdf",
        pdf=base64.b64encode(pdf).decode(),
    )
    settings = stack.platform.settings
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="billing", exchange="events"
    ) as billing_service:
        message_id = await billing_service.publish(issued.TYPE, issued)

        # Down: the email is tried, fails and waits, its PDF with it.
        await wait_until(
            lambda: failed_attempts(stack, address, 1), what="failed attempts before the restart"
        )

        # Notifications is killed and started again; the broker redelivers the event meanwhile
        # (the same message once more), and a later request follows it on the same queue.
        await stack.platform.stop_service("notifications")
        await billing_service.publish(issued.TYPE, issued, message_id=message_id)
        marker = billing.EInvoiceAddressReplaced(
            customer_id=f"C-{suffix}",
            email=f"marker.{suffix}@example.com",
            language="pl",
            new_address=address,
            changed_at=datetime.now(UTC),
        )
        await billing_service.publish(marker.TYPE, marker)
        before_restart = await e_invoice_email(stack, address)
        assert before_restart is not None and before_restart["attachments"] == 1
        await stack.platform.start_service("notifications")
        # The queue is taken in order: once the later request is queued, the copy was handled.
        await wait_until(lambda: queued(stack, str(marker.email)), what="the later request")

        # Still down: several more attempts fail after the restart.
        attempts = int(before_restart["attempts"])  # type: ignore[call-overload]
        await wait_until(
            lambda: failed_attempts(stack, address, attempts + 2),
            what="failed attempts after the restart",
        )
    assert not stack.mailbox.messages
    still_waiting = await e_invoice_email(stack, address)
    assert still_waiting is not None
    assert (still_waiting["emails"], still_waiting["attachments"]) == (1, 1)

    # Back: the email arrives, with the very PDF billing rendered.
    await stack.start_smtp()
    mail = await wait_for_mail(stack, address, "e-invoice")
    assert mail.subject == f"Twoja e-faktura {number}"
    assert mail.message.get_content_type() == "multipart/mixed"
    [attachment] = list(mail.message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == issued.filename
    assert attachment.get_content() == pdf

    async def sent() -> bool:
        email = await e_invoice_email(stack, address)
        return email is not None and email["status"] == "sent"

    # Once marked sent, the retry loop never takes it again: one copy, and no PDF kept.
    await wait_until(sent, what="the email marked sent")
    assert len(mails_of(stack, address, "e-invoice")) == 1
    done = await e_invoice_email(stack, address)
    assert done is not None and (done["emails"], done["attachments"]) == (1, 0)
    assert await attachments_left(stack) == 0
