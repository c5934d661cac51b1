"""The "Payment received" email on the real platform (RabbitMQ, PostgreSQL, an SMTP server): a
completed online payment reaches identity, which asks for the email to the customer's account;
it arrives once, in the account's language, though the payment is published twice."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from deploy.integration_client import IntegrationClient
from shared.events import payments
from tests.support.flows import mails_of, wait_for_mail
from tests.support.platform import wait_until
from tests.support.stack import Stack


async def active_account(stack: Stack, language: str) -> tuple[uuid.UUID, str, str]:
    """An active customer account (as registration leaves it): its id, customer and address."""
    suffix = secrets.token_hex(4)
    account_id, customer_id = uuid.uuid4(), f"C-{suffix}"
    address = f"payer.{suffix}@example.com"
    conn = await stack.platform.db("identity")
    try:
        await conn.execute(
            """INSERT INTO accounts (id, customer_id, login, email, language, role, status,
                                     password_hash)
               VALUES ($1, $2, $3, $4, $5, 'customer', 'active', 'not-a-hash')""",
            account_id,
            customer_id,
            f"e{suffix}",
            address,
            language,
        )
    finally:
        await conn.close()
    return account_id, customer_id, address


async def test_the_payment_received_email_arrives_once_in_the_accounts_language(
    stack: Stack,
) -> None:
    account_id, customer_id, address = await active_account(stack, "uk")
    p = payments.PaymentCompleted(
        payment_id=uuid.uuid4(),
        customer_id=customer_id,
        amount=Decimal("123.45"),
        invoices=[
            payments.PaidInvoice(invoice_number=f"FV/{customer_id}", amount=Decimal("123.45"))
        ],
        method="card",
        provider="p24",
        provider_transaction_id=f"T-{secrets.token_hex(6)}",
        paid_by_account_id=account_id,
        completed_at=datetime(2026, 11, 24, 9, 5, tzinfo=UTC),
    )
    settings = stack.platform.settings
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="payments", exchange="events"
    ) as payments_service:
        await payments_service.publish(p.TYPE, p)
        mail = await wait_for_mail(stack, address, "payment-received")
        again = await payments_service.publish(p.TYPE, p)  # published again: a new message id
        await wait_until(lambda: _handled(stack, again), what="the copy handled by identity")

    assert mail.subject == "Платіж отримано: 123.45 PLN"
    assert "платіжна картка" in mail.body("plain")
    assert f"FV/{customer_id}: 123.45 PLN" in mail.body("plain")
    assert str(p.payment_id) in mail.body("html")
    assert len(mails_of(stack, address, "payment-received")) == 1
    # The copy asked for no second email (identity's outbox holds one request).
    conn = await stack.platform.db("identity")
    try:
        asked = await conn.fetchval(
            """SELECT count(*) FROM outbox WHERE routing_key = 'identity.payment-receipt.requested'
                  AND body::text LIKE '%' || $1 || '%'""",
            str(p.payment_id),
        )
    finally:
        await conn.close()
    assert asked == 1


async def _handled(stack: Stack, message_id: uuid.UUID) -> bool:
    conn = await stack.platform.db("identity")
    try:
        return bool(await conn.fetchval("SELECT 1 FROM inbox WHERE message_id = $1", message_id))
    finally:
        await conn.close()
