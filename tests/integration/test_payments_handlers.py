"""Payments' message handlers against real PostgreSQL, without the broker: its copies of
billing's customers, contracts and invoices follow the latest fact, and a redelivery or a
repeated fact changes nothing."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from services.payments import domain, repository
from shared.events import Event, billing
from tests.support.erp import address
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def payments(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("payments", infra, keys) as handlers:
        yield handlers


def invoice(suffix: str, gross: str = "108.00") -> billing.InvoiceIssued:
    return billing.InvoiceIssued(
        invoice_number=f"FV/{suffix}",
        customer_id=f"C-{suffix}",
        contract_number=f"U-{suffix}",
        issued_on=date(2026, 1, 1),
        due_on=date(2026, 1, 15),
        gross=Decimal(gross),
    )


def contract(suffix: str, points: list[str]) -> billing.ContractChanged:
    return billing.ContractChanged(
        contract_number=f"U-{suffix}",
        customer_id=f"C-{suffix}",
        signed_on=date(2020, 1, 1),
        status="active",
        service_points=[
            billing.ServicePoint(service_point_id=p, address=address(), meter_number=f"M-{p}")
            for p in points
        ],
    )


def customer(suffix: str, email: str = "a@example.com") -> billing.CustomerChanged:
    return billing.CustomerChanged(
        customer_id=f"C-{suffix}", name="Jan", email=email, language="en"
    )


CASES: dict[str, Callable[[str], Event]] = {
    "invoice": invoice,
    "contract": lambda s: contract(s, [f"SP-{s}-1"]),
    "customer": customer,
}


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_redelivered_message_changes_nothing(payments: ServiceHandlers, case: str) -> None:
    await payments.assert_redelivery_changes_nothing(CASES[case](secrets.token_hex(4)))


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_repeated_fact_changes_nothing(payments: ServiceHandlers, case: str) -> None:
    fact = CASES[case](secrets.token_hex(4))
    assert await payments.deliver(fact) == "handled"
    before = await payments.snapshot()
    assert await payments.deliver(fact) == "handled"
    assert await payments.snapshot() == before


@pytest.mark.asyncio(loop_scope="session")
async def test_the_latest_facts_stand(payments: ServiceHandlers) -> None:
    s = secrets.token_hex(4)
    await payments.deliver(invoice(s, "108.00"))
    await payments.deliver(invoice(s, "99.50"))  # the ERP corrected it
    assert await payments.fetchval(
        "SELECT gross FROM invoices WHERE invoice_number = $1", f"FV/{s}"
    ) == Decimal("99.50")
    await payments.deliver(contract(s, [f"SP-{s}-1", f"SP-{s}-2"]))
    await payments.deliver(contract(s, [f"SP-{s}-2"]))  # a service point taken off it
    points = await payments.fetch(
        "SELECT service_point_id FROM service_points WHERE contract_number = $1", f"U-{s}"
    )
    assert [r["service_point_id"] for r in points] == [f"SP-{s}-2"]
    await payments.deliver(customer(s, "b@example.com"))
    assert (
        await payments.fetchval("SELECT email FROM customers WHERE customer_id = $1", f"C-{s}")
        == "b@example.com"
    )
    assert await payments.published() == []


# --- what is due: billing's paid amounts (billing.invoice.settled) and our own payments -------


def settled(
    suffix: str, paid: str, *online: uuid.UUID, gross: str = "108.00"
) -> billing.InvoiceSettled:
    return billing.InvoiceSettled(
        invoice_number=f"FV/{suffix}",
        customer_id=f"C-{suffix}",
        paid=Decimal(paid),
        gross=Decimal(gross),
        online_payment_ids=list(online),
    )


async def due(payments: ServiceHandlers, suffix: str) -> Decimal:
    async with payments.pool.acquire() as conn:
        [found] = await repository.due_invoices(conn, f"C-{suffix}", None, None)
    return found.due


async def paid_online(payments: ServiceHandlers, suffix: str, amount: str) -> uuid.UUID:
    """A payment of ours, paid, naming the invoice (as settlement leaves one)."""
    payment_id = uuid.uuid4()
    await payments.execute(
        """INSERT INTO payments (payment_id, customer_id, account_id, idempotency_key,
                                 request_hash, amount, method, return_url, provider, status)
           VALUES ($1, $2, $3, $4, 'h', $5, 'blik', 'https://e-bok.test/', 'p24', 'paid')""",
        payment_id,
        f"C-{suffix}",
        uuid.uuid4(),
        secrets.token_hex(8),
        Decimal(amount),
    )
    await payments.execute(
        "INSERT INTO payment_invoices (payment_id, invoice_number, amount) VALUES ($1, $2, $3)",
        payment_id,
        f"FV/{suffix}",
        Decimal(amount),
    )
    return payment_id


@pytest.mark.asyncio(loop_scope="session")
async def test_an_invoice_billing_knows_paid_by_another_channel_is_not_due(
    payments: ServiceHandlers,
) -> None:
    s = secrets.token_hex(4)
    await payments.deliver(invoice(s, "108.00"))
    assert await due(payments, s) == Decimal("108.00")
    await payments.deliver(settled(s, "40.00"))  # a bank transfer the ERP booked
    assert await due(payments, s) == Decimal("68.00")
    await payments.deliver(settled(s, "108.00"))
    assert await due(payments, s) == Decimal("0.00")
    with pytest.raises(domain.Refused) as refused:
        async with payments.pool.acquire() as conn:
            found = await repository.due_invoices(conn, f"C-{s}", [f"FV/{s}"], None)
        domain.plan(found, [f"FV/{s}"], Decimal("1.00"), False)
    assert (refused.value.field, refused.value.code) == ("invoices", "nothing_due")


@pytest.mark.asyncio(loop_scope="session")
async def test_our_payment_counts_until_billing_counts_it_and_then_once(
    payments: ServiceHandlers,
) -> None:
    s = secrets.token_hex(4)
    await payments.deliver(invoice(s, "108.00"))
    await payments.deliver(settled(s, "40.00"))  # the ERP's 40.00
    mine = await paid_online(payments, s, "68.00")
    # The lag window: billing has not counted our 68.00 yet; nothing is due all the same.
    assert await due(payments, s) == Decimal("0.00")
    # Billing counts it (its event names it): subtracted once, not twice.
    await payments.deliver(settled(s, "108.00", mine))
    assert await due(payments, s) == Decimal("0.00")
    # The ERP corrects its 40.00 away: billing's word alone says what is due.
    await payments.deliver(settled(s, "68.00"))
    assert await due(payments, s) == Decimal("40.00")


@pytest.mark.asyncio(loop_scope="session")
async def test_an_older_settlement_arriving_late_changes_nothing(
    payments: ServiceHandlers,
) -> None:
    s = secrets.token_hex(4)
    await payments.deliver(invoice(s, "108.00"))
    newer, older = settled(s, "108.00"), settled(s, "10.00")
    await payments.deliver(newer)
    await payments.deliver_raw(
        older.TYPE, older.model_dump(mode="json"), occurred_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    assert await due(payments, s) == Decimal("0.00")
    # Several in one batch: the last of each invoice stands.
    t = secrets.token_hex(4)
    await payments.deliver(invoice(t, "108.00"))
    await payments.deliver_batch([settled(t, "10.00"), settled(t, "100.00")])
    assert await due(payments, t) == Decimal("8.00")
    await payments.assert_redelivery_changes_nothing(settled(t, "20.00"))
