"""E-invoices on their way: each invoice issued while its customer's consent was on
(e_invoice_deliveries, written by handlers.invoices_issued) is rendered as a PDF by the one
renderer (invoice_pdf) and handed to notifications as billing.e-invoice.issued.

A few deliveries per transaction, claimed with FOR UPDATE SKIP LOCKED: the event goes to the
outbox and the delivery is marked sent in the same transaction, so each e-invoice is published
once whichever instance takes it and whenever billing stops. An invoice whose PDF cannot be
made is marked failed with the reason and logged; it does not hold up the others.

The outbox does not keep the PDFs: each pass first deletes the published rows of
billing.e-invoice.issued (by a partial index that holds only them), instead of the retention
purge's EBOK_OUTBOX_RETENTION_DAYS.
"""

from __future__ import annotations

import asyncio
import base64
import re

import asyncpg

from services.billing import invoice_pdf, repository
from shared.events.billing import EInvoiceIssued
from shared.logs import get_logger
from shared.metrics import E_INVOICES
from shared.tx import Database, Tx

log = get_logger(__name__)

NOTIFY_CHANNEL = "ebok_e_invoices"
# Rendering takes some tens of milliseconds: a transaction holds its claims that long per PDF.
BATCH_SIZE = 10


def pdf_filename(invoice_number: str) -> str:
    """ "FV/2026/10/1001" -> "faktura-FV_2026_10_1001.pdf": characters outside the event's
    pattern become underscores."""
    return "faktura-" + re.sub(r"[^A-Za-z0-9_.-]", "_", invoice_number)[:100] + ".pdf"


class EInvoiceDelivery:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def step(self) -> bool:
        """Forget what the relay has published, then render and publish up to BATCH_SIZE
        waiting e-invoices in one transaction; True when more may be waiting."""
        async with self.db.connection() as tx:
            await repository.forget_published_e_invoices(tx.conn)
        async with self.db.transaction() as tx:
            claimed = await repository.claim_e_invoice_deliveries(tx.conn, BATCH_SIZE)
            sent: list[str] = []
            failed: dict[str, str] = {}
            for delivery in claimed:
                number = delivery["invoice_number"]
                try:
                    event = await self._e_invoice(tx, delivery)
                except asyncpg.PostgresError:
                    raise  # the transaction is lost: the whole batch is tried again
                except Exception as exc:  # one bad invoice must not hold up the others
                    failed[number] = f"{type(exc).__name__}: {exc}"[:1000]
                    E_INVOICES.labels("failed").inc()
                    log.error("e-invoice not rendered", invoice_number=number, error=failed[number])
                    continue
                await tx.publish(event)
                sent.append(number)
                E_INVOICES.labels("sent").inc()
            if claimed:
                await repository.finish_e_invoice_deliveries(tx.conn, sent, failed)
                log.info("e-invoices handed to notifications", sent=len(sent), failed=len(failed))
        return len(claimed) == BATCH_SIZE

    async def _e_invoice(self, tx: Tx, delivery: asyncpg.Record) -> EInvoiceIssued:
        number = delivery["invoice_number"]
        row = await repository.invoice(tx.conn, [delivery["customer_id"]], tx.today(), number)
        if row is None:
            raise LookupError("the invoice is not the customer's any more")
        lines = await repository.invoice_lines(tx.conn, number)
        document = invoice_pdf.PdfInvoice.from_records(dict(row), [dict(line) for line in lines])
        # Off the event loop: a long invoice takes a while to lay out.
        pdf = await asyncio.to_thread(invoice_pdf.render_invoice_pdf, document)
        return EInvoiceIssued(
            customer_id=delivery["customer_id"],
            email=delivery["address"],
            language=delivery["language"],
            invoice_number=number,
            issued_on=row["issued_on"],
            due_on=row["due_on"],
            gross=row["gross"],
            filename=pdf_filename(number),
            pdf=base64.b64encode(pdf).decode("ascii"),
        )
