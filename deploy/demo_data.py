"""Demo data, sent through the integration exchange exactly as the utility's ERP would.

python -m deploy.demo_data     (uses the EBOK_ settings; safe to run again: feeds are upserts)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import asyncpg

from deploy.integration_client import IntegrationClient
from services.billing.regulations import CURRENT_VERSION as E_INVOICE_REGULATIONS
from shared.events import erp, reading
from shared.settings import Settings

WATER_PRICE = Decimal("5.1200")
SEWAGE_PRICE = Decimal("7.8400")
VAT_RATE = Decimal("8")


@dataclass(frozen=True)
class DemoInvoice:
    customer_name: str
    invoice_number: str
    gross: Decimal


def _month_start(day: date, months_back: int) -> date:
    year, month = day.year, day.month - months_back
    while month < 1:
        month += 12
        year -= 1
    return date(year, month, 1)


def _invoice(
    customer_id: str, contract: str, number: str, period_from: date, cubic_metres: Decimal
) -> erp.InvoiceIssued:
    period_to = _month_start(period_from + timedelta(days=32), 0) - timedelta(days=1)
    water = (cubic_metres * WATER_PRICE).quantize(Decimal("0.01"))
    sewage = (cubic_metres * SEWAGE_PRICE).quantize(Decimal("0.01"))
    net = water + sewage
    vat = (net * VAT_RATE / 100).quantize(Decimal("0.01"))
    issued = period_to + timedelta(days=1)
    return erp.InvoiceIssued(
        invoice_number=number,
        customer_id=customer_id,
        contract_number=contract,
        issued_on=issued,
        due_on=issued + timedelta(days=14),
        period_from=period_from,
        period_to=period_to,
        net=net,
        vat=vat,
        gross=net + vat,
        lines=[
            erp.InvoiceLine(
                description="Water supply",
                quantity=cubic_metres,
                unit="m3",
                unit_price=WATER_PRICE,
                net=water,
                vat_rate=VAT_RATE,
            ),
            erp.InvoiceLine(
                description="Sewage disposal",
                quantity=cubic_metres,
                unit="m3",
                unit_price=SEWAGE_PRICE,
                net=sewage,
                vat_rate=VAT_RATE,
            ),
        ],
    )


def demo_feed(today: date) -> tuple[list[tuple[str, erp.Contract]], list[DemoInvoice]]:
    """Two customers (the first with two service points; the second, a company, with e-invoice
    on from a paper form, sent last), a year of monthly invoices, payments, an interest note
    each, and a year of daily readings of every meter."""
    messages: list[tuple[str, erp.Contract]] = []
    consents: list[tuple[str, erp.Contract]] = []
    invoices: list[DemoInvoice] = []
    customers = [
        (
            "C-1001",
            "Anna Nowak",
            "person",
            "anna.nowak@example.com",
            erp.Address(
                street="Marszałkowska",
                building="10",
                apartment="4",
                postal_code="00-590",
                city="Warszawa",
            ),
            [
                (
                    "SP-1001-1",
                    "M-7001001",
                    erp.Address(
                        street="Marszałkowska",
                        building="10",
                        apartment="4",
                        postal_code="00-590",
                        city="Warszawa",
                    ),
                ),
                (
                    "SP-1001-2",
                    "M-7001002",
                    erp.Address(
                        street="Leśna", building="2", postal_code="05-500", city="Piaseczno"
                    ),
                ),
            ],
        ),
        (
            "C-1002",
            "Wodnik Sp. z o.o.",
            "company",
            "biuro@wodnik.example.com",
            erp.Address(street="Przemysłowa", building="5", postal_code="02-232", city="Warszawa"),
            [
                (
                    "SP-1002-1",
                    "M-7002001",
                    erp.Address(
                        street="Przemysłowa", building="5", postal_code="02-232", city="Warszawa"
                    ),
                )
            ],
        ),
    ]
    for n, (cid, name, kind, email, address, points) in enumerate(customers, start=1):
        contract = f"U/{cid}"
        messages.append(
            (
                "erp.customer.upserted",
                erp.CustomerUpserted(
                    customer_id=cid,
                    name=name,
                    kind=kind,
                    email=email,
                    address=address,  # type: ignore[arg-type]
                    language="pl",
                    tax_id="5250001009" if kind == "company" else None,
                ),
            )
        )
        if kind == "company":
            # The company signed the e-invoice form on paper: its e-invoice page shows the ERP's
            # consent, and its next invoice goes as an e-invoice (sent last, once billing has
            # the year of invoices before it: those stay on paper).
            consents.append(
                (
                    "erp.e-invoice.changed",
                    erp.EInvoiceChanged(
                        customer_id=cid,
                        state="on",
                        address=f"faktury@{email.split('@', 1)[1]}",
                        signed_on=date(today.year - 1, 1, 15),
                        regulations_version=E_INVOICE_REGULATIONS,
                    ),
                )
            )
        messages.append(
            (
                "erp.contract.upserted",
                erp.ContractUpserted(
                    contract_number=contract,
                    customer_id=cid,
                    signed_on=date(today.year - 3, 3, 1),
                    status="active",
                    service_points=[
                        erp.ServicePoint(service_point_id=sp, address=a, meter_number=m)
                        for sp, m, a in points
                    ],
                ),
            )
        )
        for months_back in range(12, 0, -1):
            period = _month_start(today, months_back)
            number = f"FV/{period:%Y/%m}/{cid[2:]}"
            usage = Decimal(8 + (months_back * 3 + n) % 7) * len(points)
            invoice = _invoice(cid, contract, number, period, usage.quantize(Decimal("0.001")))
            messages.append(("erp.invoice.issued", invoice))
            invoices.append(DemoInvoice(name, number, invoice.gross))
            messages.extend(_payments(cid, invoice, months_back))
        messages.append(
            (
                "erp.note.issued",
                erp.NoteIssued(
                    note_number=f"NO/{today.year}/{cid[2:]}",
                    customer_id=cid,
                    kind="interest",
                    issued_on=_month_start(today, 2) + timedelta(days=20),
                    amount=Decimal("4.87"),
                    description="Odsetki za zwłokę w zapłacie / late payment interest",
                ),
            )
        )
        for sp_index, (_sp, meter, _address) in enumerate(points):
            messages.append(
                (
                    "reading.batch.recorded",
                    _daily_readings(meter, today, Decimal(120 + 40 * sp_index)),
                )
            )
    messages.extend(consents)
    return messages, invoices


def _payments(customer_id: str, invoice: erp.InvoiceIssued, months_back: int) -> list:
    """Paid on time, except: the latest invoice is open and the one before it half paid late."""
    if months_back == 1:
        return []
    amount = invoice.gross if months_back > 2 else (invoice.gross / 2).quantize(Decimal("0.01"))
    booked = invoice.due_on - timedelta(days=3) if months_back > 2 else invoice.due_on
    return [
        (
            "erp.payment.booked",
            erp.PaymentBooked(
                booking_id=f"WB/{invoice.invoice_number}",
                customer_id=customer_id,
                booked_on=booked,
                amount=amount,
                invoice_number=invoice.invoice_number if months_back > 2 else None,
                channel="bank transfer",
            ),
        )
    ]


def _daily_readings(meter: str, today: date, start_value: Decimal) -> reading.ReadingBatchRecorded:
    """A year of daily remote readings, as the reading system sends them: one batch a meter."""
    first = today - timedelta(days=365)
    value = start_value
    readings = []
    for day in range(365):
        value += Decimal("0.180") + Decimal(day % 7) * Decimal("0.030")
        when = datetime.combine(first + timedelta(days=day), time(5, 0), tzinfo=UTC)
        readings.append(
            {
                "meter_number": meter,
                "read_at": when.isoformat(),
                "value": str(value),
                "source": "remote",
            }
        )
    return reading.ReadingBatchRecorded(readings=readings)


async def load(settings: Settings, today: date | None = None) -> list[DemoInvoice]:
    messages, invoices = demo_feed(today or settings.today())
    async with (
        IntegrationClient(settings.amqp_url, settings.namespace, producer="erp") as erp_system,
        IntegrationClient(settings.amqp_url, settings.namespace, producer="reading") as readings,
    ):
        consents = [m for m in messages if m[0] == "erp.e-invoice.changed"]
        for event_type, payload in messages:
            if (event_type, payload) in consents:
                continue
            client = readings if event_type.startswith("reading.") else erp_system
            await client.publish(event_type, payload)
        if consents:
            # The consent has a queue of its own: only after the invoices, or some of them
            # would go as e-invoices.
            await _billing_knows(settings, invoices[-1].invoice_number)
            for event_type, payload in consents:
                await erp_system.publish(event_type, payload)
    return invoices


async def _billing_knows(settings: Settings, invoice_number: str, timeout: float = 60) -> None:
    conn = await asyncpg.connect(settings.service_dsn("billing"))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await conn.fetchval(
            "SELECT 1 FROM invoices WHERE invoice_number = $1", invoice_number
        ):
            if asyncio.get_running_loop().time() > deadline:
                raise SystemExit("the demo invoices did not reach billing; see var/log/*.log")
            await asyncio.sleep(0.3)
    finally:
        await conn.close()


if __name__ == "__main__":
    loaded = asyncio.run(load(Settings()))
    for invoice in loaded[-3:]:
        print(f"{invoice.customer_name}: invoice {invoice.invoice_number}, gross {invoice.gross}")
