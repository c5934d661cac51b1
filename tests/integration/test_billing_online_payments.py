"""Online payments in billing (issue 11): a payment the provider confirmed pays the invoices it
names at once (awaiting the ERP's booking) and counts in the balance once; the ERP's booking of
the same money (its `reference`) replaces it whichever arrives first; the ERP is told of each
payment once. Handlers against real PostgreSQL; the last tests run billing on the broker and
read it through its HTTP API as the customer and as a partial manager."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from shared.events import erp, payments
from shared.messaging.consumer import PermanentError
from tests.integration.test_handlers_billing import invoice, online_payment, paid, payment
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def billing(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("billing", infra, keys) as handlers:
        yield handlers


async def two_invoices(billing: ServiceHandlers) -> tuple[str, str, str]:
    """A customer with an older invoice A (100.00, due first) and a newer B (200.00)."""
    customer_id = f"C-{secrets.token_hex(4)}"
    a, b = f"FV/A/{customer_id}", f"FV/B/{customer_id}"
    await billing.deliver(invoice(customer_id, a, date(2025, 1, 15), "100.00"))
    await billing.deliver(invoice(customer_id, b, date(2025, 2, 15), "200.00"))
    return customer_id, a, b


async def entries(billing: ServiceHandlers, customer_id: str) -> list[tuple]:
    """The customer's payments as (amount, invoice, awaiting booking, reference), sorted."""
    rows = await billing.fetch(
        """SELECT amount, invoice_number, awaiting_booking, reference FROM payments
            WHERE customer_id = $1""",
        customer_id,
    )
    return sorted(
        ((r["amount"], r["invoice_number"], r["awaiting_booking"], r["reference"]) for r in rows),
        key=str,
    )


async def credits(billing: ServiceHandlers, customer_id: str) -> Decimal:
    """What the balance counts as paid (every payment of the customer)."""
    return await billing.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM payments WHERE customer_id = $1", customer_id
    )


async def told_the_erp(billing: ServiceHandlers, payment_id: uuid.UUID) -> list[dict]:
    return [
        e.payload
        for e in await billing.published("billing.online-payment.received")
        if e.payload["payment_id"] == str(payment_id)
    ]


def booking(p: payments.PaymentCompleted, invoice_number: str | None = None) -> erp.PaymentBooked:
    booked = payment(p.customer_id, f"B-{secrets.token_hex(4)}", str(p.amount), invoice_number)
    return booked.model_copy(update={"reference": p.payment_id})


async def test_a_completed_payment_pays_the_named_invoices_at_once_awaiting_booking(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    # B is named: it is paid, though A falls due first.
    p = online_payment(customer_id, "200.00", [(b, "200.00")])

    assert await billing.deliver(p) == "handled"

    assert await paid(billing, customer_id) == {a: Decimal("0.00"), b: Decimal("200.00")}
    assert await entries(billing, customer_id) == [(Decimal("200.00"), b, True, p.payment_id)]
    [row] = await billing.fetch(
        "SELECT booking_id, booked_on, channel FROM payments WHERE customer_id = $1", customer_id
    )
    # Completed at 23:30 UTC on 31 March: 1 April in Warsaw, the utility's day.
    assert (row["booking_id"], row["booked_on"], row["channel"]) == (
        f"online:{p.payment_id}:1",
        date(2025, 4, 1),
        "card",
    )
    assert await credits(billing, customer_id) == Decimal("200.00")
    assert await told_the_erp(billing, p.payment_id) == [p.model_dump(mode="json")]


async def test_what_the_invoices_do_not_take_settles_the_oldest_due(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    p = online_payment(customer_id, "250.00", [(b, "200.00")])

    await billing.deliver(p)

    assert await paid(billing, customer_id) == {a: Decimal("50.00"), b: Decimal("200.00")}
    assert await entries(billing, customer_id) == [
        (Decimal("200.00"), b, True, p.payment_id),
        (Decimal("50.00"), None, True, p.payment_id),
    ]


async def test_the_same_payment_twice_counts_once_and_is_told_once(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    p = online_payment(customer_id, "120.00", [(a, "100.00"), (b, "20.00")])
    await billing.deliver(p)
    rows = await billing.snapshot(skip_tables=("inbox",))

    # A new message id (the payments service published it again), and a redelivery.
    assert await billing.deliver(p) == "handled"
    await billing.assert_redelivery_changes_nothing(p)

    assert await billing.snapshot(skip_tables=("inbox",)) == rows
    assert await credits(billing, customer_id) == Decimal("120.00")
    assert len(await told_the_erp(billing, p.payment_id)) == 1


async def test_the_erp_booking_replaces_the_payment_awaiting_booking(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    p = online_payment(customer_id, "300.00", [(a, "100.00"), (b, "200.00")])
    await billing.deliver(p)
    assert await credits(billing, customer_id) == Decimal("300.00")

    booked = booking(p)
    await billing.deliver(booked)

    assert await entries(billing, customer_id) == [(Decimal("300.00"), None, False, p.payment_id)]
    assert await credits(billing, customer_id) == Decimal("300.00")
    assert await paid(billing, customer_id) == {a: Decimal("100.00"), b: Decimal("200.00")}
    # The booking again, and the payment again: still once.
    await billing.deliver(booked)
    await billing.deliver(p)
    assert await credits(billing, customer_id) == Decimal("300.00")
    assert len(await told_the_erp(billing, p.payment_id)) == 1


async def test_a_booking_before_the_completed_payment_is_not_added_to(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    p = online_payment(customer_id, "200.00", [(b, "200.00")])
    await billing.deliver(booking(p, b))

    assert await billing.deliver(p) == "handled"

    assert await entries(billing, customer_id) == [(Decimal("200.00"), b, False, p.payment_id)]
    assert await credits(billing, customer_id) == Decimal("200.00")
    assert await paid(billing, customer_id) == {a: Decimal("0.00"), b: Decimal("200.00")}
    # The ERP is still told of it: it learns of every completed payment, once.
    assert len(await told_the_erp(billing, p.payment_id)) == 1


async def test_a_booking_and_the_payment_at_the_same_time_count_once(
    billing: ServiceHandlers,
) -> None:
    for _ in range(5):
        customer_id, a, b = await two_invoices(billing)
        p = online_payment(customer_id, "150.00", [(a, "100.00"), (b, "50.00")])
        await asyncio.gather(billing.deliver(p), billing.deliver(booking(p)))

        assert await credits(billing, customer_id) == Decimal("150.00")
        assert [e[2] for e in await entries(billing, customer_id)] == [False]
        assert await paid(billing, customer_id) == {a: Decimal("100.00"), b: Decimal("50.00")}


async def test_invoices_worth_more_than_the_payment_are_refused_for_good(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, _ = await two_invoices(billing)
    p = online_payment(customer_id, "50.00", [(a, "100.00")])
    before = await billing.snapshot()

    # PermanentError: the consumer dead-letters it at once with this reason.
    with pytest.raises(PermanentError, match="exceed the amount"):
        await billing.deliver(p)

    assert await billing.snapshot() == before
