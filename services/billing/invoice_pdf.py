"""Invoices as PDF documents (fpdf2), in Polish and English, with the customer's figures.

The font is the DejaVu-like Droid Sans Mono shipped with the `captcha` package (already a
dependency): it covers Polish letters, and relying on it needs no system fonts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import captcha
from fpdf import FPDF

FONT = Path(captcha.__file__).parent / "data" / "DroidSansMono.ttf"
SELLER = [
    "Miejskie Przedsiębiorstwo Wodociągów i Kanalizacji",
    "ul. Wodna 1, 00-001 Warszawa",
    "NIP 525-000-10-09",
]
STATUS_LABELS = {
    "paid": "Zapłacona / Paid",
    "partly_paid": "Częściowo zapłacona / Partly paid",
    "unpaid": "Nieopłacona / Unpaid",
    "overdue": "Po terminie / Overdue",
}
# Column widths (mm) of the lines table: description, quantity, unit, unit price, net, VAT %.
COLUMNS = (70, 22, 14, 26, 28, 20)
HEADERS = ("Opis / Description", "Ilość", "J.m.", "Cena netto", "Netto", "VAT %")


@dataclass(frozen=True)
class PdfLine:
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    net: Decimal
    vat_rate: Decimal


@dataclass(frozen=True)
class PdfInvoice:
    invoice_number: str
    issued_on: date
    due_on: date
    period_from: date
    period_to: date
    customer_id: str
    customer_name: str
    customer_address: list[str]
    contract_number: str
    net: Decimal
    vat: Decimal
    gross: Decimal
    paid: Decimal
    status: str
    lines: list[PdfLine]

    @classmethod
    def from_row(
        cls, row: Mapping[str, Any], *, customer_address: list[str], lines: list[PdfLine]
    ) -> PdfInvoice:
        """The invoice's own columns from `row` (the invoice joined with its customer)."""
        taken = {f.name: row[f.name] for f in fields(cls) if f.name in row}
        taken["customer_name"] = taken.get("customer_name") or ""
        return cls(**{**taken, "customer_address": customer_address, "lines": lines})

    @classmethod
    def from_records(cls, row: Mapping[str, Any], lines: list[Mapping[str, Any]]) -> PdfInvoice:
        """The invoice as repository.invoice and repository.invoice_lines read it (the one way
        the PDF route and the e-invoice delivery build the document)."""
        address = json.loads(row["customer_address"]) if row["customer_address"] else None
        return cls.from_row(
            row,
            customer_address=address_lines(address),
            lines=[PdfLine(**line) for line in lines],
        )


def address_lines(address: Mapping[str, Any] | None) -> list[str]:
    if not address:
        return []
    street = f"{address['street']} {address['building']}"
    if address.get("apartment"):
        street += f"/{address['apartment']}"
    return [street, f"{address['postal_code']} {address['city']}"]


def amount_due(gross: Decimal, paid: Decimal) -> Decimal:
    return max(gross - paid, Decimal("0.00"))


def pln(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ") + " PLN"


class _Document(FPDF):
    def __init__(self, invoice: PdfInvoice) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.invoice = invoice
        self.add_font("Mono", fname=str(FONT))
        self.set_font("Mono", size=9)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(f"Faktura {invoice.invoice_number}")
        self.set_author("e-BOK")
        self.set_creation_date(
            datetime.combine(invoice.issued_on, time(12, 0), tzinfo=timezone.utc)  # noqa: UP017
        )

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Mono", size=7)
        self.cell(0, 5, f"{self.invoice.invoice_number}  —  {self.page_no()}/{{nb}}", align="C")
        self.set_font("Mono", size=9)

    def table_header(self) -> None:
        self.set_fill_color(225, 235, 245)
        for width, text in zip(COLUMNS, HEADERS, strict=True):
            self.cell(width, 6, text, border=1, fill=True)
        self.ln()


def render_invoice_pdf(
    invoice: PdfInvoice, seller: list[str] | None = None, *, compress: bool = True
) -> bytes:
    pdf = _Document(invoice)
    pdf.set_compression(compress)
    pdf.add_page()
    pdf.set_font("Mono", size=15)
    pdf.cell(0, 9, "Faktura VAT / Invoice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Mono", size=11)
    pdf.cell(0, 7, f"Nr {invoice.invoice_number}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Mono", size=9)

    top = pdf.get_y()
    pdf.multi_cell(90, 4.5, "Sprzedawca / Seller\n" + "\n".join(seller or SELLER), align="L")
    left_bottom = pdf.get_y()
    pdf.set_xy(110, top)
    buyer = [
        invoice.customer_name,
        *invoice.customer_address,
        f"Nr klienta / Customer: {invoice.customer_id}",
    ]
    pdf.multi_cell(90, 4.5, "Nabywca / Buyer\n" + "\n".join(buyer), align="L")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 4)

    for label, value in (
        ("Umowa / Contract", invoice.contract_number),
        ("Data wystawienia / Issued", invoice.issued_on.isoformat()),
        ("Termin płatności / Due", invoice.due_on.isoformat()),
        ("Okres / Period", f"{invoice.period_from.isoformat()} - {invoice.period_to.isoformat()}"),
    ):
        pdf.cell(60, 5, label)
        pdf.cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    pdf.table_header()
    for line in invoice.lines:
        if pdf.will_page_break(6):
            pdf.add_page()
            pdf.table_header()
        description = (
            line.description if len(line.description) <= 34 else (line.description[:33] + "…")
        )
        cells = (
            description,
            f"{line.quantity:.3f}",
            line.unit,
            f"{line.unit_price:.4f}",
            f"{line.net:.2f}",
            f"{line.vat_rate.normalize():f}",
        )
        for index, (width, text) in enumerate(zip(COLUMNS, cells, strict=True)):
            pdf.cell(width, 6, text, border=1, align="L" if index in (0, 2) else "R")
        pdf.ln()
    pdf.ln(4)

    due = amount_due(invoice.gross, invoice.paid)
    for label, value in (
        ("Netto / Net", pln(invoice.net)),
        ("VAT", pln(invoice.vat)),
        ("Brutto / Gross", pln(invoice.gross)),
        ("Zapłacono / Paid", pln(invoice.paid)),
        ("Do zapłaty / Amount due", pln(due)),
        ("Status", STATUS_LABELS.get(invoice.status, invoice.status)),
    ):
        if pdf.will_page_break(6):
            pdf.add_page()
        pdf.cell(90, 6, "")
        pdf.cell(45, 6, label)
        pdf.cell(55, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
