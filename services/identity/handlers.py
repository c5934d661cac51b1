"""Identity's message handlers: billing's events feed the projection; notifications' delivery
events move an account through activation (domain.step_after_email)."""

from __future__ import annotations

import uuid

from services.identity import domain, repository
from shared.envelope import Envelope
from shared.events import billing, notifications
from shared.events import identity as events
from shared.logs import get_logger
from shared.messaging.consumer import Many, PermanentError, Subscription, latest
from shared.tx import Tx

log = get_logger(__name__)


# Billing's events: each handler takes every event of its type in a batch (consumer.Many), and
# the types commute (each writes its own table).


async def customers_changed(tx: Tx, items: list[tuple[Envelope, billing.CustomerChanged]]) -> None:
    await repository.upsert_customers(tx.conn, latest(items, lambda c: c.customer_id))


async def contracts_changed(tx: Tx, items: list[tuple[Envelope, billing.ContractChanged]]) -> None:
    await repository.replace_contracts_service_points(
        tx.conn, latest(items, lambda c: c.contract_number)
    )


async def invoices_issued(tx: Tx, items: list[tuple[Envelope, billing.InvoiceIssued]]) -> None:
    await repository.upsert_invoices(tx.conn, latest(items, lambda i: i.invoice_number))


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
            billing.CustomerChanged: Many(customers_changed),
            billing.ContractChanged: Many(contracts_changed),
            billing.InvoiceIssued: Many(invoices_issued),
        },
        types_commute=True,
    ),
    Subscription(
        "email-delivery",
        {notifications.EmailSent: email_sent, notifications.EmailFailed: email_failed},
    ),
)
