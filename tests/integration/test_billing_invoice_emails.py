"""Billing's part of the invoice emails (issue 12) against real PostgreSQL, without the broker:
which invoices go as e-invoices and with which flag, the delivery loop's PDFs and their outbox
rows, the due-date reminder passes (once each, across restarts and instances, never for a paid
invoice or one outside the window) and billing.payment.booked once per booking."""

from __future__ import annotations

import asyncio
import base64
import io
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest_asyncio
from pypdf import PdfReader

from services.billing import repository
from services.billing.e_invoice_delivery import EInvoiceDelivery, pdf_filename
from services.billing.reminders import Reminders
from shared.events import billing as billing_events
from shared.events import erp
from shared.events import identity as identity_events
from shared.tx import Database
from tests.integration.test_handlers_billing import feed, invoice, payment
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def billing(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("billing", infra, keys) as handlers:
        yield handlers


async def consent(
    billing: ServiceHandlers, customer_id: str, state: str, address: str | None = None
) -> None:
    """The customer's consent as the consent part stores it (migration 0006)."""
    await billing.execute(
        """INSERT INTO e_invoice_consents (customer_id, state, address, since)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (customer_id) DO UPDATE SET state = $2, address = $3""",
        customer_id,
        state,
        address,
    )


async def customer_with_consent(
    billing: ServiceHandlers, language: str | None = None
) -> tuple[erp.CustomerUpserted, erp.InvoiceIssued, str]:
    """A customer on record (ERP language pl) whose consent is on, and its first invoice (not
    sent yet); `language` is its account's."""
    customer, contract, first = feed(secrets.token_hex(4))
    await billing.deliver(customer)
    await billing.deliver(contract)
    address = f"faktury.{secrets.token_hex(3)}@example.com"
    await consent(billing, customer.customer_id, "on", address)
    if language is not None:
        await billing.execute(
            "INSERT INTO account_languages (customer_id, account_id, language) VALUES ($1, $2, $3)",
            customer.customer_id,
            uuid.uuid4(),
            language,
        )
    return customer, first, address


async def issued_flags(billing: ServiceHandlers, invoice_number: str) -> list[bool]:
    """The e_invoice flag of every billing.invoice.issued published for the invoice."""
    return [
        e.payload["e_invoice"]
        for e in await billing.published("billing.invoice.issued")
        if e.payload["invoice_number"] == invoice_number
    ]


async def deliveries(billing: ServiceHandlers, customer_id: str) -> list[dict]:
    rows = await billing.fetch(
        """SELECT invoice_number, address, language, status, error FROM e_invoice_deliveries
            WHERE customer_id = $1 ORDER BY invoice_number""",
        customer_id,
    )
    return [dict(r) for r in rows]


async def e_invoices(billing: ServiceHandlers, invoice_number: str) -> list[dict]:
    return [
        e.payload
        for e in await billing.published("billing.e-invoice.issued")
        if e.payload["invoice_number"] == invoice_number
    ]


def loop(billing: ServiceHandlers) -> EInvoiceDelivery:
    return EInvoiceDelivery(Database(billing.pool, "billing", billing.settings))


async def deliver_all(billing: ServiceHandlers) -> None:
    delivery = loop(billing)
    while await delivery.step():
        pass


# --- which invoices go as e-invoices ----------------------------------------------------------


async def test_a_new_invoice_of_a_customer_with_consent_on_waits_as_an_e_invoice(
    billing: ServiceHandlers,
) -> None:
    customer, first, address = await customer_with_consent(billing, language="en")

    await billing.deliver(first)

    assert await deliveries(billing, customer.customer_id) == [
        {
            "invoice_number": first.invoice_number,
            "address": address,
            "language": "en",
            "status": "pending",
            "error": None,
        }
    ]
    assert await issued_flags(billing, first.invoice_number) == [True]


async def test_the_language_is_the_accounts_else_the_erps_else_polish(
    billing: ServiceHandlers,
) -> None:
    customer, first, _ = await customer_with_consent(billing)  # no account: the ERP's "pl"
    await billing.deliver(customer.model_copy(update={"language": "uk"}))
    await billing.deliver(first)
    second = first.model_copy(update={"invoice_number": first.invoice_number + "/2"})
    await billing.deliver(customer.model_copy(update={"language": None}))
    await billing.deliver(second)

    assert [
        (d["invoice_number"], d["language"])
        for d in await deliveries(billing, customer.customer_id)
    ] == [(first.invoice_number, "uk"), (second.invoice_number, "pl")]


async def test_no_e_invoice_without_consent_on(billing: ServiceHandlers) -> None:
    for state, address in ((None, None), ("pending", None), ("off", None)):
        customer, _, first = feed(secrets.token_hex(4))
        await billing.deliver(customer)
        if state is not None:
            await consent(billing, customer.customer_id, state, address)

        await billing.deliver(first)

        assert await deliveries(billing, customer.customer_id) == [], state
        assert await issued_flags(billing, first.invoice_number) == [False], state


async def test_a_re_sent_invoice_keeps_what_it_had(billing: ServiceHandlers) -> None:
    # Issued before the consent: paper, also when the ERP corrects it after consent is on.
    customer, contract, paper = feed(secrets.token_hex(4))
    await billing.deliver(customer)
    await billing.deliver(contract)
    await billing.deliver(paper)
    await consent(billing, customer.customer_id, "on", "nowy@example.com")
    await billing.deliver(paper.model_copy(update={"due_on": paper.due_on + timedelta(days=1)}))
    assert await issued_flags(billing, paper.invoice_number) == [False, False]
    # Issued with consent on: an e-invoice, also when corrected after consent is withdrawn.
    sent = paper.model_copy(update={"invoice_number": paper.invoice_number + "/E"})
    await billing.deliver(sent)
    await consent(billing, customer.customer_id, "off")
    await billing.deliver(sent.model_copy(update={"due_on": sent.due_on + timedelta(days=1)}))
    assert await issued_flags(billing, sent.invoice_number) == [True, True]

    assert [d["invoice_number"] for d in await deliveries(billing, customer.customer_id)] == [
        sent.invoice_number
    ]


async def test_a_batch_of_invoices_of_several_customers(billing: ServiceHandlers) -> None:
    on, first_on, _ = await customer_with_consent(billing)
    off, _, first_off = feed(secrets.token_hex(4))
    await billing.deliver(off)
    known = first_on.model_copy(update={"invoice_number": first_on.invoice_number + "/K"})
    await billing.deliver(known)  # known before the batch: its delivery is there already

    await billing.deliver_batch([first_on, first_off, known])

    assert [d["invoice_number"] for d in await deliveries(billing, on.customer_id)] == sorted(
        [first_on.invoice_number, known.invoice_number]
    )
    assert await deliveries(billing, off.customer_id) == []
    assert await issued_flags(billing, first_on.invoice_number) == [True]
    assert await issued_flags(billing, first_off.invoice_number) == [False]
    assert await issued_flags(billing, known.invoice_number) == [True, True]


# --- the delivery loop ----------------------------------------------------------------------


async def test_the_delivery_loop_publishes_the_invoice_pdf_once(billing: ServiceHandlers) -> None:
    customer, first, address = await customer_with_consent(billing, language="ru")
    await billing.deliver(first)

    await deliver_all(billing)
    await deliver_all(billing)  # nothing waits any more

    [event] = await e_invoices(billing, first.invoice_number)
    assert {k: event[k] for k in ("customer_id", "email", "language", "filename")} == {
        "customer_id": customer.customer_id,
        "email": address,
        "language": "ru",
        "filename": pdf_filename(first.invoice_number),
    }
    assert (event["issued_on"], event["due_on"], event["gross"]) == (
        first.issued_on.isoformat(),
        first.due_on.isoformat(),
        "108.00",
    )
    text = "\n".join(
        page.extract_text() for page in PdfReader(io.BytesIO(base64.b64decode(event["pdf"]))).pages
    )
    assert f"Nr {first.invoice_number}" in text
    assert "108.00 PLN" in text
    assert customer.name in text
    [delivery] = await deliveries(billing, customer.customer_id)
    assert delivery["status"] == "sent"
    assert billing_events.EInvoiceIssued.model_validate(event).pdf == event["pdf"]


def test_the_file_name_keeps_to_safe_characters() -> None:
    assert pdf_filename("FV/2026/10/1001") == "faktura-FV_2026_10_1001.pdf"
    assert pdf_filename("FV 2026/ż") == "faktura-FV_2026__.pdf"


async def test_an_invoice_that_cannot_be_made_fails_alone(billing: ServiceHandlers) -> None:
    customer, first, _ = await customer_with_consent(billing)
    second = first.model_copy(update={"invoice_number": first.invoice_number + "/2"})
    await billing.deliver_batch([first, second])
    # The ERP moved the first to another customer before it went: not to this address.
    await billing.deliver(first.model_copy(update={"customer_id": "C-ELSEWHERE"}))

    await deliver_all(billing)

    failed, sent = await deliveries(billing, customer.customer_id)
    assert (failed["invoice_number"], failed["status"]) == (first.invoice_number, "failed")
    assert "not the customer's" in failed["error"]
    assert (sent["invoice_number"], sent["status"]) == (second.invoice_number, "sent")
    assert await e_invoices(billing, first.invoice_number) == []
    assert len(await e_invoices(billing, second.invoice_number)) == 1


async def test_the_outbox_forgets_a_published_pdf(billing: ServiceHandlers) -> None:
    _, first, _ = await customer_with_consent(billing)
    await billing.deliver(first)
    await deliver_all(billing)
    [row] = [
        r
        for r in await billing.fetch(
            "SELECT id, body FROM outbox WHERE routing_key = 'billing.e-invoice.issued'"
        )
        if first.invoice_number in r["body"]
    ]
    others = "SELECT count(*) FROM outbox WHERE routing_key <> 'billing.e-invoice.issued'"
    kept = await billing.fetchval(others)
    # The relay publishes it (and everything else).
    await billing.execute("UPDATE outbox SET published_at = now() WHERE published_at IS NULL")

    await loop(billing).step()

    assert await billing.fetchval("SELECT count(*) FROM outbox WHERE id = $1", row["id"]) == 0
    # Published events of other types wait for the retention purge as before.
    assert await billing.fetchval(others) == kept > 0


# --- due-date reminders ---------------------------------------------------------------------


def reminders(billing: ServiceHandlers, days: int) -> Reminders:
    """The scheduler of a billing (re)started with EBOK_REMINDER_DAYS_BEFORE_DUE = `days`."""
    settings = billing.settings.model_copy(update={"reminder_days_before_due": days})
    return Reminders(Database(billing.pool, "billing", settings))


async def a_pass(scheduler: Reminders) -> None:
    while await scheduler.step():
        pass


async def reminded(billing: ServiceHandlers) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in await billing.published("billing.invoice.due-soon"):
        counts[e.payload["invoice_number"]] = counts.get(e.payload["invoice_number"], 0) + 1
    return counts


async def test_an_unpaid_invoice_due_soon_is_reminded_once(infra: Infra, keys: Path) -> None:
    async with ServiceHandlers.open("billing", infra, keys) as billing:
        today = billing.settings.today()
        c = f"C-{secrets.token_hex(4)}"
        due_soon = invoice(c, "FV/R/SOON", today + timedelta(days=3), "100.00")
        due_today = invoice(c, "FV/R/TODAY", today, "50.00")
        too_late = invoice(c, "FV/R/LATER", today + timedelta(days=4), "100.00")
        overdue = invoice(c, "FV/R/OVERDUE", today - timedelta(days=1), "100.00")
        paid = invoice(c, "FV/R/PAID", today + timedelta(days=1), "70.00")
        partly = invoice(c, "FV/R/PART", today + timedelta(days=2), "80.00")
        for i in (due_soon, due_today, too_late, overdue, paid, partly):
            await billing.deliver(i)
        await billing.deliver(payment(c, "B-R-PAID", "70.00", paid.invoice_number))
        await billing.deliver(payment(c, "B-R-PART", "30.00", partly.invoice_number))

        await a_pass(reminders(billing, 3))

        assert await reminded(billing) == {"FV/R/SOON": 1, "FV/R/TODAY": 1, "FV/R/PART": 1}
        [soon] = [
            e.payload
            for e in await billing.published("billing.invoice.due-soon")
            if e.payload["invoice_number"] == "FV/R/PART"
        ]
        assert soon == {
            "invoice_number": "FV/R/PART",
            "customer_id": c,
            "contract_number": f"U-{c}",
            "due_on": (today + timedelta(days=2)).isoformat(),
            "gross": "80.00",
            "amount_due": "50.00",
        }
        scan = await billing.fetch("SELECT last_reminded, scans FROM reminder_scans")
        assert [tuple(r) for r in scan] == [(3, 1)]

        # Again, and from a billing started anew: nothing new, but each pass is recorded.
        await a_pass(reminders(billing, 3))
        scheduler = reminders(billing, 3)
        await a_pass(scheduler)
        await a_pass(scheduler)
        assert await reminded(billing) == {"FV/R/SOON": 1, "FV/R/TODAY": 1, "FV/R/PART": 1}
        scan = await billing.fetch("SELECT last_reminded, scans FROM reminder_scans")
        assert [tuple(r) for r in scan] == [(0, 4)]

        # A wider window takes the later one in, still once each.
        await a_pass(reminders(billing, 4))
        assert await reminded(billing) == {
            "FV/R/SOON": 1,
            "FV/R/TODAY": 1,
            "FV/R/PART": 1,
            "FV/R/LATER": 1,
        }


async def test_two_instances_remind_each_invoice_once(infra: Infra, keys: Path) -> None:
    async with ServiceHandlers.open("billing", infra, keys) as billing:
        today = billing.settings.today()
        c = f"C-{secrets.token_hex(4)}"
        batch = [
            invoice(c, f"FV/R2/{n:04d}", today + timedelta(days=n % 3), "10.00")
            for n in range(1200)  # more than one batch of a pass
        ]
        await billing.deliver_batch(batch)

        await asyncio.gather(a_pass(reminders(billing, 2)), a_pass(reminders(billing, 2)))

        counts = await reminded(billing)
        assert len(counts) == 1200 and set(counts.values()) == {1}
        assert await billing.fetchval("SELECT count(*) FROM invoice_reminders") == 1200


async def test_the_reminder_scan_reads_only_the_window(infra: Infra, keys: Path) -> None:
    async with ServiceHandlers.open("billing", infra, keys) as billing:
        today = billing.settings.today()
        await billing.execute(
            """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on,
                                     due_on, period_from, period_to, net, vat, gross)
               SELECT 'FV/O/' || n, 'C-' || n, 'U-' || n, $1::date - 30, $1::date - 1 - n % 300,
                      $1::date - 60, $1::date - 30, 10, 0, 10
                 FROM generate_series(1, 20000) n""",
            today,
        )
        c = f"C-{secrets.token_hex(4)}"
        await billing.deliver(invoice(c, "FV/W/1", today + timedelta(days=1), "10.00"))
        async with billing.pool.acquire() as conn, conn.transaction():
            before = await conn.fetchval(
                """SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
                     FROM pg_stat_xact_user_tables WHERE relname = 'invoices'"""
            )
            rows = await repository.remind_due(conn, today, today + timedelta(days=3), None, 500)
            after = await conn.fetchval(
                """SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
                     FROM pg_stat_xact_user_tables WHERE relname = 'invoices'"""
            )
        assert [r["invoice_number"] for r in rows] == ["FV/W/1"]
        assert after - before <= 5, f"{after - before} invoices read among 20,000 overdue"


# --- payments booked ------------------------------------------------------------------------


def activated(customer_id: str) -> identity_events.AccountActivated:
    return identity_events.AccountActivated(
        account_id=uuid.uuid4(),
        email=f"{customer_id.lower()}@example.com",
        language="pl",
        login=customer_id.lower(),
        customer_id=customer_id,
    )


async def test_a_booking_is_told_once(billing: ServiceHandlers) -> None:
    c = f"C-{secrets.token_hex(4)}"
    await billing.deliver(activated(c))  # a customer with an e-BOK account
    await billing.deliver(invoice(c, f"FV/P/{c}", date(2025, 1, 15), "100.00"))
    booking = payment(c, f"B-{c}", "40.00", f"FV/P/{c}")
    online = uuid.uuid4()
    booked_online = payment(c, f"B-{c}-online", "60.00", f"FV/P/{c}").model_copy(
        update={"reference": online, "channel": "card"}
    )

    await billing.deliver(booking)
    await billing.deliver(booking.model_copy(update={"amount": Decimal("45.00")}))  # corrected
    await billing.deliver_batch([booked_online, booked_online])

    told = [
        e.payload
        for e in await billing.published("billing.payment.booked")
        if e.payload["customer_id"] == c
    ]
    assert told == [
        {
            "booking_id": f"B-{c}",
            "customer_id": c,
            "booked_on": "2025-02-01",
            "amount": "40.00",
            "invoice_number": f"FV/P/{c}",
            "channel": "transfer",
            "reference": None,
        },
        {
            "booking_id": f"B-{c}-online",
            "customer_id": c,
            "booked_on": "2025-02-01",
            "amount": "60.00",
            "invoice_number": f"FV/P/{c}",
            "channel": "card",
            "reference": str(online),
        },
    ]


async def test_bookings_of_customers_without_an_account_are_not_told(
    billing: ServiceHandlers,
) -> None:
    """No one would be told of them (identity asks for receipts for accounts only): most of the
    feed's bookings are of customers who never registered."""
    registered, unregistered = (f"C-{secrets.token_hex(4)}" for _ in range(2))
    await billing.deliver(activated(registered))
    await billing.deliver_batch(
        [
            payment(registered, f"B-{registered}", "10.00", None),
            payment(unregistered, f"B-{unregistered}", "10.00", None),
        ]
    )

    told = {
        e.payload["customer_id"]
        for e in await billing.published("billing.payment.booked")
        if e.payload["customer_id"] in (registered, unregistered)
    }
    assert told == {registered}
