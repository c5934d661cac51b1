"""Identity's message handlers: billing's events feed the projection; notifications' delivery
events move an account through activation (domain.step_after_email)."""

from __future__ import annotations

import uuid

from services.identity import case_notices, domain, grants, notices, repository
from shared.envelope import Envelope
from shared.events import billing, correspondence, erp, notifications, payments
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
    invoices = latest(items, lambda i: i.invoice_number)
    new = await repository.upsert_invoices(tx.conn, invoices)
    await notices.ask_for_invoice_notices(tx, invoices, new)


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
        await tx.publish(
            domain.account_email(
                events.AccountActivated, account, customer_id=account["customer_id"]
            )
        )


async def email_failed(_tx: Tx, _env: Envelope, e: notifications.EmailFailed) -> None:
    log.warning(
        "an account email could not be delivered",
        template=e.template,
        source_event_type=e.source_event_type,
        reference_id=e.reference_id,
        error=e.error,
    )


async def payment_completed(tx: Tx, _env: Envelope, p: payments.PaymentCompleted) -> None:
    """Ask for the "Payment received" email, once per payment (a payment published again under
    a new message id finds its receipt recorded): to the customer's own account and, when
    another account paid (a manager), to that one too; only to accounts in use, each by its
    own preference (payment_received)."""
    if not await repository.record_payment_receipt(tx.conn, p.payment_id):
        return
    own = await repository.account_for_customer(tx.conn, p.customer_id)
    payer = (
        own
        if own is not None and own["id"] == p.paid_by_account_id
        else await repository.account_by_id(tx.conn, p.paid_by_account_id)
    )
    recipients = {a["id"]: a for a in (own, payer) if a is not None and a["status"] == "active"}
    for account_id in await repository.accounts_not_wanting(
        tx.conn, list(recipients), "payment-receipt"
    ):
        del recipients[account_id]
    if not recipients:
        log.info("no account to tell of a payment", payment_id=str(p.payment_id))
    for account in recipients.values():
        await tx.publish(
            events.PaymentReceiptRequested(
                account_id=account["id"],
                email=account["email"],
                language=account["language"],
                login=account["login"],
                payment_id=p.payment_id,
                customer_id=p.customer_id,
                amount=p.amount,
                currency=p.currency,
                invoices=p.invoices,
                method=p.method,
                completed_at=p.completed_at,
            )
        )


# The ERP's grants (erp.manager.granted / erp.manager.revoked): the ERP is the record of who
# manages what, so its grants are taken as they come (a service point the projection does not
# know yet is kept: the contract event may come later).


async def _manager_id(tx: Tx, login: str) -> uuid.UUID:
    account = await repository.account_by_login(tx.conn, login.strip().lower())
    if account is None or account["role"] != "manager":
        raise PermanentError(f"no manager account has the login {login!r}")
    return account["id"]


async def erp_manager_granted(tx: Tx, _env: Envelope, g: erp.ManagerGranted) -> None:
    manager_id = await _manager_id(tx, g.manager_login)
    row = await grants.set_grant(
        tx, manager_id, g.customer_id, g.scope, g.service_point_ids, grants.Change("erp")
    )
    log.info("grant set by the ERP", customer_id=g.customer_id, revision=row["revision"])


async def erp_manager_revoked(tx: Tx, _env: Envelope, r: erp.ManagerRevoked) -> None:
    manager_id = await _manager_id(tx, r.manager_login)
    row = await grants.revoke_grant(tx, manager_id, r.customer_id, grants.Change("erp"))
    if row is None:
        log.info("the ERP revoked a grant that was not live", customer_id=r.customer_id)


SUBSCRIPTIONS = (
    Subscription(
        "billing-events",
        {
            billing.CustomerChanged: Many(customers_changed),
            billing.ContractChanged: Many(contracts_changed),
            billing.InvoiceIssued: Many(invoices_issued),
        },
        types_commute=True,
        in_order=True,  # copies of billing's rows: the last of each key wins
    ),
    Subscription(
        "email-delivery",
        {notifications.EmailSent: email_sent, notifications.EmailFailed: email_failed},
    ),
    Subscription(
        "erp-managers",
        {erp.ManagerGranted: erp_manager_granted, erp.ManagerRevoked: erp_manager_revoked},
        in_order=True,  # a grant and its revocation must not swap
    ),
    Subscription("payments", {payments.PaymentCompleted: payment_completed}),
    Subscription(
        "account-notices",
        {
            billing.InvoiceDueSoon: Many(notices.invoices_due_soon),
            billing.PaymentBooked: Many(notices.payments_booked),
        },
        types_commute=True,
    ),
    # Issue 13: the "case updated" email (case_notices.py).
    Subscription("cases", {correspondence.CaseChanged: case_notices.case_changed}),
)
