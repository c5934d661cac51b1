"""Notification preferences through the gateway: every signed-in account keeps its own choice
of the optional emails (all on until changed), and the ERP feed's new invoice brings the "New
invoice" email only while the customer's account leaves it on."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal

import pytest

from shared.events import erp
from tests.support.flows import (
    access_token,
    mails_of,
    registered_account,
    staff_account,
    wait_for_mail,
)
from tests.support.platform import wait_until
from tests.support.stack import Stack

PATH = "/api/v1/me/notification-preferences"
ALL_ON = {"invoice_issued": True, "due_reminder": True, "payment_received": True}


def fields(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


async def test_all_on_until_changed_and_kept_as_put(stack: Stack) -> None:
    token = await access_token(stack, await registered_account(stack))
    days = stack.platform.settings.reminder_days_before_due

    status, before = await stack.api.request("GET", PATH, token=token)
    assert (status, before) == (200, {**ALL_ON, "reminder_days_before_due": days})

    chosen = {"invoice_issued": False, "due_reminder": True, "payment_received": False}
    status, put = await stack.api.request("PUT", PATH, token=token, json=chosen)
    assert (status, put) == (200, {**chosen, "reminder_days_before_due": days})
    status, after = await stack.api.request("GET", PATH, token=token)
    assert (status, after) == (200, put)

    # Turned back on: a PUT replaces the whole choice.
    status, again = await stack.api.request("PUT", PATH, token=token, json=ALL_ON)
    assert (status, again) == (200, before)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ALL_ON, "invoice_issued": "maybe"}, "invoice_issued"),
        ({"invoice_issued": True, "payment_received": True}, "due_reminder"),
        ({**ALL_ON, "payment_received": None}, "payment_received"),
        ({**ALL_ON, "newsletter": False}, "newsletter"),
    ],
)
async def test_a_bad_body_is_refused_naming_the_field_and_changes_nothing(
    stack: Stack, body: dict, field: str
) -> None:
    account_id, token = await staff_account(stack, "operator")
    assert account_id

    status, problem = await stack.api.request("PUT", PATH, token=token, json=body)

    assert status == 422, problem
    assert field in fields(problem)
    status, kept = await stack.api.request("GET", PATH, token=token)
    assert status == 200 and {k: kept[k] for k in ALL_ON} == ALL_ON


async def test_not_signed_in_is_refused(stack: Stack) -> None:
    assert (await stack.api.request("GET", PATH))[0] == 401
    assert (await stack.api.request("PUT", PATH, json=ALL_ON))[0] == 401


@pytest.mark.parametrize("role", ["manager", "operator"])
async def test_a_manager_and_an_operator_keep_their_own(stack: Stack, role: str) -> None:
    _, token = await staff_account(stack, role)
    _, other = await staff_account(stack, role)
    chosen = {"invoice_issued": True, "due_reminder": False, "payment_received": False}

    status, put = await stack.api.request("PUT", PATH, token=token, json=chosen)

    assert status == 200 and {k: put[k] for k in chosen} == chosen
    status, untouched = await stack.api.request("GET", PATH, token=other)
    assert status == 200 and {k: untouched[k] for k in ALL_ON} == ALL_ON


def new_invoice(customer_id: str, issued_on: date, gross: Decimal) -> erp.InvoiceIssued:
    """An invoice of the customer's contract (tests.support.erp.customer_feed names it
    U-<suffix>), due in two weeks: new, so it is announced."""
    net = (gross / Decimal("1.08")).quantize(Decimal("0.01"))
    return erp.InvoiceIssued(
        invoice_number=f"FV/2026/N-{secrets.token_hex(4)}",
        customer_id=customer_id,
        contract_number=f"U-{customer_id.removeprefix('C-')}",
        issued_on=issued_on,
        due_on=issued_on + timedelta(days=14),
        period_from=issued_on.replace(day=1),
        period_to=issued_on,
        net=net,
        vat=gross - net,
        gross=gross,
    )


async def _projected(stack: Stack, invoice_number: str) -> bool:
    conn = await stack.platform.db("identity")
    try:
        return bool(
            await conn.fetchval("SELECT 1 FROM invoices WHERE invoice_number = $1", invoice_number)
        )
    finally:
        await conn.close()


async def _notices_asked(stack: Stack, invoice_number: str) -> int:
    conn = await stack.platform.db("identity")
    try:
        return await conn.fetchval(
            """SELECT count(*) FROM outbox WHERE routing_key = 'identity.invoice-notice.requested'
                  AND body::jsonb -> 'payload' ->> 'invoice_number' = $1""",
            invoice_number,
        )
    finally:
        await conn.close()


async def test_a_new_invoice_brings_its_email_until_it_is_turned_off(stack: Stack) -> None:
    account = await registered_account(stack)
    token = await access_token(stack, account)
    customer = account.customer
    today = stack.platform.settings.today()

    first = new_invoice(customer.customer_id, today, Decimal("54.00"))
    await stack.erp.publish(first.TYPE, first)
    mail = await wait_for_mail(stack, customer.email, "invoice-issued")
    assert first.invoice_number in mail.body("plain")
    assert "54.00" in mail.body("plain")

    off = {"invoice_issued": False, "due_reminder": True, "payment_received": True}
    assert (await stack.api.request("PUT", PATH, token=token, json=off))[0] == 200
    second = new_invoice(customer.customer_id, today, Decimal("81.00"))
    await stack.erp.publish(second.TYPE, second)
    # Identity has taken the invoice (its transaction, outbox included, has committed) ...
    await wait_until(lambda: _projected(stack, second.invoice_number), what="the 2nd invoice")
    assert await _notices_asked(stack, second.invoice_number) == 0
    # ... and an email that comes after it, a booked payment's, arrives while none for it does.
    booking = erp.PaymentBooked(
        booking_id=f"B-{secrets.token_hex(4)}",
        customer_id=customer.customer_id,
        booked_on=today,
        amount=Decimal("54.00"),
        invoice_number=first.invoice_number,
        channel="transfer",
    )
    await stack.erp.publish(booking.TYPE, booking)
    await wait_for_mail(stack, customer.email, "payment-booked")

    announced = mails_of(stack, customer.email, "invoice-issued")
    assert len(announced) == 1
    assert second.invoice_number not in announced[0].body("plain")
