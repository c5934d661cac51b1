"""Payments' message handlers: its copies of billing's customers, contracts and invoices (what
can be paid, by whom, and where a partial grant's part is)."""

from __future__ import annotations

from services.payments import repository
from shared.envelope import Envelope
from shared.events import billing
from shared.messaging.consumer import Many, Subscription
from shared.tx import Tx


async def invoice_issued(tx: Tx, _env: Envelope, i: billing.InvoiceIssued) -> None:
    await repository.upsert_invoice(tx.conn, i)


async def invoices_settled(tx: Tx, items: list[tuple[Envelope, billing.InvoiceSettled]]) -> None:
    """Billing's paid amounts: money paid by any channel is no longer offered to pay online."""
    await repository.record_settlements(tx.conn, [(e.occurred_at, s) for e, s in items])


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
            billing.InvoiceSettled: Many(invoices_settled),
        },
    ),
)
