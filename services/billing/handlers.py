"""Billing's message handlers: one function per ERP feed type, listed in SUBSCRIPTIONS."""

from __future__ import annotations

from decimal import Decimal

from services.billing import domain, repository
from shared.envelope import Envelope
from shared.events import billing, erp
from shared.messaging.consumer import Subscription
from shared.tx import Tx


async def customer_upserted(tx: Tx, _env: Envelope, c: erp.CustomerUpserted) -> None:
    await repository.upsert_customer(tx.conn, c)
    await tx.publish(billing.CustomerChanged.copy_of(c))


async def contract_upserted(tx: Tx, _env: Envelope, c: erp.ContractUpserted) -> None:
    await repository.upsert_contract(tx.conn, c)
    await tx.publish(billing.ContractChanged.copy_of(c))


async def invoice_issued(tx: Tx, _env: Envelope, i: erp.InvoiceIssued) -> None:
    previous_customer = await repository.upsert_invoice(tx.conn, i)
    settle_before_commit(tx, i.customer_id, previous_customer)
    await tx.publish(billing.InvoiceIssued.copy_of(i))


async def payment_booked(tx: Tx, _env: Envelope, p: erp.PaymentBooked) -> None:
    previous_customer = await repository.upsert_payment(tx.conn, p)
    settle_before_commit(tx, p.customer_id, previous_customer)


async def note_issued(tx: Tx, _env: Envelope, n: erp.NoteIssued) -> None:
    before = await repository.upsert_note(tx.conn, n)
    # A corrected note may have been (or become) a credit, or moved to another customer.
    if domain.settles_invoices(n.kind) or (before and domain.settles_invoices(before["kind"])):
        settle_before_commit(tx, n.customer_id, before and before["customer_id"])


def settle_before_commit(tx: Tx, *customer_ids: str | None) -> None:
    """Have each of these customers settled once before the transaction commits: the customer
    a fact is booked to and, when the ERP moved it, the one it was booked to before. A batch of
    messages about the same customers settles each of them once, after all of its facts."""
    for customer_id in customer_ids:
        if customer_id:
            tx.before_commit(settle, customer_id)


async def settle(tx: Tx, customer_ids: list[str]) -> None:
    """Recompute what each of these customers' invoices has been paid (domain.allocate)."""
    await repository.lock_settlements(tx.conn, customer_ids)
    invoices = await repository.invoices_to_settle(tx.conn, customer_ids)
    credits = await repository.credits(tx.conn, customer_ids)
    paid: dict[str, Decimal] = {}
    for customer_id in customer_ids:
        paid.update(domain.allocate(invoices[customer_id], credits[customer_id]))
    await repository.set_paid(tx.conn, paid)


SUBSCRIPTIONS = (
    Subscription(
        "erp",
        {
            erp.CustomerUpserted: customer_upserted,
            erp.ContractUpserted: contract_upserted,
            erp.InvoiceIssued: invoice_issued,
            erp.PaymentBooked: payment_booked,
            erp.NoteIssued: note_issued,
        },
    ),
)
