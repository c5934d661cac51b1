"""Feed messages as the utility's ERP sends them, with ids unique to each test."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
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
    # Last month's invoice, whenever the tests run: only a recent invoice proves a registration.
    issued = date.today().replace(day=1) - timedelta(days=1)
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
                issued_on=issued,
                due_on=issued + timedelta(days=14),
                period_from=issued.replace(day=1),
                period_to=issued,
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


async def publish_e_invoice_customer(
    client: IntegrationClient,
) -> tuple[Customer, str, erp.InvoiceIssued]:
    """A customer and contract whose e-invoice consent the ERP sets (a paper form): the
    customer, the e-invoice address, and its invoice, not yet published (the caller sends it
    once billing has the consent: the two come on different queues, in no order between them)."""
    customer, messages = customer_feed()
    for event_type, payload in messages[:2]:  # the customer and its contract
        await client.publish(event_type, payload)  # type: ignore[arg-type]
    address = f"e-faktury.{customer.customer_id.lower()}@example.com"
    await client.publish(
        erp.EInvoiceChanged.TYPE,
        erp.EInvoiceChanged(
            customer_id=customer.customer_id, state="on", address=address, regulations_version="1"
        ),
    )
    issued = messages[2][1]
    assert isinstance(issued, erp.InvoiceIssued)
    return customer, address, issued


@dataclass(frozen=True)
class Household:
    """A customer with two service points (two meters), three invoices, payments, notes and
    readings, sent as the ERP and the reading system would."""

    customer: Customer
    contract_number: str
    meters: tuple[str, str]
    invoices: tuple[str, str, str]
    signed_on: date


def _invoice(
    number: str, customer_id: str, contract: str, issued: date, due: date, gross: Decimal
) -> erp.InvoiceIssued:
    net = (gross / Decimal("1.08")).quantize(Decimal("0.01"))
    return erp.InvoiceIssued(
        invoice_number=number,
        customer_id=customer_id,
        contract_number=contract,
        issued_on=issued,
        due_on=due,
        period_from=issued.replace(day=1),
        period_to=issued,
        net=net,
        vat=gross - net,
        gross=gross,
        lines=[
            erp.InvoiceLine(
                description="Zaopatrzenie w wodę",
                quantity=Decimal("10.000"),
                unit="m3",
                unit_price=net / 10,
                net=net,
                vat_rate=Decimal("8"),
            )
        ],
    )


async def publish_household(client: IntegrationClient, today: date) -> Household:
    """Invoices: #1 (100.00, paid by a payment naming it), #2 (200.00, partly paid by an
    unassigned payment of 50.00, overdue), #3 (300.00, due in the future, unpaid).
    Notes: interest 12.34 and a credit 20.00 (which settles #2 further).
    Balance: credits 150 + 20 = 170; charges 600 + 12.34 = 612.34; balance -442.34."""
    suffix = secrets.token_hex(4)
    customer_id = f"C-{suffix}"
    contract = f"U-{suffix}"
    signed_on = date(2024, 1, 10)
    meters = (f"M-{suffix}-1", f"M-{suffix}-2")
    numbers = (f"FV/1/{suffix}", f"FV/2/{suffix}", f"FV/3/{suffix}")
    far = today.replace(year=today.year + 1)
    messages: list[tuple[str, object]] = [
        (
            "erp.customer.upserted",
            erp.CustomerUpserted(
                customer_id=customer_id,
                name=f"Żaneta Łęcka {suffix}",
                kind="person",
                email=f"zaneta.{suffix}@example.com",
                address=address(),
                language="pl",
            ),
        ),
        (
            "erp.contract.upserted",
            erp.ContractUpserted(
                contract_number=contract,
                customer_id=customer_id,
                signed_on=signed_on,
                status="active",
                service_points=[
                    erp.ServicePoint(
                        service_point_id=f"SP-{suffix}-1", address=address(), meter_number=meters[0]
                    ),
                    erp.ServicePoint(
                        service_point_id=f"SP-{suffix}-2", address=address(), meter_number=meters[1]
                    ),
                ],
            ),
        ),
        (
            "erp.invoice.issued",
            _invoice(
                numbers[0],
                customer_id,
                contract,
                date(2025, 1, 31),
                date(2025, 2, 14),
                Decimal("100.00"),
            ),
        ),
        (
            "erp.invoice.issued",
            _invoice(
                numbers[1],
                customer_id,
                contract,
                date(2025, 2, 28),
                date(2025, 3, 14),
                Decimal("200.00"),
            ),
        ),
        (
            "erp.invoice.issued",
            _invoice(numbers[2], customer_id, contract, today, far, Decimal("300.00")),
        ),
        (
            "erp.payment.booked",
            erp.PaymentBooked(
                booking_id=f"B-{suffix}-1",
                customer_id=customer_id,
                booked_on=date(2025, 2, 10),
                amount=Decimal("100.00"),
                invoice_number=numbers[0],
                channel="transfer",
            ),
        ),
        (
            "erp.payment.booked",
            erp.PaymentBooked(
                booking_id=f"B-{suffix}-2",
                customer_id=customer_id,
                booked_on=date(2025, 3, 20),
                amount=Decimal("50.00"),
                channel="cash",
            ),
        ),
        (
            "erp.note.issued",
            erp.NoteIssued(
                note_number=f"NO/{suffix}/1",
                customer_id=customer_id,
                kind="interest",
                issued_on=date(2025, 4, 1),
                amount=Decimal("12.34"),
                description="Odsetki za zwłokę",
                invoice_number=numbers[1],
            ),
        ),
        (
            "erp.note.issued",
            erp.NoteIssued(
                note_number=f"NO/{suffix}/2",
                customer_id=customer_id,
                kind="credit",
                issued_on=date(2025, 4, 2),
                amount=Decimal("20.00"),
                description="Korekta",
                invoice_number=numbers[1],
            ),
        ),
    ]
    for event_type, payload in messages:
        await client.publish(event_type, payload)  # type: ignore[arg-type]
    # Registered with the latest invoice: only a recent one proves a registration.
    customer = Customer(customer_id, numbers[2], Decimal("300.00"), f"zaneta.{suffix}@example.com")
    return Household(customer, contract, meters, numbers, signed_on)


def daily_readings(
    meter: str, start: date, days: int, first: Decimal, per_day: Decimal
) -> list[dict]:
    return [
        {
            "meter_number": meter,
            "read_at": f"{start + timedelta(days=n)}T06:00:00+00:00",
            "value": str(first + per_day * n),
            "source": "remote",
        }
        for n in range(days)
    ]
