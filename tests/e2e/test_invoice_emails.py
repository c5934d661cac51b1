"""The invoice emails billing starts, through the ERP feed (issue 12): an invoice issued while
the customer's e-invoice consent is on arrives at the e-invoice address with its PDF; the
due-date reminder goes once, across billing's restarts (a new configuration among them), and
never for an invoice paid meanwhile; a booking is told once; after a withdrawal the next invoice
is on paper, announced by "new invoice"."""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest_asyncio
from pypdf import PdfReader

from shared.events import erp
from tests.support.erp import customer_feed
from tests.support.flows import access_token, mails_of, registered_account, wait_for_mail
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    # No invoice is due soon until a test restarts billing with a wider window.
    async for running in start_stack(
        infra,
        keys,
        reminder_days_before_due=0,
        reminder_poll_seconds=0.3,
        e_invoice_poll_seconds=0.2,
    ):
        yield running


async def billing_value(stack: Stack, query: str, *args: object) -> object:
    conn: asyncpg.Connection = await stack.platform.db("billing")
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


def invoice(customer_id: str, number: str, due_in_days: int, stack: Stack) -> erp.InvoiceIssued:
    today = stack.platform.settings.today()
    return erp.InvoiceIssued(
        invoice_number=number,
        customer_id=customer_id,
        contract_number=f"U-{customer_id.removeprefix('C-')}",
        issued_on=today,
        due_on=today + timedelta(days=due_in_days),
        period_from=today - timedelta(days=30),
        period_to=today - timedelta(days=1),
        net=Decimal("200.00"),
        vat=Decimal("16.00"),
        gross=Decimal("216.00"),
    )


async def test_an_invoice_goes_to_the_e_invoice_address_with_its_pdf(stack: Stack) -> None:
    customer, messages = customer_feed()
    for event_type, payload in messages[:2]:  # the customer and its contract
        await stack.erp.publish(event_type, payload)  # type: ignore[arg-type]
    address = f"e-faktury.{secrets.token_hex(3)}@example.com"
    await stack.erp.publish(
        erp.EInvoiceChanged.TYPE,
        erp.EInvoiceChanged(
            customer_id=customer.customer_id, state="on", address=address, regulations_version="1"
        ),
    )
    await wait_until(
        lambda: billing_value(
            stack,
            "SELECT 1 FROM e_invoice_consents WHERE customer_id = $1 AND state = 'on'",
            customer.customer_id,
        ),
        what="billing to take the ERP's consent",
    )

    event_type, issued = messages[2]
    await stack.erp.publish(event_type, issued)  # type: ignore[arg-type]

    mail = await wait_for_mail(stack, address, "e-invoice")
    [attachment] = list(mail.message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "faktura-" + customer.invoice_number.replace("/", "_") + (
        ".pdf"
    )
    text = "\n".join(
        page.extract_text() for page in PdfReader(io.BytesIO(attachment.get_content())).pages
    )
    assert f"Nr {customer.invoice_number}" in text
    assert "108.00 PLN" in text

    # Billing's outbox does not keep the PDF once it has been published.
    async def forgotten() -> bool:
        return not await billing_value(
            stack,
            "SELECT 1 FROM outbox WHERE routing_key = 'billing.e-invoice.issued' AND body LIKE $1",
            f"%{customer.invoice_number}%",
        )

    await wait_until(forgotten, what="the published e-invoice to leave billing's outbox")
    assert len(mails_of(stack, address, "e-invoice")) == 1


async def restart_billing(stack: Stack, **settings: object) -> None:
    """Billing stopped and started again on the same port (the gateway keeps its address),
    with `settings` changed."""
    platform = stack.platform
    platform.ports["billing"] = int(platform.urls["billing"].rsplit(":", 1)[1])
    await platform.stop_service("billing")
    await platform.start_service("billing", **settings)


async def passes(stack: Stack) -> int:
    found = await billing_value(stack, "SELECT coalesce(max(scans), 0) FROM reminder_scans")
    return int(found)  # type: ignore[call-overload]


async def a_pass_after(stack: Stack, seen: int) -> None:
    async def finished() -> bool:
        return await passes(stack) > seen

    await wait_until(finished, what="a reminder pass to finish")


async def test_a_reminder_goes_once_across_restarts_and_not_for_a_paid_invoice(
    stack: Stack,
) -> None:
    account = await registered_account(stack, change_password=False)
    c = account.customer.customer_id
    a = invoice(c, f"FV/R/A/{secrets.token_hex(3)}", 10, stack)
    b = invoice(c, f"FV/R/B/{secrets.token_hex(3)}", 10, stack)
    for message in (a, b):
        await stack.erp.publish(erp.InvoiceIssued.TYPE, message)
    await stack.erp.publish(
        erp.PaymentBooked.TYPE,
        erp.PaymentBooked(
            booking_id=f"B-{b.invoice_number}",
            customer_id=c,
            booked_on=stack.platform.settings.today(),
            amount=b.gross,
            invoice_number=b.invoice_number,
            channel="transfer",
        ),
    )
    await wait_until(
        lambda: billing_value(
            stack,
            "SELECT paid = gross FROM invoices WHERE invoice_number = $1",
            b.invoice_number,
        ),
        what="B paid",
    )
    # Due in ten days, outside today's window: not reminded.
    await a_pass_after(stack, await passes(stack))
    assert not await billing_value(stack, "SELECT count(*) FROM invoice_reminders")

    # Billing comes back reminding 15 days ahead: A is reminded, B (paid) is not.
    await restart_billing(stack, reminder_days_before_due=15)
    mail = await wait_for_mail(stack, account.customer.email, "invoice-reminder")
    assert a.invoice_number in mail.body("plain")

    # And once more: a pass after that restart reminds nothing again.
    seen = await passes(stack)
    await restart_billing(stack, reminder_days_before_due=15)
    await a_pass_after(stack, seen)

    reminded = await billing_value(
        stack, "SELECT array_agg(invoice_number ORDER BY invoice_number) FROM invoice_reminders"
    )
    assert reminded == [a.invoice_number]
    published = await billing_value(
        stack,
        """SELECT count(*) FROM outbox
            WHERE routing_key = 'billing.invoice.due-soon' AND body LIKE $1""",
        f"%{c}%",
    )
    assert published == 1
    reminders = mails_of(stack, account.customer.email, "invoice-reminder")
    assert len(reminders) == 1
    assert b.invoice_number not in reminders[0].body("plain")
    # The booking that paid B was told once (billing.payment.booked), as "payment received".
    receipt = await wait_for_mail(stack, account.customer.email, "payment-booked")
    assert "216.00" in receipt.body("plain")
    assert len(mails_of(stack, account.customer.email, "payment-booked")) == 1


async def test_after_a_withdrawal_the_next_invoice_comes_as_a_new_invoice_email(
    stack: Stack,
) -> None:
    """The customer turns e-invoice on in e-BOK: the next invoice goes to the e-invoice address
    with its PDF and no "new invoice" email. Withdrawn: the invoice after that is on paper,
    announced by "new invoice" to the account, and no e-invoice goes."""
    account = await registered_account(stack)
    token = await access_token(stack, account)
    customer = account.customer
    address = f"e-faktury.{secrets.token_hex(3)}@example.com"
    status, regulations = await stack.api.request("GET", "/api/v1/e-invoice/regulations")
    assert status == 200
    status, body = await stack.api.request(
        "POST",
        "/api/v1/e-invoice",
        token=token,
        json={"address": address, "regulations_version": regulations["version"]},
    )
    assert status == 202, body
    link = await wait_for_mail(stack, address, "e-invoice-confirmation")
    found = re.search(r"/e-invoice/confirm#token=([A-Za-z0-9_-]+)", link.body("plain"))
    assert found, link.body("plain")
    status, body = await stack.api.request(
        "POST", "/api/v1/e-invoice/confirmations", json={"token": found.group(1)}
    )
    assert status == 200 and body["state"] == "on", body

    first = f"FV/E/{secrets.token_hex(4)}"
    await stack.erp.publish(erp.InvoiceIssued.TYPE, invoice(customer.customer_id, first, 20, stack))
    mail = await wait_for_mail(stack, address, "e-invoice")
    assert first in mail.subject

    status, body = await stack.api.request("DELETE", "/api/v1/e-invoice", token=token)
    assert status == 200 and body["state"] == "off", body
    second = f"FV/E/{secrets.token_hex(4)}"
    await stack.erp.publish(
        erp.InvoiceIssued.TYPE, invoice(customer.customer_id, second, 20, stack)
    )
    notice = await wait_for_mail(stack, customer.email, "invoice-issued")
    assert second in notice.subject
    # The first went as an e-invoice only; the second as "new invoice" only.
    assert [second in m.subject for m in mails_of(stack, customer.email, "invoice-issued")] == [
        True
    ]
    assert len(mails_of(stack, address, "e-invoice")) == 1
    assert (
        await billing_value(
            stack,
            "SELECT count(*) FROM e_invoice_deliveries WHERE invoice_number = ANY($1::text[])",
            [first, second],
        )
        == 1
    )
