"""A customer with two contracts (three service points), invoices, payments and notes on each,
and readings: the account a full and a partial manager see (tests/integration/test_scopes_*)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from deploy.integration_client import IntegrationClient
from shared.events import erp, reading
from tests.support.erp import address
from tests.support.platform import Platform, wait_until


@dataclass(frozen=True)
class ScopedCustomer:
    """Contract 1: SP-1, SP-2 (meters M-1, M-2), invoice FV1 100.00 paid by B1 (naming it), an
    interest note 5.00 on it. Contract 2: SP-3 (M-3), invoice FV2 250.00 (overdue) with B2 70.00
    naming it, an interest note 3.00 and a credit 10.00 on it, and FV3 40.00 due later.
    Whole account: charges 398.00, credits 180.00, balance -218.00, overdue 170.00.
    SP-3's part: charges 293.00, credits 80.00, balance -213.00, overdue 170.00."""

    suffix: str
    customer_id: str
    points: tuple[str, str, str]
    meters: tuple[str, str, str]
    contracts: tuple[str, str]
    invoices: tuple[str, str, str]
    payments: tuple[str, str]
    notes: tuple[str, str, str]


def _invoice(number: str, customer: str, contract: str, due: date, gross: str) -> erp.InvoiceIssued:
    amount = Decimal(gross)
    return erp.InvoiceIssued(
        invoice_number=number,
        customer_id=customer,
        contract_number=contract,
        issued_on=due - timedelta(days=14),
        due_on=due,
        period_from=date(2025, 1, 1),
        period_to=date(2025, 1, 31),
        net=amount,
        vat=Decimal("0.00"),
        gross=amount,
    )


async def publish_scoped_customer(
    erp_client: IntegrationClient, platform: Platform
) -> ScopedCustomer:
    s = secrets.token_hex(4)
    c = ScopedCustomer(
        suffix=s,
        customer_id=f"C-{s}",
        points=(f"SP-{s}-1", f"SP-{s}-2", f"SP-{s}-3"),
        meters=(f"M-{s}-1", f"M-{s}-2", f"M-{s}-3"),
        contracts=(f"U-{s}-1", f"U-{s}-2"),
        invoices=(f"FV/{s}/1", f"FV/{s}/2", f"FV/{s}/3"),
        payments=(f"B-{s}-1", f"B-{s}-2"),
        notes=(f"NO/{s}/1", f"NO/{s}/2", f"NO/{s}/3"),
    )
    today = platform.settings.today()
    past, later = date(2025, 2, 14), today + timedelta(days=30)

    def point(n: int) -> erp.ServicePoint:
        return erp.ServicePoint(
            service_point_id=c.points[n], address=address(), meter_number=c.meters[n]
        )

    def note(n: int, kind: str, amount: str, invoice: str) -> erp.NoteIssued:
        return erp.NoteIssued(
            note_number=c.notes[n],
            customer_id=c.customer_id,
            kind=kind,  # type: ignore[arg-type]
            issued_on=date(2025, 3, 1 + n),
            amount=Decimal(amount),
            description="Nota",
            invoice_number=invoice,
        )

    messages: list[tuple[str, object]] = [
        (
            "erp.customer.upserted",
            erp.CustomerUpserted(
                customer_id=c.customer_id,
                name=f"Wspólnota {s}",
                kind="company",
                address=address(),
            ),
        ),
        *[
            (
                "erp.contract.upserted",
                erp.ContractUpserted(
                    contract_number=c.contracts[k],
                    customer_id=c.customer_id,
                    signed_on=date(2024, 1, 10),
                    status="active",
                    service_points=pts,
                ),
            )
            for k, pts in enumerate(([point(0), point(1)], [point(2)]))
        ],
        (
            "erp.invoice.issued",
            _invoice(c.invoices[0], c.customer_id, c.contracts[0], past, "100.00"),
        ),
        (
            "erp.invoice.issued",
            _invoice(c.invoices[1], c.customer_id, c.contracts[1], past, "250.00"),
        ),
        (
            "erp.invoice.issued",
            _invoice(c.invoices[2], c.customer_id, c.contracts[1], later, "40.00"),
        ),
        *[
            (
                "erp.payment.booked",
                erp.PaymentBooked(
                    booking_id=c.payments[k],
                    customer_id=c.customer_id,
                    booked_on=date(2025, 2, 10 + k),
                    amount=Decimal(amount),
                    invoice_number=c.invoices[k],
                    channel="transfer",
                ),
            )
            for k, amount in enumerate(("100.00", "70.00"))
        ],
        ("erp.note.issued", note(0, "interest", "5.00", c.invoices[0])),
        ("erp.note.issued", note(1, "interest", "3.00", c.invoices[1])),
        ("erp.note.issued", note(2, "credit", "10.00", c.invoices[1])),
        *[
            (
                "reading.recorded",
                reading.ReadingRecorded(
                    meter_number=meter,
                    read_at=datetime(2025, 6, 1, 6, tzinfo=UTC),
                    value=Decimal("12.500"),
                    source="remote",
                ),
            )
            for meter in c.meters
        ],
    ]
    for event_type, payload in messages:
        await erp_client.publish(event_type, payload)  # type: ignore[arg-type]
    await wait_until(lambda: _stored(platform, c), timeout=30, what="the customer's account")
    return c


async def _stored(platform: Platform, c: ScopedCustomer) -> bool:
    billing = await platform.db("billing")
    try:
        found = await billing.fetchrow(
            """SELECT (SELECT count(*) FROM invoices WHERE customer_id = $1) AS invoices,
                      (SELECT count(*) FROM payments WHERE customer_id = $1) AS payments,
                      (SELECT count(*) FROM notes WHERE customer_id = $1) AS notes,
                      (SELECT paid FROM invoices WHERE invoice_number = $2) AS paid""",
            c.customer_id,
            c.invoices[1],
        )
    finally:
        await billing.close()
    metering = await platform.db("metering")
    try:
        readings = await metering.fetchval(
            """SELECT count(*) FROM readings r JOIN meters m USING (meter_number)
                WHERE m.customer_id = $1""",
            c.customer_id,
        )
    finally:
        await metering.close()
    return tuple(found) == (3, 2, 3, Decimal("80.00")) and readings == 3
