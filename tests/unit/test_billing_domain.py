from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from services.billing.domain import Credit, InvoiceDue, allocate


def inv(number: str, due: str, gross: str) -> InvoiceDue:
    return InvoiceDue(number, date.fromisoformat(due), date.fromisoformat(due), D(gross))


def test_named_payments_go_to_their_invoice_first() -> None:
    invoices = [inv("A", "2025-01-14", "100"), inv("B", "2025-02-14", "200")]
    assert allocate(invoices, [Credit(D("150"), "B")]) == {"A": D("0"), "B": D("150")}


def test_unnamed_money_settles_the_oldest_due_first() -> None:
    invoices = [inv("B", "2025-02-14", "200"), inv("A", "2025-01-14", "100")]
    assert allocate(invoices, [Credit(D("150"), None)]) == {"A": D("100"), "B": D("50")}


def test_overpaying_a_named_invoice_spills_to_the_next() -> None:
    invoices = [inv("A", "2025-01-14", "100"), inv("B", "2025-02-14", "200")]
    assert allocate(invoices, [Credit(D("130"), "A")]) == {"A": D("100"), "B": D("30")}


def test_money_for_an_unknown_invoice_is_not_lost() -> None:
    invoices = [inv("A", "2025-01-14", "100")]
    assert allocate(invoices, [Credit(D("40"), "ZZZ")]) == {"A": D("40")}


def test_more_money_than_invoices_leaves_them_paid() -> None:
    invoices = [inv("A", "2025-01-14", "100")]
    assert allocate(invoices, [Credit(D("500"), None)]) == {"A": D("100")}
    assert allocate([], [Credit(D("5"), None)]) == {}
