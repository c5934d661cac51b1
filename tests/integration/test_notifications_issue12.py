"""Issue 12's emails against real PostgreSQL and a real SMTP server (aiosmtpd, in-process): each
e-invoice, invoice, reminder and booking event queues exactly one email, in its language, to
its address; the e-invoice carries its PDF, which is not kept once the email is sent (or has
failed for good); a confirmation link's body is dropped once sent; an attachment that is not a
PDF is refused for good."""

from __future__ import annotations

import base64
import email.policy
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio

from deploy.mailbox import MailStore, start_smtp_server
from services.billing.invoice_pdf import render_invoice_pdf
from services.notifications.delivery import Mailer
from services.notifications.rendering import LANGUAGES
from shared.events import billing, identity
from shared.events.common import Event
from shared.messaging.consumer import PermanentError
from shared.sealing import sealer
from shared.tx import Database
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra
from tests.unit.test_invoice_pdf import invoice as pdf_invoice

PUBLIC_URL = "https://ebok.test"  # make_settings' public_url
LOGIN_URL = f"{PUBLIC_URL}/login"
Seal = Callable[[str], str]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def notifications(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("notifications", infra, keys) as handlers:
        yield handlers


@pytest_asyncio.fixture(loop_scope="session")
async def mailbox() -> AsyncIterator[tuple[MailStore, int]]:
    store = MailStore()
    server = await start_smtp_server(store, "127.0.0.1", 0)
    yield store, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def invoice_pdf(invoice_number: str) -> bytes:
    """A real invoice PDF, from billing's one renderer."""
    return render_invoice_pdf(
        pdf_invoice(lines=1, invoice_number=invoice_number, paid=Decimal("0.00"), status="issued")
    )


@dataclass(frozen=True)
class Expected:
    """The email an event must queue."""

    payload: Event
    template: str
    reference_id: str
    sensitive: bool
    attachments: int
    says: tuple[str, ...]  # in both the text and the HTML body

    @property
    def recipient(self) -> str:
        return str(self.payload.email)  # type: ignore[attr-defined]


def _suffix() -> str:
    return secrets.token_hex(4)


def _number(suffix: str) -> str:
    return f"FV/2026/11/{suffix}"


def _page(number: str) -> str:
    return f"{PUBLIC_URL}/invoices/{number.replace('/', '%2F')}"


def confirmation_requested(language: str, seal: Seal) -> Expected:
    suffix = _suffix()
    link = f"{PUBLIC_URL}/e-invoice/confirm#token={secrets.token_urlsafe(24)}"
    e = billing.EInvoiceConfirmationRequested(
        customer_id=f"C-{suffix}",
        email=f"faktury.{suffix}@example.com",
        language=language,  # type: ignore[arg-type]
        purpose="activate",
        confirmation_url=seal(link),
        expires_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
    )
    return Expected(e, "e-invoice-confirmation", e.customer_id, True, 0, (link, "2026-11-27"))


def address_replaced(language: str, _seal: Seal) -> Expected:
    suffix = _suffix()
    e = billing.EInvoiceAddressReplaced(
        customer_id=f"C-{suffix}",
        email=f"old.{suffix}@example.com",
        language=language,  # type: ignore[arg-type]
        new_address=f"new.{suffix}@example.com",
        changed_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
    )
    return Expected(
        e, "e-invoice-address-changed", e.customer_id, False, 0, (str(e.new_address), LOGIN_URL)
    )


def e_invoice_issued(language: str, _seal: Seal, pdf: bytes | None = None) -> Expected:
    suffix = _suffix()
    number = _number(suffix)
    e = billing.EInvoiceIssued(
        customer_id=f"C-{suffix}",
        email=f"faktury.{suffix}@example.com",
        language=language,  # type: ignore[arg-type]
        invoice_number=number,
        issued_on=date(2026, 11, 20),
        due_on=date(2026, 12, 4),
        gross=Decimal("108.00"),
        filename=f"FV_2026_11_{suffix}.pdf",
        pdf=base64.b64encode(pdf or b"%PDF-1.4\n%%EOF\n").decode(),
    )
    return Expected(
        e,
        "e-invoice",
        number,
        False,
        1,
        (number, "2026-11-20", "2026-12-04", "108.00 PLN", e.filename, _page(number)),
    )


def _account(model: type[identity.AccountEmail], language: str, **extra: object) -> Event:
    suffix = _suffix()
    return model(
        account_id=uuid.uuid4(),
        email=f"owner.{suffix}@example.com",
        language=language,  # type: ignore[arg-type]
        login=f"e{suffix}",
        customer_id=f"C-{suffix}",
        **extra,
    )


def invoice_notice(language: str, _seal: Seal) -> Expected:
    number = _number(_suffix())
    e = _account(
        identity.InvoiceNoticeRequested,
        language,
        invoice_number=number,
        issued_on=date(2026, 11, 20),
        due_on=date(2026, 12, 4),
        gross=Decimal("108"),
    )
    return Expected(
        e, "invoice-issued", number, False, 0, (number, "108.00 PLN", "2026-12-04", _page(number))
    )


def invoice_reminder(language: str, _seal: Seal) -> Expected:
    number = _number(_suffix())
    e = _account(
        identity.InvoiceReminderRequested,
        language,
        invoice_number=number,
        due_on=date(2026, 12, 4),
        gross=Decimal("108.00"),
        amount_due=Decimal("58.00"),
    )
    return Expected(
        e, "invoice-reminder", number, False, 0, (number, "58.00 PLN", "2026-12-04", _page(number))
    )


def booking_receipt(language: str, _seal: Seal) -> Expected:
    number = _number(_suffix())
    booking = f"B-{_suffix()}"
    e = _account(
        identity.BookingReceiptRequested,
        language,
        booking_id=booking,
        booked_on=date(2026, 11, 25),
        amount=Decimal("50"),
        invoice_number=number,
    )
    return Expected(
        e, "payment-booked", booking, False, 0, (booking, "50.00 PLN", "2026-11-25", number)
    )


CASES: dict[str, Callable[[str, Seal], Expected]] = {
    billing.EInvoiceConfirmationRequested.TYPE: confirmation_requested,
    billing.EInvoiceAddressReplaced.TYPE: address_replaced,
    billing.EInvoiceIssued.TYPE: e_invoice_issued,
    identity.InvoiceNoticeRequested.TYPE: invoice_notice,
    identity.InvoiceReminderRequested.TYPE: invoice_reminder,
    identity.BookingReceiptRequested.TYPE: booking_receipt,
}


def test_every_handler_has_a_case() -> None:
    from services.notifications.handlers import SUBSCRIPTIONS
    from tests.integration.test_handlers_notifications import CASES as EARLIER

    handled = {model.TYPE for s in SUBSCRIPTIONS for model in s.handlers}
    assert set(CASES) | set(EARLIER) == handled
    assert not set(CASES) & set(EARLIER)


async def attachments(handlers: ServiceHandlers, email_id: uuid.UUID | None = None) -> int:
    return await handlers.fetchval(
        "SELECT count(*) FROM email_attachments WHERE $1::uuid IS NULL OR email_id = $1", email_id
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event_type", sorted(CASES))
async def test_an_event_queues_one_email_in_its_language(
    notifications: ServiceHandlers, event_type: str, language: str
) -> None:
    expected = CASES[event_type](language, sealer(notifications.settings).seal)
    message_id = uuid.uuid4()
    announced = len(await notifications.published())

    assert await notifications.deliver(expected.payload, message_id=message_id) == "handled"

    [email] = await notifications.fetch(
        "SELECT * FROM emails WHERE source_event_id = $1", message_id
    )
    assert (
        email["template"],
        email["language"],
        email["recipient"],
        email["source_event_type"],
        email["reference_id"],
        email["sensitive"],
        email["status"],
    ) == (
        expected.template,
        language,
        expected.recipient,
        event_type,
        expected.reference_id,
        expected.sensitive,
        "pending",
    )
    for words in expected.says:
        assert words in email["text_body"], words
        assert words in email["html_body"], words
    assert await attachments(notifications, email["id"]) == expected.attachments
    assert len(await notifications.published()) == announced, "queueing announces nothing"


@pytest.mark.parametrize("event_type", sorted(CASES))
async def test_a_redelivered_event_queues_nothing_new(
    notifications: ServiceHandlers, event_type: str
) -> None:
    expected = CASES[event_type]("pl", sealer(notifications.settings).seal)

    # The snapshot covers every table: a second attachment would show.
    await notifications.assert_redelivery_changes_nothing(expected.payload)
    [email_id] = [
        r["id"]
        for r in await notifications.fetch(
            "SELECT id FROM emails WHERE recipient = $1", expected.recipient
        )
    ]
    assert await attachments(notifications, email_id) == expected.attachments


def mailer(handlers: ServiceHandlers, port: int, **settings: object) -> Mailer:
    changed = handlers.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, **settings}
    )
    return Mailer(Database(handlers.pool, "notifications", changed))


async def send_all_due(sender: Mailer) -> None:
    """Every email due (the module's earlier tests queued some too), one pass each."""
    while await sender.deliver_due():
        pass


async def test_the_e_invoice_arrives_with_its_pdf_which_is_not_kept(
    notifications: ServiceHandlers, mailbox: tuple[MailStore, int]
) -> None:
    store, port = mailbox
    pdf = invoice_pdf("FV/2026/11/000123")
    expected = e_invoice_issued("en", sealer(notifications.settings).seal, pdf)
    message_id = uuid.uuid4()
    await notifications.deliver(expected.payload, message_id=message_id)
    [email_id] = [
        r["id"]
        for r in await notifications.fetch(
            "SELECT id FROM emails WHERE source_event_id = $1", message_id
        )
    ]
    assert await attachments(notifications, email_id) == 1

    await send_all_due(mailer(notifications, port))

    [mail] = store.to_address(expected.recipient)
    message: EmailMessage = mail.message
    assert message.get_content_type() == "multipart/mixed"
    assert message["Message-ID"] == f"<{email_id}@localhost>"
    assert message["Subject"] == f"Your e-invoice {expected.reference_id}"
    assert message["Content-Language"] == "en"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "The invoice is attached to this email as a PDF" in (
        body.get_content()
    )
    assert message.get_body(preferencelist=("html",)) is not None
    [part] = list(message.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == expected.payload.filename  # type: ignore[attr-defined]
    assert part.get_content() == pdf, "the very bytes billing rendered"
    # Also as a mail reader parses the raw message.
    reparsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
    [raw_part] = list(reparsed.iter_attachments())  # type: ignore[attr-defined]
    assert raw_part.get_payload(decode=True) == pdf

    [row] = await notifications.fetch("SELECT * FROM emails WHERE id = $1", email_id)
    assert row["status"] == "sent"
    assert row["text_body"] is not None, "not sensitive: the body stays in the delivery log"
    assert await attachments(notifications, email_id) == 0, "attachments are not kept"


async def test_an_e_invoice_that_fails_for_good_keeps_no_attachment(
    notifications: ServiceHandlers,
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    expected = e_invoice_issued("pl", sealer(notifications.settings).seal)
    message_id = uuid.uuid4()
    await notifications.deliver(expected.payload, message_id=message_id)

    await send_all_due(mailer(notifications, closed_port, email_max_attempts=1))

    [row] = await notifications.fetch(
        "SELECT id, status, last_error FROM emails WHERE source_event_id = $1", message_id
    )
    assert row["status"] == "failed" and row["last_error"]
    assert await attachments(notifications, row["id"]) == 0


async def test_an_e_invoice_that_waits_keeps_its_attachment(
    notifications: ServiceHandlers,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    expected = e_invoice_issued("pl", sealer(notifications.settings).seal)
    message_id = uuid.uuid4()
    await notifications.deliver(expected.payload, message_id=message_id)

    await send_all_due(mailer(notifications, closed_port, email_max_attempts=5))

    [row] = await notifications.fetch(
        "SELECT id, status, attempts FROM emails WHERE source_event_id = $1", message_id
    )
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert await attachments(notifications, row["id"]) == 1, "kept for the next attempt"


async def test_the_confirmation_link_is_not_kept_once_sent(
    notifications: ServiceHandlers, mailbox: tuple[MailStore, int]
) -> None:
    store, port = mailbox
    expected = confirmation_requested("pl", sealer(notifications.settings).seal)
    link = expected.says[0]
    message_id = uuid.uuid4()
    await notifications.deliver(expected.payload, message_id=message_id)

    await send_all_due(mailer(notifications, port))

    [mail] = store.to_address(expected.recipient)
    assert mail.subject == "Potwierdź adres e-faktury"
    assert link in mail.body("plain") and link in mail.body("html")
    [row] = await notifications.fetch(
        "SELECT status, text_body, html_body FROM emails WHERE source_event_id = $1", message_id
    )
    assert (row["status"], row["text_body"], row["html_body"]) == ("sent", None, None)


@pytest.mark.parametrize(
    ("pdf", "reason"),
    [
        ("JVBERi0xLjQK!!!", "is not valid base64"),
        (base64.b64encode(b"PK\x03\x04 a zip, not a PDF").decode(), "is not a PDF document"),
    ],
)
async def test_an_attachment_that_is_not_a_pdf_is_dead_lettered(
    notifications: ServiceHandlers, pdf: str, reason: str
) -> None:
    expected = e_invoice_issued("pl", sealer(notifications.settings).seal)
    payload = expected.payload.model_dump(mode="json") | {"pdf": pdf}
    message_id = uuid.uuid4()
    before = await attachments(notifications)

    # PermanentError: the consumer sends the message to the dead-letter queue with this reason.
    with pytest.raises(PermanentError) as refused:
        await notifications.deliver_raw(billing.EInvoiceIssued.TYPE, payload, message_id=message_id)

    filename = payload["filename"]
    assert str(refused.value) == f"billing.e-invoice.issued: the attachment {filename} {reason}"
    assert not await notifications.fetch(
        "SELECT 1 FROM emails WHERE source_event_id = $1", message_id
    )
    assert await attachments(notifications) == before
