"""Payments' message handlers: its copies of billing's customers, contracts and invoices (what
can be paid, by whom, and where a partial grant's part is)."""

from __future__ import annotations

from services.payments import repository
from shared.envelope import Envelope
from shared.events import billing
from shared.messaging.consumer import Subscription
from shared.tx import Tx


async def invoice_issued(tx: Tx, _env: Envelope, i: billing.InvoiceIssued) -> None:
    await repository.upsert_invoice(tx.conn, i)


async def contract_changed(tx: Tx, _env: Envelope, c: billing.ContractChanged) -> None:
    await repository.upsert_contract(tx.conn, c)


async def customer_changed(tx: Tx, _env: Envelope, c: billing.CustomerChanged) -> None:
    await repository.upsert_customer(tx.conn, c)


SUBSCRIPTIONS = (
    Subscription(
        "billing-events",
        {
            billing.CustomerChanged: customer_changed,
            billing.ContractChanged: contract_changed,
            billing.InvoiceIssued: invoice_issued,
        },
    ),
)
