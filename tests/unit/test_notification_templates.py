"""Every email template exists and renders in every language, with the values its event's
handler gives it (StrictUndefined: a name the handler does not give fails here)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from cryptography.fernet import Fernet

from services.notifications.handlers import EMAILS, Links
from services.notifications.rendering import LANGUAGES, TEMPLATES, Renderer
from shared.events import billing, identity
from shared.events.common import Event
from shared.messaging.consumer import PermanentError
from shared.sealing import Sealer

SEALER = Sealer(Fernet.generate_key())
LINKS = Links("https://e.example/login", "https://e.example", SEALER.unseal)
PDF = b"%PDF-1.4\n% a document\n%%EOF\n"
CONFIRMATION_URL = "https://e.example/e-invoice/confirm#token=C0NF1RM"
INVOICE = "FV/2026/11/000123"
INVOICE_URL = "https://e.example/invoices/FV%2F2026%2F11%2F000123"
CASE = "KOR/2026/000123"
CASE_URL = "https://e.example/cases/KOR%2F2026%2F000123"


def _account(model: type[identity.AccountEmail], language: str, **extra: Any) -> Event:
    return model(
        account_id=uuid.uuid4(),
        email="owner@example.com",
        language=language,  # type: ignore[arg-type]
        login="e123456789",
        **extra,
    )


def _billing(model: type[billing.EInvoiceEmail], language: str, **extra: Any) -> Event:
    return model(
        customer_id="C-1001",
        email="faktury@example.com",
        language=language,  # type: ignore[arg-type]
        **extra,
    )


# Each new event with the words its email must say (in the text and the HTML body).
SAMPLES: dict[type[Event], tuple[Callable[[str], Event], tuple[str, ...]]] = {
    billing.EInvoiceConfirmationRequested: (
        lambda lang: _billing(
            billing.EInvoiceConfirmationRequested,
            lang,
            purpose="activate",
            confirmation_url=SEALER.seal(CONFIRMATION_URL),
            expires_at=datetime(2026, 11, 27, 11, 30, tzinfo=UTC),
        ),
        (CONFIRMATION_URL, "2026-11-27 11:30 UTC", "faktury@example.com"),
    ),
    billing.EInvoiceAddressReplaced: (
        lambda lang: _billing(
            billing.EInvoiceAddressReplaced,
            lang,
            new_address="nowy@example.com",
            changed_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        ),
        ("nowy@example.com", "2026-11-26 08:00 UTC", "https://e.example/login"),
    ),
    billing.EInvoiceIssued: (
        lambda lang: _billing(
            billing.EInvoiceIssued,
            lang,
            invoice_number=INVOICE,
            issued_on=date(2026, 11, 20),
            due_on=date(2026, 12, 4),
            gross=Decimal("123.4"),
            filename="FV_2026_11_000123.pdf",
            pdf=base64.b64encode(PDF).decode(),
        ),
        (INVOICE, "2026-11-20", "2026-12-04", "123.40 PLN", "FV_2026_11_000123.pdf", INVOICE_URL),
    ),
    identity.InvoiceNoticeRequested: (
        lambda lang: _account(
            identity.InvoiceNoticeRequested,
            lang,
            customer_id="C-1001",
            invoice_number=INVOICE,
            issued_on=date(2026, 11, 20),
            due_on=date(2026, 12, 4),
            gross=Decimal("99"),
        ),
        (INVOICE, "2026-11-20", "2026-12-04", "99.00 PLN", INVOICE_URL, "https://e.example/login"),
    ),
    identity.InvoiceReminderRequested: (
        lambda lang: _account(
            identity.InvoiceReminderRequested,
            lang,
            customer_id="C-1001",
            invoice_number=INVOICE,
            due_on=date(2026, 12, 4),
            gross=Decimal("99.00"),
            amount_due=Decimal("49.5"),
        ),
        (INVOICE, "2026-12-04", "49.50 PLN", "99.00 PLN", INVOICE_URL),
    ),
    identity.BookingReceiptRequested: (
        lambda lang: _account(
            identity.BookingReceiptRequested,
            lang,
            customer_id="C-1001",
            booking_id="B-77",
            booked_on=date(2026, 11, 25),
            amount=Decimal("10"),
            invoice_number=INVOICE,
        ),
        ("10.00 PLN", "2026-11-25", "B-77", INVOICE, INVOICE_URL),
    ),
    identity.CaseUpdateRequested: (
        lambda lang: _account(
            identity.CaseUpdateRequested,
            lang,
            customer_id="C-1001",
            number=CASE,
            status="answered",
            reply="Awaria usunięta 26.11.\nProsimy o <informację>, jeśli wróci.",
        ),
        (CASE, CASE_URL, "Awaria usunięta 26.11."),
    ),
}
NAMES = sorted(
    {p.name.removesuffix(".subject.txt") for p in (TEMPLATES / "pl").glob("*.subject.txt")}
)


def test_every_template_has_its_three_files_in_every_language() -> None:
    for language in LANGUAGES:
        found = sorted(p.name for p in (TEMPLATES / language).iterdir())
        expected = sorted(f"{n}.{part}" for n in NAMES for part in ("subject.txt", "txt", "html"))
        assert found == expected, language
    assert {e.template for e in EMAILS.values()} == set(NAMES), "a template no event asks for"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("model", list(SAMPLES), ids=lambda m: m.TYPE)
def test_each_new_email_renders_what_its_event_says(language: str, model: type[Event]) -> None:
    build, says = SAMPLES[model]
    email = EMAILS[model]  # type: ignore[index]
    event = build(language)
    rendered = Renderer().render(email.template, language, email.context(event, LINKS))
    assert rendered.subject and "\n" not in rendered.subject
    for words in says:
        assert words in rendered.text, (language, words)
        assert words in rendered.html, (language, words)
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    assert f'lang="{language}"' in rendered.html
    assert "{{" not in rendered.text + rendered.html


SUBJECTS = {
    "pl": {
        "e-invoice": f"Twoja e-faktura {INVOICE}",
        "invoice-issued": f"Nowa faktura {INVOICE}",
        "invoice-reminder": f"Przypomnienie o terminie płatności: faktura {INVOICE}",
        "payment-booked": "Otrzymaliśmy wpłatę: 10.00 PLN",
        "e-invoice-confirmation": "Potwierdź adres e-faktury",
        "e-invoice-address-changed": "Zmieniono adres e-faktury",
        "case-updated": f"Sprawa {CASE}: odpowiedź",
    },
    "en": {
        "e-invoice": f"Your e-invoice {INVOICE}",
        "invoice-issued": f"New invoice {INVOICE}",
        "invoice-reminder": f"Payment reminder: invoice {INVOICE}",
        "payment-booked": "Payment received: 10.00 PLN",
        "e-invoice-confirmation": "Confirm your e-invoice address",
        "e-invoice-address-changed": "Your e-invoice address has changed",
        "case-updated": f"Case {CASE}: reply",
    },
}


@pytest.mark.parametrize("language", sorted(SUBJECTS))
def test_the_subjects(language: str) -> None:
    rendered = {}
    for model, (build, _) in SAMPLES.items():
        email = EMAILS[model]  # type: ignore[index]
        context = email.context(build(language), LINKS)
        rendered[email.template] = Renderer().render(email.template, language, context).subject
    assert rendered == SUBJECTS[language]


def test_the_confirmation_says_what_it_is_for() -> None:
    build, _ = SAMPLES[billing.EInvoiceConfirmationRequested]
    email = EMAILS[billing.EInvoiceConfirmationRequested]
    activate = build("en")
    change = activate.model_copy(update={"purpose": "change-address"})
    texts = [
        Renderer().render(email.template, "en", email.context(e, LINKS)).text
        for e in (activate, change)
    ]
    assert "send your invoices by email (e-invoice)" in texts[0]
    assert "e-invoices keep going to the previous address" in texts[1]
    for text in texts:
        assert "nothing happens without the link" in text


def test_a_booking_without_an_invoice_names_none() -> None:
    build, _ = SAMPLES[identity.BookingReceiptRequested]
    email = EMAILS[identity.BookingReceiptRequested]
    event = build("pl").model_copy(update={"invoice_number": None})
    rendered = Renderer().render(email.template, "pl", email.context(event, LINKS))
    assert "faktury" not in rendered.text.split("Dziękujemy")[0]
    assert "/invoices/" not in rendered.text + rendered.html
    assert "Numer księgowania: B-77" in rendered.text


def test_the_e_invoice_attaches_the_pdf_it_carries() -> None:
    build, _ = SAMPLES[billing.EInvoiceIssued]
    [attachment] = EMAILS[billing.EInvoiceIssued].attachments(build("pl"))
    assert (attachment.filename, attachment.content_type, attachment.content) == (
        "FV_2026_11_000123.pdf",
        "application/pdf",
        PDF,
    )


@pytest.mark.parametrize(
    ("pdf", "reason"),
    [
        ("not base64!", "is not valid base64"),
        ("JVBERi0x\nLjQ=", "is not valid base64"),  # a line break: not strictly base64
        (base64.b64encode(b"<html>not a pdf</html>").decode(), "is not a PDF document"),
    ],
)
def test_an_attachment_that_is_not_a_pdf_is_refused_for_good(pdf: str, reason: str) -> None:
    build, _ = SAMPLES[billing.EInvoiceIssued]
    event = build("pl").model_copy(update={"pdf": pdf})
    with pytest.raises(PermanentError, match=reason):
        EMAILS[billing.EInvoiceIssued].attachments(event)


# The "case updated" email words each status the back office may set, in every language.
CASE_WORDS = {
    "pl": {
        "registered": ("Sprawa {n}: zarejestrowana", "nowy status: zarejestrowana"),
        "in-progress": ("Sprawa {n}: w realizacji", "nowy status: w realizacji"),
        "answered": ("Sprawa {n}: odpowiedź", "nowy status: udzielono odpowiedzi"),
        "closed": ("Sprawa {n}: zamknięta", "nowy status: zamknięta"),
        "rejected": ("Sprawa {n}: odrzucona", "nowy status: odrzucona"),
    },
    "en": {
        "registered": ("Case {n}: registered", "new status: registered"),
        "in-progress": ("Case {n}: in progress", "new status: in progress"),
        "answered": ("Case {n}: reply", "new status: answered"),
        "closed": ("Case {n}: closed", "new status: closed"),
        "rejected": ("Case {n}: rejected", "new status: rejected"),
    },
    "uk": {
        "registered": ("Звернення {n}: зареєстровано", "новий статус: зареєстровано"),
        "in-progress": ("Звернення {n}: в роботі", "новий статус: в роботі"),
        "answered": ("Звернення {n}: відповідь", "новий статус: надано відповідь"),
        "closed": ("Звернення {n}: закрито", "новий статус: закрито"),
        "rejected": ("Звернення {n}: відхилено", "новий статус: відхилено"),
    },
    "ru": {
        "registered": ("Обращение {n}: зарегистрировано", "новый статус: зарегистрировано"),
        "in-progress": ("Обращение {n}: в работе", "новый статус: в работе"),
        "answered": ("Обращение {n}: ответ", "новый статус: дан ответ"),
        "closed": ("Обращение {n}: закрыто", "новый статус: закрыто"),
        "rejected": ("Обращение {n}: отклонено", "новый статус: отклонено"),
    },
}
CASE_LABELS = {  # the reply's and the reason's headings
    "pl": ("Odpowiedź:", "Powód odrzucenia:"),
    "en": ("Our reply:", "Reason for rejection:"),
    "uk": ("Відповідь:", "Причина відхилення:"),
    "ru": ("Ответ:", "Причина отклонения:"),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("status", ["registered", "in-progress", "answered", "closed", "rejected"])
def test_the_case_email_words_the_status(language: str, status: str) -> None:
    build, _ = SAMPLES[identity.CaseUpdateRequested]
    email = EMAILS[identity.CaseUpdateRequested]
    event = build(language).model_copy(update={"status": status, "reply": None})
    rendered = Renderer().render(email.template, language, email.context(event, LINKS))
    subject, says = CASE_WORDS[language][status]
    assert rendered.subject == subject.format(n=CASE)
    assert says in rendered.text
    assert f"<strong>{says.split(': ')[1]}</strong>" in rendered.html
    # Neither a reply nor a reason was given: no heading for them.
    for label in CASE_LABELS[language]:
        assert label not in rendered.text + rendered.html
    assert CASE_URL in rendered.text and f'href="{CASE_URL}"' in rendered.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_rejected_case_gives_the_reason_and_the_reply_escaped(language: str) -> None:
    build, _ = SAMPLES[identity.CaseUpdateRequested]
    email = EMAILS[identity.CaseUpdateRequested]
    event = build(language).model_copy(
        update={"status": "rejected", "reason": "Adres <spoza> obszaru działania"}
    )
    rendered = Renderer().render(email.template, language, email.context(event, LINKS))
    reply, reason = CASE_LABELS[language]
    assert f"{reason} Adres <spoza> obszaru działania" in rendered.text
    assert f"{reason} Adres &lt;spoza&gt; obszaru działania" in rendered.html
    assert reply in rendered.text and "Prosimy o <informację>" in rendered.text
    assert "Prosimy o &lt;informację&gt;" in rendered.html
