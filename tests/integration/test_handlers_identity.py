"""Identity's message handlers against real PostgreSQL, without the broker: the projection of
billing's events, and the account's activation driven by notifications' delivery events."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from services.identity.handlers import SUBSCRIPTIONS
from shared.events import Event, billing, correspondence, erp, notifications, payments
from shared.events import identity as events
from shared.messaging.consumer import PermanentError
from tests.integration.test_identity_notices import utility_today
from tests.support.erp import address
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

CREDENTIALS = events.CredentialsIssued.TYPE
ACTIVATED = events.AccountActivated.TYPE


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def identity(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("identity", infra, keys) as handlers:
        yield handlers


def customer(suffix: str, name: str = "Jan Kowalski") -> billing.CustomerChanged:
    return billing.CustomerChanged(
        customer_id=f"C-{suffix}", name=name, email=f"jan.{suffix}@example.com", language="pl"
    )


def point(suffix: str, n: int) -> billing.ServicePoint:
    return billing.ServicePoint(
        service_point_id=f"SP-{suffix}-{n}", address=address(), meter_number=f"M-{suffix}-{n}"
    )


def contract(suffix: str, *points: int) -> billing.ContractChanged:
    return billing.ContractChanged(
        contract_number=f"U-{suffix}",
        customer_id=f"C-{suffix}",
        signed_on=date(2020, 1, 15),
        status="active",
        service_points=[point(suffix, n) for n in points],
    )


def invoice(suffix: str, gross: str = "108.00") -> billing.InvoiceIssued:
    return billing.InvoiceIssued(
        invoice_number=f"FV/{suffix}",
        customer_id=f"C-{suffix}",
        contract_number=f"U-{suffix}",
        issued_on=date(2026, 10, 31),
        due_on=date(2026, 11, 14),
        gross=Decimal(gross),
    )


def email_sent(
    source_event_type: str | None, reference_id: object | None
) -> notifications.EmailSent:
    return notifications.EmailSent(
        email_id=uuid.uuid4(),
        template="any",
        source_event_id=uuid.uuid4(),
        source_event_type=source_event_type,
        reference_id=None if reference_id is None else str(reference_id),
    )


async def new_account(
    identity: ServiceHandlers, status: str = "awaiting_credentials_email"
) -> uuid.UUID:
    """An account as registration's activation leaves it (identity's HTTP side makes these)."""
    account_id = uuid.uuid4()
    suffix = secrets.token_hex(4)
    await identity.execute(
        """INSERT INTO accounts (id, customer_id, login, email, language, role, status,
                                 password_hash)
           VALUES ($1, $2, $3, $4, 'en', 'customer', $5, 'not-a-hash')""",
        account_id,
        f"C-{suffix}",
        f"e{suffix}",
        f"owner.{suffix}@example.com",
        status,
    )
    return account_id


async def account(identity: ServiceHandlers, account_id: uuid.UUID) -> tuple[str, bool]:
    """The account's status and whether it has been activated."""
    row = (
        await identity.fetch("SELECT status, activated_at FROM accounts WHERE id = $1", account_id)
    )[0]
    return row["status"], row["activated_at"] is not None


async def activations(identity: ServiceHandlers, account_id: uuid.UUID) -> list[dict]:
    return [
        e.payload
        for e in await identity.published(ACTIVATED)
        if e.payload["account_id"] == str(account_id)
    ]


# Each handler's message, built after what it needs is in place.
Case = Callable[[ServiceHandlers], Awaitable[Event]]


async def _customer(_: ServiceHandlers) -> Event:
    return customer(secrets.token_hex(4))


async def _contract(_: ServiceHandlers) -> Event:
    return contract(secrets.token_hex(4), 1, 2)


async def _invoice(_: ServiceHandlers) -> Event:
    return invoice(secrets.token_hex(4))


async def _email_sent(identity: ServiceHandlers) -> Event:
    return email_sent(CREDENTIALS, await new_account(identity))


async def _email_failed(identity: ServiceHandlers) -> Event:
    return notifications.EmailFailed(
        email_id=uuid.uuid4(),
        template="registration-confirmation",
        source_event_id=uuid.uuid4(),
        source_event_type=CREDENTIALS,
        reference_id=str(await new_account(identity)),
        error="550 mailbox unavailable",
    )


async def _manager_login(identity: ServiceHandlers) -> str:
    """A manager account (an operator's approval or an owner's invitation makes these)."""
    suffix = secrets.token_hex(4)
    await identity.execute(
        """INSERT INTO accounts (id, login, email, language, role, status, password_hash)
           VALUES ($1, $2, $3, 'en', 'manager', 'active', 'not-a-hash')""",
        uuid.uuid4(),
        f"e{suffix}",
        f"manager.{suffix}@example.com",
    )
    return f"e{suffix}"


async def _manager_granted(identity: ServiceHandlers) -> Event:
    return erp.ManagerGranted(
        manager_login=await _manager_login(identity),
        customer_id=f"C-{secrets.token_hex(4)}",
        scope="full",
    )


async def _manager_revoked(identity: ServiceHandlers) -> Event:
    granted = await _manager_granted(identity)
    assert await identity.deliver(granted) == "handled"
    return erp.ManagerRevoked(manager_login=granted.manager_login, customer_id=granted.customer_id)


def completed(
    customer_id: str, paid_by: uuid.UUID, amount: str = "150.00"
) -> payments.PaymentCompleted:
    return payments.PaymentCompleted(
        payment_id=uuid.uuid4(),
        customer_id=customer_id,
        amount=Decimal(amount),
        invoices=[payments.PaidInvoice(invoice_number=f"FV/{customer_id}", amount=Decimal(amount))],
        method="pay-by-link",
        provider="p24",
        provider_transaction_id=f"T-{secrets.token_hex(6)}",
        paid_by_account_id=paid_by,
        completed_at=datetime(2026, 11, 24, 9, 5, tzinfo=UTC),
    )


async def customer_of(identity: ServiceHandlers, account_id: uuid.UUID) -> str:
    return await identity.fetchval("SELECT customer_id FROM accounts WHERE id = $1", account_id)


async def _payment_completed(identity: ServiceHandlers) -> Event:
    account_id = await new_account(identity, "active")
    return completed(await customer_of(identity, account_id), account_id)


async def receipts(identity: ServiceHandlers, payment_id: uuid.UUID) -> list[dict]:
    return [
        e.payload
        for e in await identity.published(events.PaymentReceiptRequested.TYPE)
        if e.payload["payment_id"] == str(payment_id)
    ]


async def _invoice_due_soon(identity: ServiceHandlers) -> Event:
    customer_id = await customer_of(identity, await new_account(identity, "active"))
    return billing.InvoiceDueSoon(
        invoice_number=f"FV/{customer_id}",
        customer_id=customer_id,
        contract_number=f"U-{customer_id}",
        due_on=date(2026, 12, 10),
        gross=Decimal("108.00"),
        amount_due=Decimal("108.00"),
    )


async def _payment_booked(identity: ServiceHandlers) -> Event:
    customer_id = await customer_of(identity, await new_account(identity, "active"))
    return billing.PaymentBooked(
        booking_id=f"B-{customer_id}",
        customer_id=customer_id,
        booked_on=utility_today(),  # news: a receipt is asked for
        amount=Decimal("50.00"),
        channel="transfer",
    )


def case_changed(
    customer_id: str, account_id: uuid.UUID, status: str = "answered", **extra: str
) -> correspondence.CaseChanged:
    return correspondence.CaseChanged(
        case_id=uuid.uuid4(),
        number=f"KOR/2026/{secrets.randbelow(10**6):06d}",
        customer_id=customer_id,
        kind="failure",
        status=status,  # type: ignore[arg-type]
        submitted_by_account_id=account_id,
        changed_at=datetime(2026, 11, 26, 10, 30, tzinfo=UTC),
        **extra,  # type: ignore[arg-type]
    )


async def _case_changed(identity: ServiceHandlers) -> Event:
    account_id = await new_account(identity, "active")
    return case_changed(await customer_of(identity, account_id), account_id, reply="Naprawione.")


CASES: dict[str, Case] = {
    billing.CustomerChanged.TYPE: _customer,
    billing.ContractChanged.TYPE: _contract,
    billing.InvoiceIssued.TYPE: _invoice,
    notifications.EmailSent.TYPE: _email_sent,
    notifications.EmailFailed.TYPE: _email_failed,
    erp.ManagerGranted.TYPE: _manager_granted,
    erp.ManagerRevoked.TYPE: _manager_revoked,
    payments.PaymentCompleted.TYPE: _payment_completed,
    billing.InvoiceDueSoon.TYPE: _invoice_due_soon,
    billing.PaymentBooked.TYPE: _payment_booked,
    correspondence.CaseChanged.TYPE: _case_changed,
}
HANDLED = [model.TYPE for subscription in SUBSCRIPTIONS for model in subscription.handlers]
PROJECTION = [
    billing.CustomerChanged.TYPE,
    billing.ContractChanged.TYPE,
    billing.InvoiceIssued.TYPE,
]


def test_every_handler_has_a_case() -> None:
    assert sorted(CASES) == sorted(HANDLED)


@pytest.mark.parametrize("event_type", HANDLED)
async def test_a_redelivered_message_changes_nothing(
    identity: ServiceHandlers, event_type: str
) -> None:
    payload = await CASES[event_type](identity)

    await identity.assert_redelivery_changes_nothing(payload)


@pytest.mark.parametrize("event_type", PROJECTION)
async def test_the_same_fact_under_a_new_message_id_changes_nothing(
    identity: ServiceHandlers, event_type: str
) -> None:
    payload = await CASES[event_type](identity)
    await identity.deliver(payload)
    before = await identity.snapshot(skip_columns=["updated_at"])

    assert await identity.deliver(payload) == "handled"

    assert await identity.snapshot(skip_columns=["updated_at"]) == before


# --- the projection of billing ------------------------------------------------------------------


async def test_customers_are_projected_and_follow_changes(identity: ServiceHandlers) -> None:
    suffix = secrets.token_hex(4)
    announced = len(await identity.published())
    await identity.deliver(customer(suffix))
    query = "SELECT name, email, language FROM customers WHERE customer_id = $1"
    assert [tuple(r) for r in await identity.fetch(query, f"C-{suffix}")] == [
        ("Jan Kowalski", f"jan.{suffix}@example.com", "pl")
    ]

    changed = customer(suffix, "Anna Nowak").model_copy(update={"email": None, "language": "uk"})
    await identity.deliver(changed)

    assert [tuple(r) for r in await identity.fetch(query, f"C-{suffix}")] == [
        ("Anna Nowak", None, "uk")
    ]
    assert len(await identity.published()) == announced, "the projection announces nothing"


async def test_a_contract_replaces_the_service_points_on_record(identity: ServiceHandlers) -> None:
    suffix = secrets.token_hex(4)
    query = """SELECT service_point_id, customer_id, contract_number, address FROM service_points
                WHERE contract_number = $1 ORDER BY service_point_id"""
    await identity.deliver(contract(suffix, 1, 2))
    rows = await identity.fetch(query, f"U-{suffix}")
    assert [(r[0], r[1], r[2], json.loads(r[3])) for r in rows] == [
        (f"SP-{suffix}-{n}", f"C-{suffix}", f"U-{suffix}", address().model_dump()) for n in (1, 2)
    ]

    await identity.deliver(contract(suffix, 2, 3))

    rows = await identity.fetch(query, f"U-{suffix}")
    assert [r[0] for r in rows] == [f"SP-{suffix}-2", f"SP-{suffix}-3"]


async def test_invoices_are_projected_with_their_gross_amount(identity: ServiceHandlers) -> None:
    suffix = secrets.token_hex(4)
    await identity.deliver(invoice(suffix))
    query = "SELECT customer_id, gross, issued_on FROM invoices WHERE invoice_number = $1"
    assert [tuple(r) for r in await identity.fetch(query, f"FV/{suffix}")] == [
        (f"C-{suffix}", Decimal("108.00"), date(2026, 10, 31))
    ]

    await identity.deliver(invoice(suffix, "120.50"))  # a corrected invoice, same number

    assert [tuple(r) for r in await identity.fetch(query, f"FV/{suffix}")] == [
        (f"C-{suffix}", Decimal("120.50"), date(2026, 10, 31))
    ]


# --- the account's states ------------------------------------------------------------------------


async def test_the_credentials_email_sent_asks_for_the_activation_email(
    identity: ServiceHandlers,
) -> None:
    account_id = await new_account(identity)
    [row] = await identity.fetch("SELECT * FROM accounts WHERE id = $1", account_id)

    assert await identity.deliver(email_sent(CREDENTIALS, account_id)) == "handled"

    assert await account(identity, account_id) == ("awaiting_activation_email", False)
    assert await activations(identity, account_id) == [
        {
            "account_id": str(account_id),
            "email": row["email"],
            "language": "en",
            "login": row["login"],
            "customer_id": row["customer_id"],  # how billing learns the account's language
        }
    ]


async def test_the_same_email_reported_again_moves_nothing_and_announces_nothing(
    identity: ServiceHandlers,
) -> None:
    account_id = await new_account(identity)
    sent = email_sent(CREDENTIALS, account_id)
    await identity.deliver(sent)
    before = await identity.snapshot()

    # Under a new message id, as a report republished by notifications would arrive.
    assert await identity.deliver(sent) == "handled"

    assert await identity.snapshot() == before
    assert len(await activations(identity, account_id)) == 1


async def test_the_activation_email_sent_makes_the_account_active(
    identity: ServiceHandlers,
) -> None:
    account_id = await new_account(identity)
    await identity.deliver(email_sent(CREDENTIALS, account_id))

    assert await identity.deliver(email_sent(ACTIVATED, account_id)) == "handled"

    assert await account(identity, account_id) == ("active", True)
    assert len(await activations(identity, account_id)) == 1, "activation is announced once"


@pytest.mark.parametrize(
    ("status", "source_event_type"),
    [
        # An email identity does not follow an account by.
        ("awaiting_credentials_email", events.RegistrationRequested.TYPE),
        ("awaiting_credentials_email", events.RegistrationRepeated.TYPE),
        ("awaiting_credentials_email", None),
        # The activation email reported before the credentials email: not this account's step.
        ("awaiting_credentials_email", ACTIVATED),
        # A late report for an account that has moved on.
        ("active", CREDENTIALS),
        ("locked", ACTIVATED),
    ],
)
async def test_an_email_that_is_not_the_accounts_next_step_changes_nothing(
    identity: ServiceHandlers, status: str, source_event_type: str | None
) -> None:
    account_id = await new_account(identity, status)
    before = await identity.snapshot()

    assert await identity.deliver(email_sent(source_event_type, account_id)) == "handled"

    assert await identity.snapshot() == before
    assert await account(identity, account_id) == (status, False)


@pytest.mark.parametrize("reference", ["none", "unknown account"])
async def test_an_email_for_no_known_account_changes_nothing(
    identity: ServiceHandlers, reference: str
) -> None:
    account_id = await new_account(identity)
    before = await identity.snapshot()
    reference_id = None if reference == "none" else uuid.uuid4()

    assert await identity.deliver(email_sent(CREDENTIALS, reference_id)) == "handled"

    assert await identity.snapshot() == before
    assert await account(identity, account_id) == ("awaiting_credentials_email", False)


async def test_an_email_whose_reference_is_no_account_id_is_refused_for_good(
    identity: ServiceHandlers,
) -> None:
    # Retrying cannot help: the consumer dead-letters a PermanentError at once.
    before = await identity.snapshot()

    with pytest.raises(PermanentError, match="names no account"):
        await identity.deliver(email_sent(CREDENTIALS, "not-an-account-id"))

    assert await identity.snapshot() == before


@pytest.mark.parametrize(
    ("status", "source_event_type"),
    [("awaiting_credentials_email", CREDENTIALS), ("awaiting_activation_email", ACTIVATED)],
)
async def test_a_failed_email_changes_nothing(
    identity: ServiceHandlers, status: str, source_event_type: str
) -> None:
    # The email that would have moved the account on failed: it waits where it was.
    account_id = await new_account(identity, status)
    before = await identity.snapshot()
    failed = notifications.EmailFailed(
        email_id=uuid.uuid4(),
        template="any",
        source_event_id=uuid.uuid4(),
        source_event_type=source_event_type,
        reference_id=str(account_id),
        error="550 mailbox unavailable",
    )
    message_id = uuid.uuid4()

    assert await identity.deliver(failed, message_id=message_id) == "handled"

    assert await identity.snapshot() == before
    assert await account(identity, account_id) == (status, False)
    # Handled, not dropped: the inbox holds it, so a redelivery is a duplicate.
    assert await identity.fetchval("SELECT type FROM inbox WHERE message_id = $1", message_id) == (
        notifications.EmailFailed.TYPE
    )


# --- the "Payment received" email ---------------------------------------------------------------


async def test_a_completed_payment_asks_for_the_email_to_the_customers_account(
    identity: ServiceHandlers,
) -> None:
    account_id = await new_account(identity, "active")
    row = (await identity.fetch("SELECT * FROM accounts WHERE id = $1", account_id))[0]
    p = completed(row["customer_id"], account_id)

    assert await identity.deliver(p) == "handled"

    assert await receipts(identity, p.payment_id) == [
        {
            "account_id": str(account_id),
            "email": row["email"],
            "language": "en",  # the account's, not the ERP's
            "login": row["login"],
            "payment_id": str(p.payment_id),
            "customer_id": p.customer_id,
            "amount": "150.00",
            "currency": "PLN",
            "invoices": [{"invoice_number": f"FV/{p.customer_id}", "amount": "150.00"}],
            "method": "pay-by-link",
            "completed_at": "2026-11-24T09:05:00Z",
        }
    ]


async def test_the_same_payment_again_asks_for_no_second_email(identity: ServiceHandlers) -> None:
    p = await _payment_completed(identity)
    assert isinstance(p, payments.PaymentCompleted)
    await identity.deliver(p)

    # The payments service published it again: a new message id, the same payment.
    assert await identity.deliver(p) == "handled"

    assert len(await receipts(identity, p.payment_id)) == 1


async def test_a_manager_who_paid_is_told_as_well_as_the_customer(
    identity: ServiceHandlers,
) -> None:
    owner = await new_account(identity, "active")
    manager_login = await _manager_login(identity)
    manager = await identity.fetchval("SELECT id FROM accounts WHERE login = $1", manager_login)
    p = completed(await customer_of(identity, owner), manager)

    await identity.deliver(p)

    assert sorted(r["account_id"] for r in await receipts(identity, p.payment_id)) == sorted(
        [str(owner), str(manager)]
    )


async def test_no_account_in_use_no_email(identity: ServiceHandlers) -> None:
    # The customer's account is still being activated; the payer is unknown.
    account_id = await new_account(identity)
    p = completed(await customer_of(identity, account_id), uuid.uuid4())

    assert await identity.deliver(p) == "handled"

    assert await receipts(identity, p.payment_id) == []
