"""The account emails identity asks for on billing's facts (issue 12): "New invoice", the
due-date reminder and "Payment received" for a booked payment. Only the customer's own account,
active, and only while its preference (notification_preferences) leaves the email on; a manager
of the customer is not told (the emails speak to the customer).

Each handler takes a batch (consumer.Many) with a constant number of statements: the invoices
and bookings come with the ERP feed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import asyncpg

from services.identity import domain, repository
from shared.envelope import Envelope
from shared.events import billing
from shared.events import identity as events
from shared.logs import get_logger
from shared.messaging.consumer import latest
from shared.tx import Tx

log = get_logger(__name__)

# "Payment received" is news for a few weeks: an older booking that reaches e-BOK only now (the
# ERP sending its history again) is shown in the account, not emailed.
BOOKING_NEWS_DAYS = 30


async def _accounts_wanting(
    tx: Tx, customer_ids: Iterable[str], notice: str
) -> dict[str, asyncpg.Record]:
    """The customer's own active account of each customer that wants `notice`, by customer."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    rows = await repository.customer_accounts_wanting(tx.conn, wanted, notice)
    return {r["customer_id"]: r for r in rows}


async def ask_for_invoice_notices(
    tx: Tx, invoices: list[billing.InvoiceIssued], new: set[str]
) -> None:
    """ "New invoice" for the invoices the projection has just learnt of (an invoice billing
    publishes again, corrected, is not new), not sent as an e-invoice (that email says it
    already), and not yet due: the ERP's history of old invoices brings no emails."""
    today = tx.today()
    fresh = [
        i for i in invoices if i.invoice_number in new and not i.e_invoice and i.due_on >= today
    ]
    accounts = await _accounts_wanting(tx, (i.customer_id for i in fresh), "invoice-notice")
    for i in fresh:
        account = accounts.get(i.customer_id)
        if account is None:
            continue
        await tx.publish(
            domain.account_email(
                events.InvoiceNoticeRequested,
                account,
                customer_id=i.customer_id,
                invoice_number=i.invoice_number,
                issued_on=i.issued_on,
                due_on=i.due_on,
                gross=i.gross,
            )
        )


async def invoices_due_soon(tx: Tx, items: list[tuple[Envelope, billing.InvoiceDueSoon]]) -> None:
    """The reminder, once per invoice: billing's fact published again (a new message id) finds
    the reminder recorded in account_notices."""
    reminders = latest(items, lambda r: r.invoice_number)
    accounts = await _accounts_wanting(tx, (r.customer_id for r in reminders), "invoice-reminder")
    wanted = [r for r in reminders if r.customer_id in accounts]
    if not wanted:
        return
    asked = await repository.record_account_notices(
        tx.conn, "invoice-reminder", [r.invoice_number for r in wanted]
    )
    for r in wanted:
        if r.invoice_number not in asked:
            log.info("reminder asked for already", invoice_number=r.invoice_number)
            continue
        await tx.publish(
            domain.account_email(
                events.InvoiceReminderRequested,
                accounts[r.customer_id],
                customer_id=r.customer_id,
                invoice_number=r.invoice_number,
                due_on=r.due_on,
                gross=r.gross,
                amount_due=r.amount_due,
            )
        )


async def payments_booked(tx: Tx, items: list[tuple[Envelope, billing.PaymentBooked]]) -> None:
    """ "Payment received" for a payment the utility booked, once per booking. A booking with a
    `reference` books an online payment made in e-BOK, whose receipt went when it was made
    (handlers.payment_completed): no second email for the same money. A booking more than
    BOOKING_NEWS_DAYS old when it arrives is history the ERP sends again, not news."""
    oldest = tx.today() - timedelta(days=BOOKING_NEWS_DAYS)
    bookings = [
        b
        for b in latest(items, lambda b: b.booking_id)
        if b.reference is None and b.booked_on >= oldest
    ]
    accounts = await _accounts_wanting(tx, (b.customer_id for b in bookings), "booking-receipt")
    wanted = [b for b in bookings if b.customer_id in accounts]
    if not wanted:
        return
    asked = await repository.record_account_notices(
        tx.conn, "booking-receipt", [b.booking_id for b in wanted]
    )
    for b in wanted:
        if b.booking_id not in asked:
            log.info("booking receipt asked for already", booking_id=b.booking_id)
            continue
        await tx.publish(
            domain.account_email(
                events.BookingReceiptRequested,
                accounts[b.customer_id],
                customer_id=b.customer_id,
                booking_id=b.booking_id,
                booked_on=b.booked_on,
                amount=b.amount,
                invoice_number=b.invoice_number,
            )
        )
