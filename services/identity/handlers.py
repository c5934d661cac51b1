"""Identity's message handlers: billing's events feed the projection; notifications' delivery
events move an account through activation (domain.step_after_email)."""

from __future__ import annotations

import uuid

from services.identity import domain, repository
from shared.envelope import Envelope
from shared.events import billing, notifications
from shared.events import identity as events
from shared.logs import get_logger
from shared.messaging.consumer import PermanentError, Subscription
from shared.tx import Tx

log = get_logger(__name__)


async def customer_upserted(tx: Tx, _env: Envelope, c: billing.CustomerChanged) -> None:
    await repository.upsert_customer(tx.conn, c)


async def contract_upserted(tx: Tx, _env: Envelope, c: billing.ContractChanged) -> None:
    await repository.replace_contract_service_points(tx.conn, c)


async def invoice_issued(tx: Tx, _env: Envelope, i: billing.InvoiceIssued) -> None:
    await repository.upsert_invoice(tx.conn, i)


async def email_sent(tx: Tx, _env: Envelope, e: notifications.EmailSent) -> None:
    """The second email moves the account on and asks for the third; the third enables login."""
    step = domain.step_after_email(e.source_event_type)
    if step is None or e.reference_id is None:
        return
    try:
        account_id = uuid.UUID(e.reference_id)
    except ValueError:
        raise PermanentError(f"reference_id {e.reference_id!r} names no account") from None
    account = await repository.advance_account_status(
        tx.conn, account_id, step.from_status, step.to_status
    )
    if account is None:
        return  # a redelivered or late email: the account has moved on already
    log.info("account moved on", account_id=str(account["id"]), status=step.to_status)
    if step.announce_activation:
        await tx.publish(domain.account_email(events.AccountActivated, account))


async def email_failed(_tx: Tx, _env: Envelope, e: notifications.EmailFailed) -> None:
    log.warning(
        "an account email could not be delivered",
        template=e.template,
        source_event_type=e.source_event_type,
        reference_id=e.reference_id,
        error=e.error,
    )


SUBSCRIPTIONS = (
    Subscription(
        "billing-events",
        {
            billing.CustomerChanged: customer_upserted,
            billing.ContractChanged: contract_upserted,
            billing.InvoiceIssued: invoice_issued,
        },
    ),
    Subscription(
        "email-delivery",
        {notifications.EmailSent: email_sent, notifications.EmailFailed: email_failed},
    ),
)
