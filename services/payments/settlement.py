"""Settling a payment the provider says is paid: confirm it with the provider, then mark it paid
and publish payments.payment.completed in one transaction, once whatever arrives twice."""

from __future__ import annotations

import uuid
from typing import Literal

import orjson

from services.payments import domain, repository
from services.payments.providers.base import Provider, Transaction
from shared.events.payments import PaidInvoice, PaymentCompleted
from shared.tx import Database

Outcome = Literal["accepted", "duplicate", "unknown-session", "amount-mismatch"]


def payment_uuid(session_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(session_id)
    except ValueError:
        return None


async def check(db: Database, transaction: Transaction) -> tuple[Outcome, uuid.UUID | None]:
    """What the provider's word on `transaction` means for our payment, before confirming."""
    payment_id = payment_uuid(transaction.payment_id)
    if payment_id is None:
        return "unknown-session", None
    async with db.connection() as tx:
        row = await repository.payment(tx.conn, payment_id)
    if row is None:
        return "unknown-session", None
    verdict = domain.notification_verdict(
        row["status"], row["amount"], transaction.amount_grosze, transaction.currency
    )
    return verdict, payment_id


async def settle(
    db: Database, provider: Provider, payment_id: uuid.UUID, transaction: Transaction
) -> Outcome:
    """Confirm the (checked) transaction with the provider (ProviderUnavailable/Refused pass
    through, nothing changed), then mark the payment paid with its event, unless it was already:
    a notification and reconciliation, or two notifications, racing end in one effect."""
    await provider.confirm(transaction)
    async with db.transaction() as tx:
        row = await repository.lock_payment(tx.conn, payment_id)
        if row is None:
            return "unknown-session"
        if row["status"] == "paid":
            return "duplicate"
        amount = row["amount"]
        completed_at = await repository.mark_paid(
            tx.conn,
            payment_id,
            provider.name,
            transaction.order_id,
            transaction.method_id,
            transaction.statement,
            domain.from_grosze(transaction.amount_grosze),
            transaction.currency,
        )
        invoices = orjson.loads(row["invoices"]) if isinstance(row["invoices"], str) else []
        await tx.publish(
            PaymentCompleted(
                payment_id=payment_id,
                customer_id=row["customer_id"],
                amount=amount,
                invoices=[PaidInvoice(**i) for i in invoices],
                method=row["method"],
                provider=provider.name,
                provider_transaction_id=transaction.order_id,
                paid_by_account_id=row["account_id"],
                completed_at=completed_at,
            )
        )
    return "accepted"
