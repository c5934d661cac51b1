"""The account emails identity asks for on billing's facts (services/identity/notices.py), against
real PostgreSQL without the broker: "New invoice" (billing.invoice.issued), the due-date reminder
(billing.invoice.due-soon) and "Payment received" for a booking (billing.payment.booked) and an
online payment (payments.payment.completed): to the customer's own active account, once, while
its notification preference leaves the email on."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest_asyncio

from services.identity.notices import BOOKING_NEWS_DAYS
from shared.events import billing, notifications, payments
from shared.events import identity as events
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

NOTICE = events.InvoiceNoticeRequested.TYPE
REMINDER = events.InvoiceReminderRequested.TYPE
BOOKING = events.BookingReceiptRequested.TYPE
RECEIPT = events.PaymentReceiptRequested.TYPE


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def identity(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("identity", infra, keys) as handlers:
        yield handlers


async def new_account(
    identity: ServiceHandlers,
    status: str = "active",
    role: str = "customer",
    **preferences: bool,
) -> tuple[uuid.UUID, str | None]:
    """An account (its id and customer) with its notification preferences, if any are given."""
    account_id, suffix = uuid.uuid4(), secrets.token_hex(4)
    customer_id = f"C-{suffix}" if role == "customer" else None
    await identity.execute(
        """INSERT INTO accounts (id, customer_id, login, email, language, role, status,
                                 password_hash)
           VALUES ($1, $2, $3, $4, 'uk', $5, $6, 'not-a-hash')""",
        account_id,
        customer_id,
        f"e{suffix}",
        f"owner.{suffix}@example.com",
        role,
        status,
    )
    if preferences:
        await identity.execute(
            """INSERT INTO notification_preferences
                      (account_id, invoice_issued, due_reminder, payment_received)
               VALUES ($1, $2, $3, $4)""",
            account_id,
            preferences.get("invoice_issued", True),
            preferences.get("due_reminder", True),
            preferences.get("payment_received", True),
        )
    return account_id, customer_id


async def account_row(identity: ServiceHandlers, account_id: uuid.UUID) -> dict:
    [row] = await identity.fetch("SELECT * FROM accounts WHERE id = $1", account_id)
    return dict(row)


def invoice(
    identity: ServiceHandlers, customer_id: str, *, due_in: int = 14, e_invoice: bool = False
) -> billing.InvoiceIssued:
    today = identity.settings.today()
    return billing.InvoiceIssued(
        invoice_number=f"FV/{secrets.token_hex(4)}",
        customer_id=customer_id,
        contract_number=f"U-{customer_id}",
        issued_on=today - timedelta(days=1),
        due_on=today + timedelta(days=due_in),
        gross=Decimal("108.00"),
        e_invoice=e_invoice,
    )


def due_soon(customer_id: str) -> billing.InvoiceDueSoon:
    return billing.InvoiceDueSoon(
        invoice_number=f"FV/{secrets.token_hex(4)}",
        customer_id=customer_id,
        contract_number=f"U-{customer_id}",
        due_on=date(2026, 12, 10),
        gross=Decimal("108.00"),
        amount_due=Decimal("58.00"),
    )


def utility_today() -> date:
    """The utility's calendar date, as the handlers read it (EBOK_TIMEZONE's default)."""
    return datetime.now(ZoneInfo("Europe/Warsaw")).date()


def booked(
    customer_id: str, reference: uuid.UUID | None = None, days_ago: int = 1
) -> billing.PaymentBooked:
    return billing.PaymentBooked(
        booking_id=f"B-{secrets.token_hex(4)}",
        customer_id=customer_id,
        booked_on=utility_today() - timedelta(days=days_ago),
        amount=Decimal("50.00"),
        invoice_number="FV/2026/1",
        channel="transfer",
        reference=reference,
    )


async def asked(identity: ServiceHandlers, event_type: str, **match: str) -> list[dict]:
    """The payloads of `event_type` published whose fields have the values in `match`."""
    return [
        e.payload
        for e in await identity.published(event_type)
        if all(e.payload.get(k) == v for k, v in match.items())
    ]


# --- "New invoice" ------------------------------------------------------------------------------


async def test_a_new_invoice_asks_for_the_notice_to_the_customers_account(
    identity: ServiceHandlers,
) -> None:
    account_id, customer_id = await new_account(identity)
    assert customer_id is not None
    row = await account_row(identity, account_id)
    i = invoice(identity, customer_id)

    assert await identity.deliver(i) == "handled"

    assert await asked(identity, NOTICE, customer_id=customer_id) == [
        {
            "account_id": str(account_id),
            "email": row["email"],
            "language": "uk",
            "login": row["login"],
            "customer_id": customer_id,
            "invoice_number": i.invoice_number,
            "issued_on": i.issued_on.isoformat(),
            "due_on": i.due_on.isoformat(),
            "gross": "108.00",
        }
    ]


async def test_an_invoice_due_today_is_still_announced(identity: ServiceHandlers) -> None:
    _, customer_id = await new_account(identity)
    assert customer_id is not None

    await identity.deliver(invoice(identity, customer_id, due_in=0))

    assert len(await asked(identity, NOTICE, customer_id=customer_id)) == 1


async def test_no_notice_when_the_account_turned_it_off(identity: ServiceHandlers) -> None:
    _, customer_id = await new_account(identity, invoice_issued=False)
    assert customer_id is not None

    await identity.deliver(invoice(identity, customer_id))

    assert await asked(identity, NOTICE, customer_id=customer_id) == []


async def test_no_notice_for_an_e_invoice(identity: ServiceHandlers) -> None:
    _, customer_id = await new_account(identity)
    assert customer_id is not None

    await identity.deliver(invoice(identity, customer_id, e_invoice=True))

    assert await asked(identity, NOTICE, customer_id=customer_id) == []


async def test_no_notice_for_an_invoice_already_due_the_erps_history(
    identity: ServiceHandlers,
) -> None:
    _, customer_id = await new_account(identity)
    assert customer_id is not None

    await identity.deliver(invoice(identity, customer_id, due_in=-1))

    assert await asked(identity, NOTICE, customer_id=customer_id) == []
    # It is projected all the same (registration proves itself with it).
    assert await identity.fetchval(
        "SELECT count(*) FROM invoices WHERE customer_id = $1", customer_id
    )


async def test_an_invoice_the_projection_knows_asks_for_nothing_more(
    identity: ServiceHandlers,
) -> None:
    _, customer_id = await new_account(identity)
    assert customer_id is not None
    i = invoice(identity, customer_id)
    await identity.deliver(i)

    # Published again (a new message id), then corrected: neither is a new invoice.
    assert await identity.deliver(i) == "handled"
    assert await identity.deliver(i.model_copy(update={"gross": Decimal("120.00")})) == "handled"

    assert len(await asked(identity, NOTICE, customer_id=customer_id)) == 1


async def test_a_redelivered_invoice_changes_nothing(identity: ServiceHandlers) -> None:
    _, customer_id = await new_account(identity)
    assert customer_id is not None

    await identity.assert_redelivery_changes_nothing(invoice(identity, customer_id))

    assert len(await asked(identity, NOTICE, customer_id=customer_id)) == 1


async def test_no_notice_without_an_active_account_of_the_customer(
    identity: ServiceHandlers,
) -> None:
    _, being_activated = await new_account(identity, status="awaiting_activation_email")
    _, locked = await new_account(identity, status="locked")
    assert being_activated is not None and locked is not None
    without_account = f"C-{secrets.token_hex(4)}"

    for customer_id in (being_activated, locked, without_account):
        await identity.deliver(invoice(identity, customer_id))

    for customer_id in (being_activated, locked, without_account):
        assert await asked(identity, NOTICE, customer_id=customer_id) == []


async def test_a_batch_asks_for_each_wanted_notice_once(identity: ServiceHandlers) -> None:
    """The ERP feed's batch: several customers, one invoice twice, one account that said no."""
    _, first = await new_account(identity)
    _, second = await new_account(identity)
    _, declined = await new_account(identity, invoice_issued=False)
    assert first is not None and second is not None and declined is not None
    a, b, c = invoice(identity, first), invoice(identity, second), invoice(identity, declined)
    old = invoice(identity, second, due_in=-30)

    outcomes = await identity.deliver_batch([a, b, a, c, old])

    assert outcomes == ["handled"] * 5
    assert [n["invoice_number"] for n in await asked(identity, NOTICE, customer_id=first)] == [
        a.invoice_number
    ]
    assert [n["invoice_number"] for n in await asked(identity, NOTICE, customer_id=second)] == [
        b.invoice_number
    ]
    assert await asked(identity, NOTICE, customer_id=declined) == []


# --- the due-date reminder ----------------------------------------------------------------------


async def test_an_invoice_due_soon_asks_for_the_reminder_once(identity: ServiceHandlers) -> None:
    account_id, customer_id = await new_account(identity)
    assert customer_id is not None
    row = await account_row(identity, account_id)
    r = due_soon(customer_id)

    assert await identity.deliver(r) == "handled"
    assert await identity.deliver(r) == "handled"  # billing published it again

    assert await asked(identity, REMINDER, customer_id=customer_id) == [
        {
            "account_id": str(account_id),
            "email": row["email"],
            "language": "uk",
            "login": row["login"],
            "customer_id": customer_id,
            "invoice_number": r.invoice_number,
            "due_on": "2026-12-10",
            "gross": "108.00",
            "amount_due": "58.00",
        }
    ]


async def test_no_reminder_when_the_account_turned_it_off(identity: ServiceHandlers) -> None:
    _, customer_id = await new_account(identity, due_reminder=False, invoice_issued=True)
    assert customer_id is not None

    await identity.deliver(due_soon(customer_id))

    assert await asked(identity, REMINDER, customer_id=customer_id) == []


async def test_no_reminder_without_an_active_account(identity: ServiceHandlers) -> None:
    _, customer_id = await new_account(identity, status="awaiting_credentials_email")
    assert customer_id is not None

    await identity.deliver(due_soon(customer_id))
    await identity.deliver(due_soon(f"C-{secrets.token_hex(4)}"))

    assert await asked(identity, REMINDER, customer_id=customer_id) == []


# --- "Payment received": a booking --------------------------------------------------------------


async def test_a_booked_payment_asks_for_the_receipt_once(identity: ServiceHandlers) -> None:
    account_id, customer_id = await new_account(identity)
    assert customer_id is not None
    row = await account_row(identity, account_id)
    b = booked(customer_id)

    assert await identity.deliver(b) == "handled"
    assert await identity.deliver(b) == "handled"  # billing published it again

    assert await asked(identity, BOOKING, customer_id=customer_id) == [
        {
            "account_id": str(account_id),
            "email": row["email"],
            "language": "uk",
            "login": row["login"],
            "customer_id": customer_id,
            "booking_id": b.booking_id,
            "booked_on": b.booked_on.isoformat(),
            "amount": "50.00",
            "invoice_number": "FV/2026/1",
        }
    ]


async def test_a_booking_of_an_online_payment_asks_for_no_second_receipt(
    identity: ServiceHandlers,
) -> None:
    _, customer_id = await new_account(identity)
    assert customer_id is not None

    await identity.deliver(booked(customer_id, reference=uuid.uuid4()))

    assert await asked(identity, BOOKING, customer_id=customer_id) == []


async def test_a_booking_older_than_a_month_is_history_not_news(
    identity: ServiceHandlers,
) -> None:
    _, customer_id = await new_account(identity)
    assert customer_id is not None

    await identity.deliver(booked(customer_id, days_ago=BOOKING_NEWS_DAYS + 1))
    assert await asked(identity, BOOKING, customer_id=customer_id) == []
    await identity.deliver(booked(customer_id, days_ago=BOOKING_NEWS_DAYS))
    assert len(await asked(identity, BOOKING, customer_id=customer_id)) == 1


async def test_no_booking_receipt_when_the_account_turned_it_off(
    identity: ServiceHandlers,
) -> None:
    _, customer_id = await new_account(identity, payment_received=False)
    assert customer_id is not None

    await identity.deliver(booked(customer_id))

    assert await asked(identity, BOOKING, customer_id=customer_id) == []


async def test_a_batch_of_bookings_and_reminders_asks_for_each_once(
    identity: ServiceHandlers,
) -> None:
    _, customer_id = await new_account(identity)
    assert customer_id is not None
    b, r = booked(customer_id), due_soon(customer_id)

    await identity.deliver_batch([b, r, b, booked(customer_id, reference=uuid.uuid4()), r])

    assert len(await asked(identity, BOOKING, customer_id=customer_id)) == 1
    assert len(await asked(identity, REMINDER, customer_id=customer_id)) == 1


# --- "Payment received": an online payment ------------------------------------------------------


def completed(customer_id: str, paid_by: uuid.UUID) -> payments.PaymentCompleted:
    return payments.PaymentCompleted(
        payment_id=uuid.uuid4(),
        customer_id=customer_id,
        amount=Decimal("150.00"),
        invoices=[payments.PaidInvoice(invoice_number=f"FV/{customer_id}", amount=Decimal(150))],
        method="card",
        provider="p24",
        provider_transaction_id=f"T-{secrets.token_hex(6)}",
        paid_by_account_id=paid_by,
        completed_at=datetime(2026, 11, 24, 9, 5, tzinfo=UTC),
    )


async def test_no_online_payment_receipt_when_the_account_turned_it_off(
    identity: ServiceHandlers,
) -> None:
    account_id, customer_id = await new_account(identity, payment_received=False)
    assert customer_id is not None
    p = completed(customer_id, account_id)

    await identity.deliver(p)

    assert await asked(identity, RECEIPT, payment_id=str(p.payment_id)) == []


async def test_a_manager_payer_and_the_customer_each_by_their_own_preference(
    identity: ServiceHandlers,
) -> None:
    _, customer_id = await new_account(identity, payment_received=False)
    manager, _ = await new_account(identity, role="manager")
    assert customer_id is not None
    p = completed(customer_id, manager)

    await identity.deliver(p)

    assert [
        r["account_id"] for r in await asked(identity, RECEIPT, payment_id=str(p.payment_id))
    ] == [str(manager)]


# --- AccountActivated ---------------------------------------------------------------------------


async def test_the_account_activated_names_the_customer(identity: ServiceHandlers) -> None:
    account_id, customer_id = await new_account(identity, status="awaiting_credentials_email")
    sent = notifications.EmailSent(
        email_id=uuid.uuid4(),
        template="registration-confirmation",
        source_event_id=uuid.uuid4(),
        source_event_type=events.CredentialsIssued.TYPE,
        reference_id=str(account_id),
    )

    await identity.deliver(sent)

    [activated] = await asked(identity, events.AccountActivated.TYPE, account_id=str(account_id))
    assert activated["customer_id"] == customer_id
    assert activated["language"] == "uk"
