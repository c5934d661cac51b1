"""Notifications' message handlers: each event that asks for an email queues one. EMAILS says
which template each event gets and what goes into it; the templates decide the words."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

from services.notifications import repository
from services.notifications.rendering import Renderer
from shared.envelope import Envelope
from shared.events import identity
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
)


@dataclass(frozen=True)
class Links:
    """What a template may need besides the event: the sign-in page, and the key to the
    sealed secrets the event carries (shared/sealing.py)."""

    login_url: str
    unseal: Callable[[str], str]


@dataclass(frozen=True)
class Email:
    template: str
    sensitive: bool  # carries a secret: its body is dropped once sent
    context: Callable[[Any, Links], dict[str, Any]]  # (event, links) → template values
    reference: Callable[[Any], str]  # what the email is about, echoed in delivery events


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
}


@functools.cache
def _renderer() -> Renderer:
    # The templates are files of the package: loaded once, shared by every handler.
    return Renderer()


async def queue_email(tx: Tx, env: Envelope, event: Request) -> None:
    """Queue the email `event` asks for (once per event: the repository ignores a repeat)."""
    email = EMAILS[type(event)]
    links = Links(f"{tx.settings.public_url.rstrip('/')}/login", sealer(tx.settings).unseal)
    try:
        context = email.context(event, links)
    except UnsealError as exc:
        # Another key sealed it, or it was altered: it can never be read here.
        raise PermanentError(f"{env.type}: a sealed secret cannot be opened: {exc}") from None
    await repository.queue_email(
        tx.conn,
        source=env,
        template=email.template,
        language=event.language,
        recipient=str(event.email),
        email=_renderer().render(email.template, event.language, context),
        sensitive=email.sensitive,
        reference_id=email.reference(event),
    )


SUBSCRIPTIONS = (Subscription("email-requests", dict.fromkeys(EMAILS, queue_email)),)
