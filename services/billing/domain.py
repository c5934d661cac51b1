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


@dataclass(frozen=True)
class PendingShare:
    """Part of an online payment awaiting booking: what it pays of one invoice, or (no invoice)
    what is left over, a credit that settles the oldest open invoices."""

    entry_id: str
    amount: Decimal
    invoice_number: str | None


def pending_shares(
    payment_id: str, amount: Decimal, invoices: Iterable[tuple[str, Decimal]]
) -> list[PendingShare]:
    """An online payment as the entries that stand for it until the ERP books it: one per
    invoice it names (in the order named, one invoice named twice counted together), then the
    rest of the amount. ValueError when the invoices' parts add up to more than the amount."""
    parts: dict[str, Decimal] = {}
    for number, part in invoices:
        parts[number] = parts.get(number, ZERO) + part
    rest = amount - sum(parts.values(), ZERO)
    if rest < 0:
        raise ValueError(f"the invoices' parts exceed the amount by {-rest}")
    shares = [(number, part) for number, part in parts.items() if part > 0]
    if rest > 0:
        shares.append((None, rest))
    return [
        PendingShare(f"online:{payment_id}:{n}", part, number)
        for n, (number, part) in enumerate(shares, 1)
    ]
