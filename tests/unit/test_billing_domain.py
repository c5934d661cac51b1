from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from services.billing.domain import Credit, InvoiceDue, PendingShare, allocate, pending_shares


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


# --- an online payment awaiting booking -------------------------------------------------------


def test_an_online_payment_stands_as_one_entry_per_invoice_and_the_rest() -> None:
    assert pending_shares("P", D("250.00"), [("FV/2", D("170.00")), ("FV/4", D("60.00"))]) == [
        PendingShare("online:P:1", D("170.00"), "FV/2"),
        PendingShare("online:P:2", D("60.00"), "FV/4"),
        PendingShare("online:P:3", D("20.00"), None),
    ]


def test_an_invoice_named_twice_is_one_entry_and_nothing_is_left_without_a_rest() -> None:
    assert pending_shares("P", D("30.00"), [("FV/1", D("10.00")), ("FV/1", D("20.00"))]) == [
        PendingShare("online:P:1", D("30.00"), "FV/1")
    ]


def test_a_payment_naming_no_invoice_is_one_unassigned_entry() -> None:
    assert pending_shares("P", D("5.00"), []) == [PendingShare("online:P:1", D("5.00"), None)]


def test_zero_parts_make_no_entry() -> None:
    assert pending_shares("P", D("5.00"), [("FV/1", D("0.00"))]) == [
        PendingShare("online:P:1", D("5.00"), None)
    ]


def test_parts_worth_more_than_the_payment_are_refused() -> None:
    with pytest.raises(ValueError, match=r"exceed the amount by 0\.01"):
        pending_shares("P", D("10.00"), [("FV/1", D("10.01"))])
