"""Notifications' message handlers against real PostgreSQL, without the broker: each identity
event queues exactly one email, in the customer's language, with the secret it must carry."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.notifications.handlers import SUBSCRIPTIONS
from services.notifications.rendering import LANGUAGES, TEMPLATES
from shared.events import billing
from shared.events import identity as events
from shared.messaging.consumer import PermanentError
from shared.sealing import Sealer, sealer
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

ISSUE_12 = {
    billing.EInvoiceConfirmationRequested.TYPE,
    billing.EInvoiceAddressReplaced.TYPE,
    billing.EInvoiceIssued.TYPE,
    events.InvoiceNoticeRequested.TYPE,
    events.InvoiceReminderRequested.TYPE,
    events.BookingReceiptRequested.TYPE,
}
LOGIN_URL = "https://ebok.test/login"  # make_settings' public_url
# Secrets are sealed as identity seals them, with the key of the service's settings.
Seal = Callable[[str], str]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def notifications(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("notifications", infra, keys) as handlers:
        yield handlers


@dataclass(frozen=True)
class Expected:
    """The email an event must queue."""

    payload: (
        events.AccountEmail
        | events.RegistrationRequested
        | events.RegistrationNoticed
        | events.ManagerRequestReceived
        | events.ManagerRequestRejected
        | events.PaymentReceiptRequested
    )
    template: str
    reference_id: str
    sensitive: bool
    says: tuple[str, ...]  # in both the text and the HTML body
    subject: str | None = None  # when the template words it by the event's values


def registration_requested(language: str, seal: Seal) -> Expected:
    suffix = secrets.token_hex(4)
    registration_id = uuid.uuid4()
    link = f"https://ebok.test/activate/{secrets.token_urlsafe(24)}"
    return Expected(
        events.RegistrationRequested(
            registration_id=registration_id,
            customer_id=f"C-{suffix}",
            email=f"jan.{suffix}@example.com",
            language=language,  # type: ignore[arg-type]
            activation_url=seal(link),
            expires_at=datetime(2026, 12, 1, 18, 30, tzinfo=UTC),
        ),
        "registration",
        str(registration_id),
        sensitive=True,
        says=(link, "2026-12-01 18:30 UTC"),
    )


def registration_noticed(language: str, _seal: Seal) -> Expected:
    suffix = secrets.token_hex(4)
    registration_id = uuid.uuid4()
    return Expected(
        events.RegistrationNoticed(
            registration_id=registration_id,
            customer_id=f"C-{suffix}",
            email=f"on.file.{suffix}@example.com",
            language=language,  # type: ignore[arg-type]
            applicant_email="m***@example.org",
            started_at=datetime(2026, 11, 20, 9, 15, tzinfo=UTC),
        ),
        "registration-notice",
        str(registration_id),
        sensitive=False,
        says=("m***@example.org", "2026-11-20 09:15 UTC"),
    )


def account_email(
    model: type[events.AccountEmail], language: str, **extra: str
) -> events.AccountEmail:
    suffix = secrets.token_hex(4)
    return model(
        account_id=uuid.uuid4(),
        email=f"owner.{suffix}@example.com",
        language=language,  # type: ignore[arg-type]
        login=f"e{suffix}",
        **extra,
    )


def registration_repeated(language: str, seal: Seal) -> Expected:
    e = account_email(events.RegistrationRepeated, language)
    return Expected(e, "account-exists", str(e.account_id), False, (e.login, LOGIN_URL))


def credentials_issued(language: str, seal: Seal) -> Expected:
    password = secrets.token_urlsafe(10)
    e = account_email(events.CredentialsIssued, language, one_time_password=seal(password))
    return Expected(e, "registration-confirmation", str(e.account_id), True, (e.login, password))


def account_activated(language: str, seal: Seal) -> Expected:
    e = account_email(events.AccountActivated, language)
    return Expected(e, "account-activation", str(e.account_id), False, (LOGIN_URL,))


def manager_request_received(language: str, _seal: Seal) -> Expected:
    e = events.ManagerRequestReceived(
        reference="MR-2026-000042",
        company="Zarządca <Sp. z o.o.>",
        email=f"firma.{secrets.token_hex(4)}@example.com",
        language=language,  # type: ignore[arg-type]
    )
    return Expected(e, "manager-request-received", e.reference, False, ("MR-2026-000042",))


def manager_request_rejected(language: str, _seal: Seal) -> Expected:
    e = events.ManagerRequestRejected(
        reference="MR-2026-000043",
        company="Zarządca",
        email=f"firma.{secrets.token_hex(4)}@example.com",
        language=language,  # type: ignore[arg-type]
        reason="Contract U-1 is not administered by you",
    )
    return Expected(
        e,
        "manager-request-rejected",
        e.reference,
        False,
        ("MR-2026-000043", "Contract U-1 is not administered by you"),
    )


def payment_receipt_requested(language: str, _seal: Seal) -> Expected:
    suffix = secrets.token_hex(4)
    e = account_email(
        events.PaymentReceiptRequested,
        language,
        payment_id=str(uuid.uuid4()),
        customer_id=f"C-{suffix}",
        amount="350.00",
        invoices=[  # type: ignore[arg-type]
            {"invoice_number": f"FV/{suffix}/1", "amount": "100.00"},
            {"invoice_number": f"FV/{suffix}/2", "amount": "200.50"},
        ],
        method="blik",
        completed_at="2026-11-24T09:05:00+01:00",
    )
    assert isinstance(e, events.PaymentReceiptRequested)
    return Expected(
        e,
        "payment-received",
        str(e.payment_id),
        False,
        (
            "350.00 PLN",
            f"FV/{suffix}/1: 100.00 PLN",
            f"FV/{suffix}/2: 200.50 PLN",
            "49.50 PLN",  # the overpayment
            str(e.payment_id),
            "BLIK",
            "2026-11-24 08:05 UTC",
            LOGIN_URL,
        ),
    )


CASE_SUBJECTS = {
    "pl": "Sprawa KOR/2026/000124: odpowiedź",
    "en": "Case KOR/2026/000124: reply",
    "uk": "Звернення KOR/2026/000124: відповідь",
    "ru": "Обращение KOR/2026/000124: ответ",
}


def case_update_requested(language: str, _seal: Seal) -> Expected:
    e = account_email(
        events.CaseUpdateRequested,
        language,
        customer_id="C-1001",
        number="KOR/2026/000124",
        status="answered",
        reply="Licznik wymieniony.",
    )
    return Expected(
        e,
        "case-updated",
        "KOR/2026/000124",
        False,
        ("Licznik wymieniony.", "https://ebok.test/cases/KOR%2F2026%2F000124"),
        CASE_SUBJECTS[language],
    )


CASES = {
    events.RegistrationRequested.TYPE: registration_requested,
    events.RegistrationNoticed.TYPE: registration_noticed,
    events.RegistrationRepeated.TYPE: registration_repeated,
    events.CredentialsIssued.TYPE: credentials_issued,
    events.AccountActivated.TYPE: account_activated,
    events.ManagerRequestReceived.TYPE: manager_request_received,
    events.ManagerRequestRejected.TYPE: manager_request_rejected,
    events.PaymentReceiptRequested.TYPE: payment_receipt_requested,
    events.CaseUpdateRequested.TYPE: case_update_requested,
}
# Issue 12's emails have cases of their own (test_notifications_issue12.py, which checks that
# the two files together cover every handler).
HANDLED = [
    model.TYPE
    for subscription in SUBSCRIPTIONS
    for model in subscription.handlers
    if model.TYPE not in ISSUE_12
]


def test_every_handler_has_a_case() -> None:
    assert sorted(CASES) == sorted(HANDLED)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event_type", HANDLED)
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
        email["attempts"],
    ) == (
        expected.template,
        language,
        str(expected.payload.email),
        event_type,
        expected.reference_id,
        expected.sensitive,
        "pending",
        0,
    )
    subject = (TEMPLATES / language / f"{expected.template}.subject.txt").read_text().strip()
    # A manager request's subjects name its reference; the others say nothing variable.
    subject = subject.replace("{{ reference }}", getattr(expected.payload, "reference", ""))
    # A payment's names its amount.
    if isinstance(expected.payload, events.PaymentReceiptRequested):
        subject = subject.replace("{{ amount }}", f"{expected.payload.amount:.2f}")
        subject = subject.replace("{{ currency }}", expected.payload.currency)
    assert email["subject"] == (expected.subject or subject)
    for words in expected.says:
        assert words in email["text_body"]
        assert words in email["html_body"]
    assert email["correlation_id"].startswith("test-"), "the event's correlation id is kept"
    assert len(await notifications.published()) == announced, "queueing announces nothing"


@pytest.mark.parametrize("event_type", HANDLED)
async def test_a_redelivered_event_queues_no_second_email(
    notifications: ServiceHandlers, event_type: str
) -> None:
    expected = CASES[event_type]("pl", sealer(notifications.settings).seal)

    await notifications.assert_redelivery_changes_nothing(expected.payload)
    recipient = str(expected.payload.email)
    count = await notifications.fetchval(
        "SELECT count(*) FROM emails WHERE recipient = $1", recipient
    )
    assert count == 1


@pytest.mark.parametrize(
    "event_type", [events.RegistrationRequested.TYPE, events.CredentialsIssued.TYPE]
)
async def test_a_secret_sealed_with_another_key_is_dead_lettered_unread(
    notifications: ServiceHandlers, event_type: str
) -> None:
    other_key = Sealer(Fernet.generate_key())
    expected = CASES[event_type]("pl", other_key.seal)
    message_id = uuid.uuid4()

    # PermanentError: the consumer sends the message to the dead-letter queue with this reason.
    with pytest.raises(PermanentError) as refused:
        await notifications.deliver(expected.payload, message_id=message_id)

    assert str(refused.value) == (
        f"{event_type}: a sealed secret cannot be opened: "
        "the value was sealed with another key, or altered"
    )
    assert not await notifications.fetch(
        "SELECT 1 FROM emails WHERE source_event_id = $1", message_id
    )


def test_the_contract_refuses_an_unsealed_secret() -> None:
    with pytest.raises(ValidationError, match="one_time_password"):
        account_email(events.CredentialsIssued, "pl", one_time_password="Plain1234abcd")
