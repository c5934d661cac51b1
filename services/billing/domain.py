"""Billing's rules: how payments and credits settle invoices.

An invoice's status follows from what it has been paid and its due date (repository.STATUS_SQL,
evaluated on read so that "overdue" is always today's answer).

Payments and credit notes that name an invoice go to it first; everything else (and whatever is
left over) settles the open invoices oldest due first, the usual practice of utilities.
Interest and debit notes are charges of their own: they count in the balance, not in invoices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class InvoiceDue:
    invoice_number: str
    due_on: date
    issued_on: date
    gross: Decimal


@dataclass(frozen=True)
class Credit:
    """Money in the customer's favour: a payment or a credit note."""

    amount: Decimal
    invoice_number: str | None


def allocate(invoices: Iterable[InvoiceDue], credits: Iterable[Credit]) -> dict[str, Decimal]:
    """How much of each invoice is paid."""
    ordered = sorted(invoices, key=lambda i: (i.due_on, i.issued_on, i.invoice_number))
    remaining = {i.invoice_number: i.gross for i in ordered}
    pool = ZERO
    for credit in credits:
        target = credit.invoice_number
        if target in remaining:
            applied = min(credit.amount, remaining[target])
            remaining[target] -= applied
            pool += credit.amount - applied
        else:
            pool += credit.amount
    for invoice in ordered:
        applied = min(pool, remaining[invoice.invoice_number])
        remaining[invoice.invoice_number] -= applied
        pool -= applied
    return {i.invoice_number: i.gross - remaining[i.invoice_number] for i in ordered}


def settles_invoices(note_kind: str) -> bool:
    """Credit notes pay invoices; interest and debit notes are charges of their own."""
    return note_kind == "credit"
