"""Payments' message handlers against real PostgreSQL, without the broker: its copies of
billing's customers, contracts and invoices follow the latest fact, and a redelivery or a
repeated fact changes nothing."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

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
