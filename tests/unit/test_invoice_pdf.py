from __future__ import annotations

import io
from datetime import date
from decimal import Decimal as D

from pypdf import PdfReader

from services.billing.invoice_pdf import PdfInvoice, PdfLine, amount_due, render_invoice_pdf


def invoice(lines: int = 2, **changes: object) -> PdfInvoice:
    values = dict(
        invoice_number="FV/2026/10/1001",
        issued_on=date(2026, 10, 31),
        due_on=date(2026, 11, 14),
        period_from=date(2026, 10, 1),
        period_to=date(2026, 10, 31),
        customer_id="C-1001",
        customer_name="Żaneta Łęcka-Ćwikła",
        customer_address=["ul. Źródlana 5", "00-950 Warszawa"],
        contract_number="U/C-1001",
        net=D("100.00"),
        vat=D("8.00"),
        gross=D("108.00"),
        paid=D("50.00"),
        status="partly_paid",
        lines=[PdfLine("Zaopatrzenie w wodę", D("10.000"), "m3", D("5.0000"), D("50.00"), D("8"))]
        * lines,
    )
    values.update(changes)
    return PdfInvoice(**values)  # type: ignore[arg-type]


def pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_a_pdf_document_with_the_font_embedded() -> None:
    pdf = render_invoice_pdf(invoice())
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"DroidSansMono" in pdf


def test_the_same_invoice_gives_the_same_bytes() -> None:
    assert render_invoice_pdf(invoice()) == render_invoice_pdf(invoice())


def test_many_lines_flow_onto_more_pages() -> None:
    assert len(pages(render_invoice_pdf(invoice(lines=2)))) == 1
    many = pages(render_invoice_pdf(invoice(lines=60)))
    assert len(many) >= 2
    assert all("Opis / Description" in page for page in many), "the table header repeats"


def test_figures_and_polish_text_are_on_the_page() -> None:
    [text] = pages(render_invoice_pdf(invoice()))
    for expected in (
        "Nr FV/2026/10/1001",
        "Żaneta Łęcka-Ćwikła",
        "ul. Źródlana 5",
        "Zaopatrzenie w wodę",
        "Brutto / Gross 108.00 PLN",
        "Zapłacono / Paid 50.00 PLN",
        "Do zapłaty / Amount due 58.00 PLN",
        "Częściowo zapłacona / Partly paid",
        "Termin płatności / Due 2026-11-14",
    ):
        assert expected in text, expected


def test_amount_due_never_goes_below_zero() -> None:
    assert amount_due(D("108.00"), D("50.00")) == D("58.00")
    assert amount_due(D("108.00"), D("200.00")) == D("0.00")
