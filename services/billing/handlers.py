"""Billing's message handlers: one function per ERP feed type."""

from __future__ import annotations

import asyncpg

from services.billing import repository
from shared.envelope import Envelope
from shared.events import billing, erp
from shared.messaging.outbox import add_to_outbox

PRODUCER = "billing"


async def customer_upserted(
    conn: asyncpg.Connection, _env: Envelope, c: erp.CustomerUpserted
) -> None:
    await repository.upsert_customer(conn, c)
    await add_to_outbox(
        conn,
        "billing.customer.upserted",
        billing.CustomerChanged(
            customer_id=c.customer_id, name=c.name, email=c.email, language=c.language
        ),
        PRODUCER,
    )


async def contract_upserted(
    conn: asyncpg.Connection, _env: Envelope, c: erp.ContractUpserted
) -> None:
    await repository.upsert_contract(conn, c)
    await add_to_outbox(
        conn,
        "billing.contract.upserted",
        billing.ContractChanged(
            contract_number=c.contract_number,
            customer_id=c.customer_id,
            signed_on=c.signed_on,
            status=c.status,
            service_points=[billing.ServicePointRef(**sp.model_dump()) for sp in c.service_points],
        ),
        PRODUCER,
    )


async def invoice_issued(conn: asyncpg.Connection, _env: Envelope, i: erp.InvoiceIssued) -> None:
    await repository.upsert_invoice(conn, i)
    await repository.settle_invoices(conn, i.customer_id)
    await add_to_outbox(
        conn,
        "billing.invoice.issued",
        billing.InvoiceIssued(
            invoice_number=i.invoice_number,
            customer_id=i.customer_id,
            contract_number=i.contract_number,
            issued_on=i.issued_on,
            due_on=i.due_on,
            gross=i.gross,
        ),
        PRODUCER,
    )


async def payment_booked(conn: asyncpg.Connection, _env: Envelope, p: erp.PaymentBooked) -> None:
    await repository.upsert_payment(conn, p)
    await repository.settle_invoices(conn, p.customer_id)


async def note_issued(conn: asyncpg.Connection, _env: Envelope, n: erp.NoteIssued) -> None:
    await repository.upsert_note(conn, n)
    if n.kind == "credit":
        await repository.settle_invoices(conn, n.customer_id)


ERP_HANDLERS = {
    "erp.customer.upserted": customer_upserted,
    "erp.contract.upserted": contract_upserted,
    "erp.invoice.issued": invoice_issued,
    "erp.payment.booked": payment_booked,
    "erp.note.issued": note_issued,
}
