"""The rules of paying (services/payments/domain.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from ipaddress import ip_network

import pytest

from services.payments import domain


def test_allocate_pays_the_earliest_due_first_and_leaves_the_overpayment() -> None:
    due = [
        domain.Due("B", date(2026, 2, 1), D("50.00")),
        domain.Due("A", date(2026, 1, 1), D("30.00")),
    ]
    assert domain.allocate(due, D("40.00")) == [("A", D("30.00")), ("B", D("10.00"))]
    assert domain.allocate(due, D("100.00")) == [("A", D("30.00")), ("B", D("50.00"))]


def test_amounts() -> None:
    assert domain.amount_problem(D("0.99"), D("10"), False) is not None
    assert domain.amount_problem(D("10.01"), D("10"), False) is not None
    assert domain.amount_problem(D("10.01"), D("10"), True) is None
    assert domain.amount_problem(D("10.00"), D("10"), False) is None


def test_return_url_on_our_origin_only() -> None:
    ours = "https://ebok.test"
    assert domain.same_origin("https://ebok.test/payments/return?x=1", ours)
    assert domain.same_origin("https://ebok.test:443/p", ours)
    assert not domain.same_origin("https://ebok.test.evil.example/p", ours)
    assert not domain.same_origin("http://ebok.test/p", ours)
    assert not domain.same_origin("https://user@ebok.test/p", ours)
    assert not domain.same_origin("javascript:alert(1)", ours)
    assert not domain.same_origin("/relative", ours)


def test_notification_verdicts() -> None:
    assert domain.notification_verdict(None, None, 100, "PLN") == "unknown-session"
    assert domain.notification_verdict("pending", D("1.00"), 101, "PLN") == "amount-mismatch"
    assert domain.notification_verdict("pending", D("1.00"), 100, "EUR") == "amount-mismatch"
    assert domain.notification_verdict("paid", D("1.00"), 100, "PLN") == "duplicate"
    assert domain.notification_verdict("expired", D("1.00"), 100, "PLN") == "accepted"


def test_reconcile() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert domain.reconcile(True, now - 2 * hour, now, hour) == "settle"
    assert domain.reconcile(False, now - 2 * hour, now, hour) == "expire"
    assert domain.reconcile(False, now - hour / 2, now, hour) == "wait"


def test_grosze() -> None:
    assert domain.grosze(D("123.45")) == 12345
    assert domain.from_grosze(12345) == D("123.45")


def test_plan_refuses_naming_the_field() -> None:
    due = [domain.Due("A", date(2026, 1, 1), D("30.00")), domain.Due("B", date(2026, 2, 1), D(0))]
    assert domain.plan(due, None, D("30.00"), False) == [("A", D("30.00"))]
    cases = [
        (["A", "X"], D("1.00"), False, "invoices", "unknown_invoice"),
        (["B"], D("1.00"), False, "invoices", "nothing_due"),
        (None, D("30.01"), False, "amount", "amount_not_allowed"),
    ]
    for named, amount, confirm, field, code in cases:
        with pytest.raises(domain.Refused) as refused:
            domain.plan(due, named, amount, confirm)
        assert (refused.value.field, refused.value.code) == (field, code)
    # Nothing due, but an overpayment confirmed: a credit naming no invoice.
    assert domain.plan(due, ["B"], D("5.00"), True) == []


def test_notification_addresses() -> None:
    p24 = [ip_network("91.216.191.181/32"), ip_network("5.252.202.254/31")]
    assert domain.address_allowed("203.0.113.9", [])
    assert domain.address_allowed("5.252.202.255", p24)
    assert not domain.address_allowed("203.0.113.9", p24)
    assert not domain.address_allowed("not-an-ip", p24)


def test_due_takes_off_what_billing_knows_paid_and_what_it_does_not_count_yet() -> None:
    assert domain.due(D("108.00"), D("0"), D("0")) == D("108.00")
    assert domain.due(D("108.00"), D("108.00"), D("0")) == 0  # the ERP's booking
    assert domain.due(D("108.00"), D("40.00"), D("68.00")) == 0  # the lag window
    assert domain.due(D("108.00"), D("40.00"), D("10.00")) == D("58.00")
    assert domain.due(D("108.00"), D("100.00"), D("50.00")) == 0  # never below zero


def test_only_a_payment_not_yet_settled_is_cancelled() -> None:
    assert [s for s in (*domain.FINAL, "created", "pending") if domain.cancellable(s)] == [
        "cancelled",
        "created",
        "pending",
    ]
