"""Identity's message handlers: billing's events feed the projection; notifications' delivery
events move an account through activation."""

from __future__ import annotations

import uuid

import asyncpg

from services.identity import repository
from shared.envelope import Envelope
from shared.events import billing, notifications
from shared.events import identity as events
from shared.logs import get_logger
from shared.messaging.outbox import add_to_outbox

log = get_logger(__name__)

PRODUCER = "identity"


async def customer_upserted(
    conn: asyncpg.Connection, _env: Envelope, c: billing.CustomerChanged
) -> None:
    await repository.upsert_customer(conn, c)


async def contract_upserted(
    conn: asyncpg.Connection, _env: Envelope, c: billing.ContractChanged
) -> None:
    await repository.replace_contract_service_points(conn, c)


async def invoice_issued(
    conn: asyncpg.Connection, _env: Envelope, i: billing.InvoiceIssued
) -> None:
    await repository.upsert_invoice(conn, i)


async def email_sent(
    conn: asyncpg.Connection, _env: Envelope, e: notifications.EmailDelivery
) -> None:
    """The second email moves the account on and asks for the third; the third enables login."""
    if e.reference_id is None:
        return
    if e.template == "registration-confirmation":
        account = await repository.advance_account_status(
            conn,
            uuid.UUID(e.reference_id),
            "awaiting_credentials_email",
            "awaiting_activation_email",
        )
        if account is not None:
            await add_to_outbox(
                conn,
                "identity.account.activated",
                events.AccountActivated(
                    account_id=account["id"],
                    email=account["email"],
                    language=account["language"],
                    login=account["login"],
                ),
                PRODUCER,
            )
    elif e.template == "account-activation":
        account = await repository.advance_account_status(
            conn, uuid.UUID(e.reference_id), "awaiting_activation_email", "active"
        )
        if account is not None:
            log.info("account active; login enabled", account_id=str(account["id"]))


async def email_failed(
    _conn: asyncpg.Connection, _env: Envelope, e: notifications.EmailDelivery
) -> None:
    log.warning(
        "an account email could not be delivered",
        template=e.template,
        reference_id=e.reference_id,
        error=e.error,
    )


BILLING_HANDLERS = {
    "billing.customer.upserted": customer_upserted,
    "billing.contract.upserted": contract_upserted,
    "billing.invoice.issued": invoice_issued,
}
NOTIFICATION_HANDLERS = {
    "notifications.email.sent": email_sent,
    "notifications.email.failed": email_failed,
}
