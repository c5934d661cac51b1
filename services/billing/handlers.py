"""Billing's message handlers: one function per ERP feed type, listed in SUBSCRIPTIONS."""

from __future__ import annotations

import uuid
from decimal import Decimal

from services.billing import domain, e_invoice_delivery, e_invoice_handlers, repository
from shared.envelope import Envelope
from shared.events import billing, erp, identity, payments
from shared.messaging.consumer import Many, PermanentError, Subscription, latest
from shared.tx import Tx

# Each handler takes every message of its type in a batch (consumer.Many): one statement for
# them all. Types commute (SUBSCRIPTIONS): each touches its own tables, and the settlement that
# needs them all runs once before the batch commits.


async def customers_upserted(tx: Tx, items: list[tuple[Envelope, erp.CustomerUpserted]]) -> None:
    customers = latest(items, lambda c: c.customer_id)
    await repository.upsert_customers(tx.conn, customers)
    for c in customers:
        await tx.publish(billing.CustomerChanged.copy_of(c))


async def contracts_upserted(tx: Tx, items: list[tuple[Envelope, erp.ContractUpserted]]) -> None:
    contracts = latest(items, lambda c: c.contract_number)
    await repository.upsert_contracts(tx.conn, contracts)
    for c in contracts:
        await tx.publish(billing.ContractChanged.copy_of(c))


async def invoices_issued(tx: Tx, items: list[tuple[Envelope, erp.InvoiceIssued]]) -> None:
    invoices = latest(items, lambda i: i.invoice_number)
    before = await repository.upsert_invoices(tx.conn, invoices)
    # New invoices of customers whose consent is on go as e-invoices (e_invoice_delivery.py);
    # a re-sent invoice keeps what it had.
    e_invoices = await repository.add_e_invoice_deliveries(
        tx.conn, invoices, set(before), e_invoice_delivery.NOTIFY_CHANNEL
    )
    for i in invoices:
        settle_before_commit(tx, i.customer_id, before.get(i.invoice_number))
        issued = billing.InvoiceIssued.copy_of(i)
        await tx.publish(issued.model_copy(update={"e_invoice": i.invoice_number in e_invoices}))


async def payments_booked(tx: Tx, items: list[tuple[Envelope, erp.PaymentBooked]]) -> None:
    payments = latest(items, lambda p: p.booking_id)
    # A booking of an online payment (its `reference`) replaces what stood for it until now.
    references = sorted({str(p.reference) for p in payments if p.reference is not None})
    if references:
        await repository.lock_online_payments(tx.conn, references)
    before = await repository.upsert_payments(tx.conn, payments)
    for p in payments:
        settle_before_commit(tx, p.customer_id, before.get(p.booking_id))
    # Told once per booking (not per re-sent correction), and only for customers with an e-BOK
    # account: identity asks for the receipt, no one else needs it, and most of the feed's
    # bookings are of customers who never registered (a third of the feed's cost otherwise).
    new = [p for p in payments if p.booking_id not in before]
    if new:
        registered = await repository.customers_with_accounts(
            tx.conn, sorted({p.customer_id for p in new})
        )
        for p in new:
            if p.customer_id in registered:
                await tx.publish(billing.PaymentBooked.copy_of(p))
    if references:
        settle_before_commit(tx, *await repository.drop_awaiting_booking(tx.conn, references))


async def online_payments_completed(
    tx: Tx, items: list[tuple[Envelope, payments.PaymentCompleted]]
) -> None:
    """Online payments the provider confirmed: counted at once, as paying the invoices they name
    (awaiting the ERP's booking, unless the ERP has booked them already), and told to the ERP,
    each once however often it arrives."""
    completed = latest(items, lambda p: p.payment_id)
    shares: dict[uuid.UUID, list[domain.PendingShare]] = {}
    for p in completed:
        try:
            shares[p.payment_id] = domain.pending_shares(
                str(p.payment_id), p.amount, [(i.invoice_number, i.amount) for i in p.invoices]
            )
        except ValueError as exc:
            raise PermanentError(f"payment {p.payment_id}: {exc}") from None
    await repository.lock_online_payments(tx.conn, [str(p.payment_id) for p in completed])
    new = await repository.add_online_payments(tx.conn, completed, shares, tx.settings.timezone)
    for p in completed:
        if p.payment_id in new:
            settle_before_commit(tx, p.customer_id)
            await tx.publish(billing.OnlinePaymentReceived.copy_of(p))


async def notes_issued(tx: Tx, items: list[tuple[Envelope, erp.NoteIssued]]) -> None:
    notes = latest(items, lambda n: n.note_number)
    before = await repository.upsert_notes(tx.conn, notes)
    for n in notes:
        was = before.get(n.note_number)
        # A corrected note may have been (or become) a credit, or moved to another customer.
        if domain.settles_invoices(n.kind) or (was and domain.settles_invoices(was["kind"])):
            settle_before_commit(tx, n.customer_id, was and was["customer_id"])


def settle_before_commit(tx: Tx, *customer_ids: str | None) -> None:
    """Have each of these customers settled once before the transaction commits: the customer
    a fact is booked to and, when the ERP moved it, the one it was booked to before. A batch of
    messages about the same customers settles each of them once, after all of its facts."""
    for customer_id in customer_ids:
        if customer_id:
            tx.before_commit(settle, customer_id)


async def settle(tx: Tx, customer_ids: list[str]) -> None:
    """Recompute what each of these customers' invoices has been paid (domain.allocate) and
    publish every change (billing.invoice.settled, written with the batch's other events)."""
    await repository.lock_settlements(tx.conn, customer_ids)
    invoices = await repository.invoices_to_settle(tx.conn, customer_ids)
    credits = await repository.credits(tx.conn, customer_ids)
    paid: dict[str, Decimal] = {}
    for customer_id in customer_ids:
        paid.update(domain.allocate(invoices[customer_id], credits[customer_id]))
    for row in await repository.set_paid(tx.conn, paid):
        # Payments takes it off what it offers to pay online (money paid by any channel).
        await tx.publish(billing.InvoiceSettled.model_validate(dict(row)))


SUBSCRIPTIONS = (
    Subscription(
        "erp",
        {
            erp.CustomerUpserted: Many(customers_upserted),
            erp.ContractUpserted: Many(contracts_upserted),
            erp.InvoiceIssued: Many(invoices_issued),
            erp.PaymentBooked: Many(payments_booked),
            erp.NoteIssued: Many(notes_issued),
        },
        types_commute=True,
        # A correction replaces what came before it (the last of each key wins).
        in_order=True,
    ),
    # Online payments from the payments service: their own queue, so a feed backlog never
    # delays what the customer sees just after paying.
    Subscription("payments", {payments.PaymentCompleted: Many(online_payments_completed)}),
    # E-invoice consents the ERP sets (paper forms): their own queue, in order, one at a time.
    Subscription(
        "erp-e-invoice",
        {erp.EInvoiceChanged: e_invoice_handlers.erp_e_invoice_changed},
        in_order=True,
    ),
    # The language of the customer's own account, for the emails billing asks for.
    Subscription("accounts", {identity.AccountActivated: e_invoice_handlers.account_activated}),
)
