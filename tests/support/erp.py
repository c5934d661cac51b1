"""Feed messages as the utility's ERP sends them, with ids unique to each test."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from deploy.integration_client import IntegrationClient
from shared.events import erp


@dataclass(frozen=True)
class Customer:
    customer_id: str
    invoice_number: str
    gross: Decimal
    email: str


def address() -> erp.Address:
    return erp.Address(
        street="Wodna", building="7", apartment="3", postal_code="00-950", city="Warszawa"
    )


def customer_feed(suffix: str | None = None) -> tuple[Customer, list[tuple[str, object]]]:
    suffix = suffix or secrets.token_hex(4)
    customer_id = f"C-{suffix}"
    invoice_number = f"FV/2026/{suffix}"
    net, vat = Decimal("100.00"), Decimal("8.00")
    messages: list[tuple[str, object]] = [
        (
            "erp.customer.upserted",
            erp.CustomerUpserted(
                customer_id=customer_id,
                name=f"Jan Kowalski {suffix}",
                kind="person",
                email=f"jan.{suffix}@example.com",
                address=address(),
                language="pl",
            ),
        ),
        (
            "erp.contract.upserted",
            erp.ContractUpserted(
                contract_number=f"U-{suffix}",
                customer_id=customer_id,
                signed_on=date(2020, 1, 15),
                status="active",
                service_points=[
                    erp.ServicePoint(
                        service_point_id=f"SP-{suffix}",
                        address=address(),
                        meter_number=f"M-{suffix}",
                    )
                ],
            ),
        ),
        (
            "erp.invoice.issued",
            erp.InvoiceIssued(
                invoice_number=invoice_number,
                customer_id=customer_id,
                contract_number=f"U-{suffix}",
                issued_on=date(2026, 10, 31),
                due_on=date(2026, 11, 14),
                period_from=date(2026, 10, 1),
                period_to=date(2026, 10, 31),
                net=net,
                vat=vat,
                gross=net + vat,
                lines=[
                    erp.InvoiceLine(
                        description="Water supply",
                        quantity=Decimal("10.000"),
                        unit="m3",
                        unit_price=Decimal("5.0000"),
                        net=Decimal("50.00"),
                        vat_rate=Decimal("8"),
                    ),
                    erp.InvoiceLine(
                        description="Sewage disposal",
                        quantity=Decimal("10.000"),
                        unit="m3",
                        unit_price=Decimal("5.0000"),
                        net=Decimal("50.00"),
                        vat_rate=Decimal("8"),
                    ),
                ],
            ),
        ),
    ]
    return Customer(customer_id, invoice_number, net + vat, f"jan.{suffix}@example.com"), messages


async def publish_customer(client: IntegrationClient, suffix: str | None = None) -> Customer:
    customer, messages = customer_feed(suffix)
    for event_type, payload in messages:
        await client.publish(event_type, payload)  # type: ignore[arg-type]
    return customer
