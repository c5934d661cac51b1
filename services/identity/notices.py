"""The account emails identity asks for on billing's facts (issue 12): "New invoice", the
due-date reminder and "Payment received" for a booked payment. Only the customer's own account,
active, and only while its preference (notification_preferences) leaves the email on; a manager
of the customer is not told (the emails speak to the customer).

Each handler takes a batch (consumer.Many) with a constant number of statements: the invoices
and bookings come with the ERP feed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TypeVar

import asyncpg

from services.identity import domain, repository
from shared.envelope import Envelope
from shared.events import Event, billing
from shared.events import identity as events
from shared.logs import get_logger
from shared.messaging.consumer import latest
from shared.tx import Tx

log = get_logger(__name__)
# A fact of billing's about one customer (a reminder, a booking).
F = TypeVar("F", billing.InvoiceDueSoon, billing.PaymentBooked)

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


async def _ask_once(
    tx: Tx,
    notice: str,
    facts: list[F],
    key: Callable[[F], str],
    request: Callable[[F, asyncpg.Record], Event],
) -> None:
    """Ask for `notice`'s email for each fact whose customer's own account wants it, once per
    fact (`key`): billing's fact published again (a new message id) finds it recorded in
    account_notices."""
    accounts = await _accounts_wanting(tx, (f.customer_id for f in facts), notice)
    wanted = [f for f in facts if f.customer_id in accounts]
    if not wanted:
        return
    asked = await repository.record_account_notices(tx.conn, notice, [key(f) for f in wanted])
    for f in wanted:
        if key(f) not in asked:
            log.info("notice asked for already", notice=notice, reference=key(f))
            continue
        await tx.publish(request(f, accounts[f.customer_id]))


async def invoices_due_soon(tx: Tx, items: list[tuple[Envelope, billing.InvoiceDueSoon]]) -> None:
    """The reminder, once per invoice."""
    await _ask_once(
        tx,
        "invoice-reminder",
        latest(items, lambda r: r.invoice_number),
        lambda r: r.invoice_number,
        lambda r, account: domain.account_email(
            events.InvoiceReminderRequested,
            account,
            customer_id=r.customer_id,
            invoice_number=r.invoice_number,
            due_on=r.due_on,
            gross=r.gross,
            amount_due=r.amount_due,
        ),
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
    await _ask_once(
        tx,
        "booking-receipt",
        bookings,
        lambda b: b.booking_id,
        lambda b, account: domain.account_email(
            events.BookingReceiptRequested,
            account,
            customer_id=b.customer_id,
            booking_id=b.booking_id,
            booked_on=b.booked_on,
            amount=b.amount,
            invoice_number=b.invoice_number,
        ),
    )
