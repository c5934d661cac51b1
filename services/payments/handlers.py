"""Payments' message handlers: its copies of billing's customers, contracts and invoices (what
can be paid, by whom, and where a partial grant's part is)."""

from __future__ import annotations

from services.payments import repository
from shared.envelope import Envelope
from shared.events import billing
from shared.messaging.consumer import Many, Subscription, latest
from shared.tx import Tx


async def invoices_issued(tx: Tx, items: list[tuple[Envelope, billing.InvoiceIssued]]) -> None:
    await repository.upsert_invoices(tx.conn, latest(items, lambda i: i.invoice_number))


async def invoices_settled(tx: Tx, items: list[tuple[Envelope, billing.InvoiceSettled]]) -> None:
    """Billing's paid amounts: money paid by any channel is no longer offered to pay online."""
    await repository.record_settlements(tx.conn, [(e.occurred_at, s) for e, s in items])


async def contract_changed(tx: Tx, _env: Envelope, c: billing.ContractChanged) -> None:
    await repository.upsert_contract(tx.conn, c)


async def customers_changed(tx: Tx, items: list[tuple[Envelope, billing.CustomerChanged]]) -> None:
    await repository.upsert_customers(tx.conn, latest(items, lambda c: c.customer_id))


SUBSCRIPTIONS = (
    # Each type writes its own table: a batch is handled type by type, one statement a type.
    Subscription(
        "billing-events",
        {
            billing.CustomerChanged: Many(customers_changed),
            billing.ContractChanged: contract_changed,
            billing.InvoiceIssued: Many(invoices_issued),
            billing.InvoiceSettled: Many(invoices_settled),
        },
        types_commute=True,
        in_order=True,  # copies of billing's rows: the last of each key wins
    ),
)
