"""Notifications is killed (SIGKILL) twice while the SMTP server is down and e-invoices keep
coming from the ERP feed: once the server is back, each e-invoice email arrives exactly once,
with its invoice's PDF, and nothing of it is kept — no attachment in notifications, no PDF in
billing's outbox, nothing dead-lettered.

Five customers get the ERP's e-invoice consent and one invoice each; notifications queues the
five emails and fails to hand them over; it is killed; five more invoices are issued while it is
dead (billing's e-invoice requests wait in notifications' durable queue); it starts, fails more
attempts, is killed again mid-retry and starts once more; then the SMTP server comes up.

Exactly once, not at least once: services/notifications/delivery.py allows one repeated email
when the process dies between the SMTP server's acceptance and the commit that marks it sent.
With the server down during both kills, no attempt can be accepted, so no email is ever in that
window; a second copy here would be a real bug (a redelivered request queueing a second email,
or a lost "sent" mark)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import pytest
import pytest_asyncio
from pypdf import PdfReader

from shared.events import erp
from shared.messaging.topology import Names
from tests.support.erp import Customer, publish_e_invoice_customer
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.processes import ServiceProcess
from tests.support.stack import Stack, start_stack

pytestmark = pytest.mark.fault

CUSTOMERS = 5


@dataclass
class Running:
    stack: Stack
    notifications: ServiceProcess


@pytest_asyncio.fixture(loop_scope="session")
async def running(infra: Infra, keys: Path, tmp_path: Path) -> AsyncIterator[Running]:
    # Small retry settings: several attempts within seconds, not minutes; and attempts enough
    # that none fails for good while the SMTP server is down here.
    async for stack in start_stack(
        infra,
        keys,
        smtp_up=False,
        email_retry_base_seconds=0.2,
        email_retry_max_seconds=1.0,
        email_poll_seconds=0.2,
        email_max_attempts=1000,
        e_invoice_poll_seconds=0.2,
    ):
        # The in-process notifications gives way to a process that can be killed.
        await stack.platform.stop_service("notifications")
        process = ServiceProcess.instance(
            "notifications",
            stack.platform.settings,
            tmp_path,
            "notifications",
            log_level="WARNING",
        )
        try:
            process.start()
            await process.ready()
            yield Running(stack, process)
        finally:
            await process.stop()


async def fetch(running: Running, service: str, sql: str, *args: object) -> list[dict]:
    conn = await running.stack.platform.db(service)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def e_invoice_emails(running: Running) -> list[dict]:
    return await fetch(
        running,
        "notifications",
        """SELECT id, recipient, status, attempts, last_error FROM emails
            WHERE template = 'e-invoice' ORDER BY created_at""",
    )


async def queue_depths(running: Running) -> tuple[int, int]:
    """Messages waiting on notifications' email-request queue and on its dead-letter queue."""
    settings = running.stack.platform.settings
    queue = Names(settings.namespace).queue("notifications", "email-requests")
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        waiting = await channel.declare_queue(queue, passive=True)
        dead = await channel.declare_queue(Names.dead_letter_queue(queue), passive=True)
        return (
            waiting.declaration_result.message_count or 0,
            dead.declaration_result.message_count or 0,
        )


async def waited(
    running: Running, check: Callable[[], Awaitable[object]], what: str, timeout: float = 30
) -> None:
    """wait_until, failing with notifications' emails and its process's log."""
    try:
        await wait_until(check, what=what, timeout=timeout)
    except AssertionError as exc:
        emails = await e_invoice_emails(running)
        raise AssertionError(f"{exc}\nemails: {emails}\n{running.notifications.tail()}") from None


def failing(
    emails: list[dict], count: int, attempts_before: dict[object, int], new: int = 1
) -> bool:
    """`count` e-invoice emails, all still waiting after a failed attempt, each tried at least
    twice more than in `attempts_before` (those not in it: `new` times)."""
    return len(emails) == count and all(
        e["status"] == "pending"
        and e["last_error"] is not None
        and e["attempts"] >= (attempts_before[e["id"]] + 2 if e["id"] in attempts_before else new)
        for e in emails
    )


async def test_each_e_invoice_goes_once_though_notifications_was_killed_during_an_outage(
    running: Running,
) -> None:
    stack, notifications = running.stack, running.notifications
    customers: list[tuple[Customer, str, erp.InvoiceIssued]] = []
    for _ in range(CUSTOMERS):
        customer, address, issued = await publish_e_invoice_customer(stack.erp)
        customers.append((customer, address, issued))
    ids = [c.customer_id for c, _, _ in customers]

    async def consents_on() -> bool:
        rows = await fetch(
            running,
            "billing",
            "SELECT count(*) AS n FROM e_invoice_consents "
            "WHERE customer_id = ANY($1::text[]) AND state = 'on'",
            ids,
        )
        return rows[0]["n"] == CUSTOMERS

    await wait_until(consents_on, what="billing to take the ERP's consents")

    # Wave 1: queued by notifications and tried once at least, in vain.
    for _, _, issued in customers:
        await stack.erp.publish(erp.InvoiceIssued.TYPE, issued)

    async def wave_failing(count: int, attempts_before: dict[object, int], new: int = 1) -> bool:
        return failing(await e_invoice_emails(running), count, attempts_before, new)

    await waited(running, lambda: wave_failing(CUSTOMERS, {}), "the first wave queued and tried")
    notifications.kill()

    # Wave 2, while notifications is dead: billing's requests wait in the durable queue.
    second: list[tuple[str, str]] = []
    for customer, address, issued in customers:
        again = issued.model_copy(update={"invoice_number": customer.invoice_number + "/2"})
        await stack.erp.publish(erp.InvoiceIssued.TYPE, again)
        second.append((address, again.invoice_number))

    async def second_wave_waiting() -> bool:
        # Billing has handed all ten over (the relay published its outbox); the five new ones
        # wait in the queue, packed into fewer messages (shared/messaging/packing.py).
        [billing] = await fetch(
            running,
            "billing",
            """SELECT (SELECT count(*) FROM e_invoice_deliveries
                        WHERE customer_id = ANY($1::text[]) AND status = 'sent') AS sent,
                      (SELECT count(*) FROM outbox WHERE routing_key = 'billing.e-invoice.issued'
                          AND published_at IS NULL) AS unpublished""",
            ids,
        )
        waiting, dead = await queue_depths(running)
        return (billing["sent"], billing["unpublished"], dead) == (
            2 * CUSTOMERS,
            0,
            0,
        ) and waiting > 0

    await waited(running, second_wave_waiting, "the second wave waiting in the queue")
    before_restart = {e["id"]: e["attempts"] for e in await e_invoice_emails(running)}
    assert len(before_restart) == CUSTOMERS, notifications.tail()

    # Back, still no SMTP server: all ten fail again, more than once each; killed mid-retry.
    notifications.start()
    await notifications.ready()
    await waited(
        running,
        lambda: wave_failing(2 * CUSTOMERS, before_restart, new=2),
        "the ten emails tried again after the restart",
    )
    notifications.kill()
    at_second_kill = await e_invoice_emails(running)
    assert failing(at_second_kill, 2 * CUSTOMERS, {}), (at_second_kill, notifications.tail())
    assert not stack.mailbox.messages

    notifications.start()
    await notifications.ready()
    await stack.start_smtp()

    async def all_sent() -> bool:
        emails = await e_invoice_emails(running)
        return len(emails) == 2 * CUSTOMERS and all(e["status"] == "sent" for e in emails)

    await waited(running, all_sent, "the ten emails marked sent")

    # Once marked sent, no email is taken again: what arrived is all that ever arrives.
    mails = [m for m in stack.mailbox.messages if m.template == "e-invoice"]
    seen = [(m.rcpt_to, m.subject) for m in mails]
    assert len(mails) == 2 * CUSTOMERS, seen
    for address, number in [(a, i.invoice_number) for (_, a, i) in customers] + second:
        # "FV/…/x" is the start of "FV/…/x/2": the number is matched whole.
        copies = [
            m
            for m in stack.mailbox.to_address(address)
            if m.template == "e-invoice" and m.subject.endswith(f" {number}")
        ]
        assert len(copies) == 1, (address, number, seen)
        [attachment] = list(copies[0].message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        pdf = PdfReader(io.BytesIO(attachment.get_content()))
        text = "\n".join(page.extract_text() for page in pdf.pages)
        assert re.search(rf"Nr {re.escape(number)}(\s|$)", text), (number, text)
    assert len({m.message["Message-ID"] for m in mails}) == 2 * CUSTOMERS

    # Nothing kept: no attachment, no published PDF in billing's outbox, no dead letter.
    [left] = await fetch(running, "notifications", "SELECT count(*) AS n FROM email_attachments")
    assert left["n"] == 0

    async def outbox_forgotten() -> bool:
        [published] = await fetch(
            running,
            "billing",
            "SELECT count(*) AS n FROM outbox WHERE routing_key = 'billing.e-invoice.issued'",
        )
        return published["n"] == 0

    # Billing's delivery loop deletes them on its next pass (every 0.2 s here).
    await wait_until(outbox_forgotten, what="the PDFs to leave billing's outbox", timeout=10)
    assert await queue_depths(running) == (0, 0)
