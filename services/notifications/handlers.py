"""Notifications' message handlers: each event that asks for an email queues one. EMAILS says
which template each event gets and what goes into it; the templates decide the words."""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from services.notifications import repository
from services.notifications.rendering import Renderer
from services.notifications.repository import Attachment
from shared.envelope import Envelope
from shared.events import billing, identity
from shared.messaging.consumer import PermanentError, Subscription
from shared.sealing import UnsealError, sealer
from shared.tx import Tx

# Events that ask for an email about someone: they say to whom, and in which language.
Request = (
    identity.AccountEmail
    | identity.RegistrationRequested
    | identity.RegistrationNoticed
    | identity.ManagerRequestReceived
    | identity.ManagerRequestRejected
    | identity.PaymentReceiptRequested
    | billing.EInvoiceEmail
)


@dataclass(frozen=True)
class Links:
    """What a template may need besides the event: the sign-in page, and the key to the
    sealed secrets the event carries (shared/sealing.py)."""

    login_url: str
    public_url: str  # without a trailing slash
    unseal: Callable[[str], str]

    def invoice(self, invoice_number: str) -> str:
        """The invoice's page in e-BOK: its number is one path segment ('/' quoted)."""
        return f"{self.public_url}/invoices/{quote(invoice_number, safe='')}"

    def case(self, number: str) -> str:
        """The case's page in e-BOK: its number (KOR/2026/000123) is one path segment."""
        return f"{self.public_url}/cases/{quote(number, safe='')}"


@dataclass(frozen=True)
class Email:
    template: str
    sensitive: bool  # carries a secret: its body is dropped once sent
    context: Callable[[Any, Links], dict[str, Any]]  # (event, links) → template values
    reference: Callable[[Any], str]  # what the email is about, echoed in delivery events
    # Files the email carries (decoded from the event); none by default.
    attachments: Callable[[Any], list[Attachment]] = lambda _e: []


def _account(e: identity.AccountEmail) -> str:
    return str(e.account_id)


def _payment(e: identity.PaymentReceiptRequested, links: Links) -> dict[str, Any]:
    """Amounts as the utility writes them (two decimals, PLN); the time in UTC, as the other
    emails give it."""
    rest = e.amount - sum((i.amount for i in e.invoices), Decimal(0))
    return {
        "amount": f"{e.amount:.2f}",
        "rest": f"{rest:.2f} {e.currency}" if rest > 0 else "",
        "currency": e.currency,
        "invoices": [
            {"invoice_number": i.invoice_number, "amount": f"{i.amount:.2f}"} for i in e.invoices
        ],
        "method": e.method,
        "payment_id": str(e.payment_id),
        "completed_at": e.completed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "login_url": links.login_url,
    }


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _day(day: date) -> str:
    return day.isoformat()


def _e_invoice_confirmation(
    e: billing.EInvoiceConfirmationRequested, links: Links
) -> dict[str, Any]:
    return {
        "purpose": e.purpose,
        "address": str(e.email),
        "confirmation_url": links.unseal(e.confirmation_url),
        "expires_at": _when(e.expires_at),
    }


def _e_invoice_address_replaced(e: billing.EInvoiceAddressReplaced, links: Links) -> dict[str, Any]:
    return {
        "new_address": str(e.new_address),
        "changed_at": _when(e.changed_at),
        "login_url": links.login_url,
    }


def _invoice(
    e: billing.EInvoiceIssued | identity.InvoiceNoticeRequested, links: Links
) -> dict[str, Any]:
    return {
        "invoice_number": e.invoice_number,
        "issued_on": _day(e.issued_on),
        "due_on": _day(e.due_on),
        "gross": _money(e.gross),
        "currency": "PLN",
        "invoice_url": links.invoice(e.invoice_number),
        "login_url": links.login_url,
    }


def _e_invoice(e: billing.EInvoiceIssued, links: Links) -> dict[str, Any]:
    return {**_invoice(e, links), "filename": e.filename}


def _reminder(e: identity.InvoiceReminderRequested, links: Links) -> dict[str, Any]:
    return {
        "invoice_number": e.invoice_number,
        "due_on": _day(e.due_on),
        "gross": _money(e.gross),
        "amount_due": _money(e.amount_due),
        "currency": "PLN",
        "invoice_url": links.invoice(e.invoice_number),
        "login_url": links.login_url,
    }


def _booking(e: identity.BookingReceiptRequested, links: Links) -> dict[str, Any]:
    return {
        "booking_id": e.booking_id,
        "booked_on": _day(e.booked_on),
        "amount": _money(e.amount),
        "currency": "PLN",
        "invoice_number": e.invoice_number or "",
        "invoice_url": links.invoice(e.invoice_number) if e.invoice_number else "",
        "login_url": links.login_url,
    }


def _case(e: identity.CaseUpdateRequested, links: Links) -> dict[str, Any]:
    """The templates word the status themselves; an absent reply or reason is empty."""
    return {
        "number": e.number,
        "status": e.status,
        "reply": e.reply or "",
        "reason": e.reason or "",
        "case_url": links.case(e.number),
        "login_url": links.login_url,
    }


def _invoice_pdf(e: billing.EInvoiceIssued) -> list[Attachment]:
    """The PDF billing rendered. What is not strictly base64, or not a PDF, can never be sent:
    PermanentError (the message is dead-lettered with the reason)."""
    try:
        content = base64.b64decode(e.pdf, validate=True)
    except (binascii.Error, ValueError):
        raise PermanentError(f"{e.TYPE}: the attachment {e.filename} is not valid base64") from None
    if not content.startswith(b"%PDF-"):
        raise PermanentError(f"{e.TYPE}: the attachment {e.filename} is not a PDF document")
    return [Attachment(e.filename, "application/pdf", content)]


EMAILS: dict[type[Request], Email] = {
    identity.RegistrationRequested: Email(
        "registration",
        sensitive=True,
        context=lambda e, links: {
            "activation_url": links.unseal(e.activation_url),
            "expires_at": e.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        },
        reference=lambda e: str(e.registration_id),
    ),
    identity.RegistrationNoticed: Email(
        "registration-notice",
        sensitive=False,
        context=lambda e, links: {
            "applicant_email": e.applicant_email,
            "started_at": e.started_at.strftime("%Y-%m-%d %H:%M UTC"),
        },
        reference=lambda e: str(e.registration_id),
    ),
    identity.RegistrationRepeated: Email(
        "account-exists",
        sensitive=False,
        context=lambda e, links: {"login": e.login, "login_url": links.login_url},
        reference=_account,
    ),
    identity.CredentialsIssued: Email(
        "registration-confirmation",
        sensitive=True,
        context=lambda e, links: {
            "login": e.login,
            "one_time_password": links.unseal(e.one_time_password),
        },
        reference=_account,
    ),
    identity.AccountActivated: Email(
        "account-activation",
        sensitive=False,
        context=lambda e, links: {"login": e.login, "login_url": links.login_url},
        reference=_account,
    ),
    identity.ManagerRequestReceived: Email(
        "manager-request-received",
        sensitive=False,
        context=lambda e, links: {"reference": e.reference, "company": e.company},
        reference=lambda e: e.reference,
    ),
    identity.ManagerRequestRejected: Email(
        "manager-request-rejected",
        sensitive=False,
        context=lambda e, links: {
            "reference": e.reference,
            "company": e.company,
            "reason": e.reason,
        },
        reference=lambda e: e.reference,
    ),
    identity.PaymentReceiptRequested: Email(
        "payment-received",
        sensitive=False,
        context=_payment,
        reference=lambda e: str(e.payment_id),
    ),
    # Issue 12: billing's e-invoice emails go to the e-invoice address; identity's to the
    # customer's own account.
    billing.EInvoiceConfirmationRequested: Email(
        "e-invoice-confirmation",
        sensitive=True,
        context=_e_invoice_confirmation,
        reference=lambda e: e.customer_id,
    ),
    billing.EInvoiceAddressReplaced: Email(
        "e-invoice-address-changed",
        sensitive=False,
        context=_e_invoice_address_replaced,
        reference=lambda e: e.customer_id,
    ),
    billing.EInvoiceIssued: Email(
        "e-invoice",
        sensitive=False,
        context=_e_invoice,
        reference=lambda e: e.invoice_number,
        attachments=_invoice_pdf,
    ),
    identity.InvoiceNoticeRequested: Email(
        "invoice-issued",
        sensitive=False,
        context=_invoice,
        reference=lambda e: e.invoice_number,
    ),
    identity.InvoiceReminderRequested: Email(
        "invoice-reminder",
        sensitive=False,
        context=_reminder,
        reference=lambda e: e.invoice_number,
    ),
    identity.BookingReceiptRequested: Email(
        "payment-booked",
        sensitive=False,
        context=_booking,
        reference=lambda e: e.booking_id,
    ),
    # Issue 13: to the account that wrote the case (identity's case_notices.py).
    identity.CaseUpdateRequested: Email(
        "case-updated",
        sensitive=False,
        context=_case,
        reference=lambda e: e.number,
    ),
}


@functools.cache
def _renderer() -> Renderer:
    # The templates are files of the package: loaded once, shared by every handler.
    return Renderer()


async def queue_email(tx: Tx, env: Envelope, event: Request) -> None:
    """Queue the email `event` asks for (once per event: the repository ignores a repeat)."""
    email = EMAILS[type(event)]
    public_url = tx.settings.public_url.rstrip("/")
    links = Links(f"{public_url}/login", public_url, sealer(tx.settings).unseal)
    try:
        context = email.context(event, links)
    except UnsealError as exc:
        # Another key sealed it, or it was altered: it can never be read here.
        raise PermanentError(f"{env.type}: a sealed secret cannot be opened: {exc}") from None
    attachments = email.attachments(event)
    await repository.queue_email(
        tx.conn,
        source=env,
        template=email.template,
        language=event.language,
        recipient=str(event.email),
        email=_renderer().render(email.template, event.language, context),
        sensitive=email.sensitive,
        reference_id=email.reference(event),
        attachments=attachments,
    )


SUBSCRIPTIONS = (Subscription("email-requests", dict.fromkeys(EMAILS, queue_email)),)
