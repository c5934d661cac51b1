"""A sample ERP export for the first-load import (docs/bulk-load.md): one JSON Lines file per
feed message type, each line exactly the payload of that message (shared/events/erp.py).

    python -m deploy.erp_export_sample --customers 1000000 --out /tmp/export

Deterministic: the same arguments write the same bytes. Each customer gets one contract with one
service point and meter, twelve monthly invoices (water and sewage lines) ending with
`--last-month`, and six payments; every 7th customer pays one of them without naming the invoice,
every 50th gets an interest note and every 100th a credit note on an invoice. Lines are written
as they are made (orjson), so a million customers need no more memory than one.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson

FILES = ("customers.jsonl", "contracts.jsonl", "invoices.jsonl", "payments.jsonl", "notes.jsonl")

WATER_PRICE = Decimal("5.1200")
SEWAGE_PRICE = Decimal("7.8400")
VAT_RATE = Decimal("8")
CENT = Decimal("0.01")

FIRST_NAMES = ("Anna", "Piotr", "Maria", "Krzysztof", "Katarzyna", "Tomasz", "Olena", "Ivan")
LAST_NAMES = ("Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kamińska", "Lewandowski", "Zając")
STREETS = ("Marszałkowska", "Leśna", "Polna", "Ogrodowa", "Lipowa", "Słoneczna", "Kwiatowa")
CITIES = (("Warszawa", "00"), ("Piaseczno", "05"), ("Pruszków", "05"), ("Legionowo", "05"))
LANGUAGES = ("pl", "pl", "pl", "pl", "en", "uk", "ru")


def _month_start(year: int, month: int, back: int) -> date:
    months = year * 12 + month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def _address(i: int) -> dict[str, Any]:
    city, prefix = CITIES[i % len(CITIES)]
    return {
        "street": STREETS[i % len(STREETS)],
        "building": str(1 + i % 180),
        "apartment": str(1 + i % 40) if i % 3 else None,
        "postal_code": f"{prefix}-{i % 1000:03d}",
        "city": city,
    }


def customer(i: int) -> dict[str, Any]:
    company = i % 20 == 0
    return {
        "customer_id": f"C{i:08d}",
        "name": f"Wodomex {i} Sp. z o.o."
        if company
        else f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[(i // 8) % len(LAST_NAMES)]}",
        "kind": "company" if company else "person",
        "tax_id": f"{5250000000 + i}" if company else None,
        "email": f"klient{i}@example.com" if i % 10 else None,
        "phone": f"+48 600 {i % 1000:03d} {i // 1000 % 1000:03d}" if i % 4 == 0 else None,
        "address": _address(i),
        "language": LANGUAGES[i % len(LANGUAGES)],
    }


def contract(i: int) -> dict[str, Any]:
    return {
        "contract_number": f"U/{i:08d}",
        "customer_id": f"C{i:08d}",
        "signed_on": date(2015 + i % 10, 1 + i % 12, 1 + i % 28).isoformat(),
        "status": "terminated" if i % 97 == 0 else "active",
        "service_points": [
            {
                "service_point_id": f"SP{i:08d}",
                "address": _address(i),
                "meter_number": f"M{i:08d}",
            }
        ],
    }


def invoices(i: int, last_month: date) -> list[dict[str, Any]]:
    out = []
    for back in range(11, -1, -1):
        start = _month_start(last_month.year, last_month.month, back)
        end = _month_start(start.year, start.month, -1) - timedelta(days=1)
        cubic = Decimal(4 + (i * 7 + back * 3) % 19).quantize(Decimal("0.001"))
        water = (cubic * WATER_PRICE).quantize(CENT)
        sewage = (cubic * SEWAGE_PRICE).quantize(CENT)
        net = water + sewage
        vat = (net * VAT_RATE / 100).quantize(CENT)
        issued = end + timedelta(days=1)
        out.append(
            {
                "invoice_number": f"FV/{start:%Y/%m}/{i:08d}",
                "customer_id": f"C{i:08d}",
                "contract_number": f"U/{i:08d}",
                "issued_on": issued.isoformat(),
                "due_on": (issued + timedelta(days=14)).isoformat(),
                "period_from": start.isoformat(),
                "period_to": end.isoformat(),
                "net": str(net),
                "vat": str(vat),
                "gross": str(net + vat),
                "lines": [
                    {
                        "description": "Dostawa wody / water supply",
                        "quantity": str(cubic),
                        "unit": "m3",
                        "unit_price": str(WATER_PRICE),
                        "net": str(water),
                        "vat_rate": str(VAT_RATE),
                    },
                    {
                        "description": "Odprowadzanie ścieków / sewage disposal",
                        "quantity": str(cubic),
                        "unit": "m3",
                        "unit_price": str(SEWAGE_PRICE),
                        "net": str(sewage),
                        "vat_rate": str(VAT_RATE),
                    },
                ],
            }
        )
    return out


def payments(i: int, issued: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Six payments: the first six invoices, on their due day; every 7th customer pays one of
    them without naming it (the settlement then pays the oldest open invoice)."""
    out = []
    for n, invoice in enumerate(issued[:6]):
        out.append(
            {
                "booking_id": f"B{i:08d}-{n + 1:02d}",
                "customer_id": f"C{i:08d}",
                "booked_on": invoice["due_on"],
                "amount": invoice["gross"],
                "invoice_number": None if i % 7 == 0 and n == 3 else invoice["invoice_number"],
                "channel": "bank_transfer" if n % 2 else "card",
            }
        )
    return out


def notes(i: int, issued: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    if i % 50 == 0:
        out.append(
            {
                "note_number": f"NO/{i:08d}",
                "customer_id": f"C{i:08d}",
                "kind": "interest",
                "issued_on": issued[7]["due_on"],
                "amount": "4.87",
                "description": "Odsetki za zwłokę / late payment interest",
                "invoice_number": None,
            }
        )
    if i % 100 == 0:
        out.append(
            {
                "note_number": f"NK/{i:08d}",
                "customer_id": f"C{i:08d}",
                "kind": "credit",
                "issued_on": issued[9]["issued_on"],
                "amount": "10.00",
                "description": "Korekta / correction",
                "invoice_number": issued[9]["invoice_number"],
            }
        )
    return out


def write_export(out: Path, customers: int, last_month: date, *, progress: IO[str] | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    handles = {name: (out / name).open("wb", buffering=1 << 20) for name in FILES}
    dumps = orjson.dumps
    started = last_report = time.monotonic()
    try:
        c, k, f, p, n = (handles[name].write for name in FILES)
        for i in range(1, customers + 1):
            c(dumps(customer(i)) + b"\n")
            k(dumps(contract(i)) + b"\n")
            issued = invoices(i, last_month)
            f(b"\n".join(dumps(x) for x in issued) + b"\n")
            p(b"\n".join(dumps(x) for x in payments(i, issued)) + b"\n")
            for note in notes(i, issued):
                n(dumps(note) + b"\n")
            if progress is not None and time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                rate = i / (last_report - started)
                print(f"{i:,} of {customers:,} customers ({rate:,.0f}/s)", file=progress)
    finally:
        for handle in handles.values():
            handle.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--last-month",
        default="2026-10",
        help="the month of the last invoice, YYYY-MM (fixed, so the output is deterministic)",
    )
    args = parser.parse_args(argv)
    year, month = (int(x) for x in args.last_month.split("-"))
    started = time.monotonic()
    write_export(args.out, args.customers, date(year, month, 1), progress=sys.stderr)
    print(
        f"{args.customers:,} customers written to {args.out} in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
