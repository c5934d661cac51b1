"""The feed's cost per message does not grow with the number of customers: with 20,000 other
customers on record and statistics never gathered since (as right after a load, autovacuum off),
a batch of one customer's feed, corrections included, reads a bounded number of rows from every
table — counted by PostgreSQL itself (pg_stat_xact_user_tables) on the service's own pooled
connection, under the generic plans the services force. Those plans were made while the tables
were empty, as in a service that started on a new database and has fed it since: every
connection of the pool ran a batch before the others were loaded, and keeps its plans."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest_asyncio

from shared.envelope import new_envelope
from shared.events import Event, billing, erp, payments
from shared.messaging.consumer import Many, Subscription, handle_each
from shared.tx import Tx
from tests.integration.test_handlers_billing import invoice, note, online_payment, payment
from tests.support.erp import address
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

OTHERS = 20_000
# Rows one batch may read from any one table: its own keys' rows and their neighbours in the
# index, never a scan.
BOUND = 60

ADDRESS = '{"street": "Wodna", "building": "1", "postal_code": "00-950", "city": "Warszawa"}'


async def others(
    handlers: ServiceHandlers, statements: list[str], warm_up: list[Event]
) -> ServiceHandlers:
    await plan_while_empty(handlers, warm_up)
    for statement in statements:
        await handlers.execute(statement.replace("$ADDRESS", ADDRESS), OTHERS)
    return handlers  # no ANALYZE: the planner knows nothing of these rows


async def plan_while_empty(handlers: ServiceHandlers, batch: list[Event]) -> None:
    """Every pooled connection handles `batch` (rolled back) while the tables are empty: the
    generic plan of each statement is made now and kept by the connection."""
    conns = [await handlers.pool.acquire() for _ in range(handlers.settings.db_pool_max)]
    try:
        for conn in conns:
            transaction = conn.transaction()
            await transaction.start()
            try:
                for subscription in handlers.subscriptions:
                    await handle_batch(conn, handlers, subscription, batch)
            finally:
                await transaction.rollback()
    finally:
        for conn in conns:
            await handlers.pool.release(conn)


async def handle_batch(
    conn: asyncpg.Connection,
    handlers: ServiceHandlers,
    subscription: Subscription,
    batch: list[Event],
) -> None:
    """`batch` through `subscription`'s handlers as one batch, then what they left for the
    commit."""
    tx = Tx(conn, handlers.service, handlers.settings, "q", [])
    for model, handler in subscription.handlers.items():
        mine = [(new_envelope(p.TYPE, p, "test"), p) for p in batch if isinstance(p, model)]
        if mine:
            many = handler if isinstance(handler, Many) else handle_each(handler)
            await many.handle(tx, mine)
    await tx.finish()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def billing_db(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("billing", infra, keys) as handlers:
        yield await others(
            handlers,
            [
                """INSERT INTO customers (customer_id, name, kind, address)
                   SELECT 'C-' || n, 'Klient ' || n, 'person', '$ADDRESS'::jsonb
                     FROM generate_series(1, $1) n""",
                """INSERT INTO contracts (contract_number, customer_id, signed_on, status)
                   SELECT 'U-C-' || n, 'C-' || n, DATE '2020-01-01', 'active'
                     FROM generate_series(1, $1) n""",
                """INSERT INTO service_points (service_point_id, contract_number, address,
                                               meter_number)
                   SELECT 'SP-' || n, 'U-C-' || n, '$ADDRESS'::jsonb, 'M-' || n
                     FROM generate_series(1, $1) n""",
                """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on,
                                         due_on, period_from, period_to, net, vat, gross)
                   SELECT 'FV/' || n || '/' || k, 'C-' || n, 'U-C-' || n, DATE '2025-01-01',
                          DATE '2025-01-15', DATE '2024-12-01', DATE '2024-12-31', 100, 0, 100
                     FROM generate_series(1, $1) n, generate_series(1, 3) k""",
                """INSERT INTO invoice_lines (invoice_number, position, description, quantity,
                                              unit, unit_price, net, vat_rate)
                   SELECT 'FV/' || n || '/1', 1, 'Woda', 1, 'm3', 100, 100, 0
                     FROM generate_series(1, $1) n""",
                """INSERT INTO payments (booking_id, customer_id, booked_on, amount, channel)
                   SELECT 'B-' || n, 'C-' || n, DATE '2025-02-01', 50, 'transfer'
                     FROM generate_series(1, $1) n""",
                """INSERT INTO notes (note_number, customer_id, kind, issued_on, amount,
                                      description)
                   SELECT 'NO-' || n, 'C-' || n, 'credit', DATE '2025-03-01', 1, 'Korekta'
                     FROM generate_series(1, $1) n""",
                # Every customer has paid FV/n/2 online, awaiting the ERP's booking.
                """INSERT INTO online_payments (payment_id, customer_id, amount, invoices,
                                               method, provider, provider_transaction_id,
                                               paid_by_account_id, completed_at)
                   SELECT md5('online-' || n)::uuid, 'C-' || n, 100, '[]', 'card', 'p24',
                          'T-' || n, md5('account-' || n)::uuid, now()
                     FROM generate_series(1, $1) n""",
                """INSERT INTO payments (booking_id, customer_id, booked_on, amount,
                                         invoice_number, channel, reference, awaiting_booking)
                   SELECT 'online:' || md5('online-' || n)::uuid || ':1', 'C-' || n,
                          DATE '2025-02-02', 100, 'FV/' || n || '/2', 'card',
                          md5('online-' || n)::uuid, true
                     FROM generate_series(1, $1) n""",
            ],
            batch_for("C-WARM", 1),
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def identity_db(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("identity", infra, keys) as handlers:
        yield await others(
            handlers,
            [
                """INSERT INTO customers (customer_id, name)
                   SELECT 'C-' || n, 'Klient ' || n FROM generate_series(1, $1) n""",
                """INSERT INTO service_points (service_point_id, customer_id, contract_number,
                                               address)
                   SELECT 'SP-' || n, 'C-' || n, 'U-C-' || n, '$ADDRESS'::jsonb
                     FROM generate_series(1, $1) n""",
                """INSERT INTO invoices (invoice_number, customer_id, gross, issued_on)
                   SELECT 'FV/' || n || '/' || k, 'C-' || n, 100, DATE '2025-01-01'
                     FROM generate_series(1, $1) n, generate_series(1, 3) k""",
            ],
            billing_events(batch_for("C-WARM", 1)),
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def metering_db(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("metering", infra, keys) as handlers:
        yield await others(
            handlers,
            [
                """INSERT INTO meters (meter_number, service_point_id, customer_id,
                                       contract_number, address, contract_signed_on,
                                       installed_on, removed_on)
                   SELECT 'M-' || n || '-' || k, 'SP-' || n, 'C-' || n, 'U-C-' || n,
                          '$ADDRESS'::jsonb, DATE '2020-01-01', DATE '2020-01-01',
                          CASE WHEN k = 1 THEN DATE '2023-01-01' END
                     FROM generate_series(1, $1) n, generate_series(1, 2) k""",
            ],
            billing_events(batch_for("C-WARM", 1)),
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def payments_db(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("payments", infra, keys) as handlers:
        yield await others(
            handlers,
            [
                """INSERT INTO customers (customer_id, email, language)
                   SELECT 'C-' || n, 'c' || n || '@example.com', 'pl'
                     FROM generate_series(1, $1) n""",
                """INSERT INTO service_points (service_point_id, contract_number, customer_id)
                   SELECT 'SP-' || n, 'U-C-' || n, 'C-' || n FROM generate_series(1, $1) n""",
                """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on,
                                         due_on, gross)
                   SELECT 'FV/' || n || '/' || k, 'C-' || n, 'U-C-' || n, DATE '2025-01-01',
                          DATE '2025-01-15', 100
                     FROM generate_series(1, $1) n, generate_series(1, 3) k""",
                """INSERT INTO invoice_paid (invoice_number, paid, as_of)
                   SELECT 'FV/' || n || '/1', 50, now() FROM generate_series(1, $1) n""",
            ],
            billing_events(batch_for("C-WARM", 1)),
        )


def billing_events(feed: list[Event]) -> list[Event]:
    """What billing tells identity, metering and payments of `feed` (each invoice settled
    half paid)."""
    events: list[Event] = []
    for message in feed:
        if isinstance(message, erp.CustomerUpserted):
            events.append(billing.CustomerChanged.copy_of(message))
        elif isinstance(message, erp.ContractUpserted):
            events.append(billing.ContractChanged.copy_of(message))
        elif isinstance(message, erp.InvoiceIssued):
            events.append(billing.InvoiceIssued.copy_of(message))
            events.append(
                billing.InvoiceSettled(
                    invoice_number=message.invoice_number,
                    customer_id=message.customer_id,
                    paid=message.gross / 2,
                    gross=message.gross,
                )
            )
    return events


async def rows_read(handlers: ServiceHandlers, subscription: Subscription, batch: list[Event]):  # type: ignore[no-untyped-def]
    """Handle `batch` as one batch of `subscription` (its handlers, then what they left for the
    commit) on one pooled connection; the rows read from each table meanwhile."""

    async def counts() -> dict[str, int]:
        rows = await conn.fetch(
            """SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n,
                      coalesce(seq_scan, 0) AS scans
                 FROM pg_stat_xact_user_tables"""
        )
        return {r["relname"]: (r["n"], r["scans"]) for r in rows}

    async with handlers.pool.acquire() as conn, conn.transaction():
        before = await counts()
        await handle_batch(conn, handlers, subscription, batch)
        after = await counts()
    return {
        t: (n - before.get(t, (0, 0))[0], s - before.get(t, (0, 0))[1])
        for t, (n, s) in after.items()
        if (n, s) != before.get(t, (0, 0))
    }


def batch_for(new: str, n: int) -> list[Event]:
    """A new customer's whole feed, and corrections for customer `n` on record: its contract with
    the service point exchanged, an invoice re-sent without its line and moved to the new
    customer, its payment and credit note re-sent with other amounts."""
    known = f"C-{n}"
    feed: list[Event] = [
        erp.CustomerUpserted(
            customer_id=new, name="Nowy", kind="person", address=address(), language="pl"
        ),
        erp.ContractUpserted(
            contract_number=f"U-{new}",
            customer_id=new,
            signed_on=date(2024, 1, 1),
            status="active",
            service_points=[
                erp.ServicePoint(service_point_id=f"SP-{new}", address=address(), meter_number="M")
            ],
        ),
        erp.ContractUpserted(
            contract_number=f"U-{known}",
            customer_id=known,
            signed_on=date(2020, 1, 1),
            status="active",
            service_points=[
                erp.ServicePoint(
                    service_point_id=f"SP-{known}-2", address=address(), meter_number="N"
                )
            ],
        ),
    ]
    for month in range(1, 13):
        feed.append(invoice(new, f"FV/{new}/{month}", date(2025, month, 15), "100.00"))
        if month % 2:
            feed.append(payment(new, f"B-{new}-{month}", "100.00", f"FV/{new}/{month}"))
    feed += [
        invoice(new, f"FV/{n}/1", date(2025, 1, 15), "90.00"),
        payment(known, f"B-{n}", "60.00"),
        note(known, f"NO-{n}", "credit", "2.00"),
        # The ERP books the known customer's online payment, which replaces its entry.
        payment(known, f"B-{n}-online", "100.00", f"FV/{n}/2").model_copy(
            update={"reference": online_payment_id(n)}
        ),
        # The new customer pays two invoices online (payments queue).
        online_payment(new, "200.00", [(f"FV/{new}/2", "100.00"), (f"FV/{new}/4", "100.00")]),
    ]
    return feed


def online_payment_id(n: int) -> uuid.UUID:
    """The id of customer C-n's online payment on record (md5('online-' || n)::uuid)."""
    return uuid.UUID(hashlib.md5(f"online-{n}".encode()).hexdigest())  # noqa: S324


def assert_bounded(read: dict[str, tuple[int, int]]) -> None:
    for table, (rows, scans) in read.items():
        assert scans == 0 and rows <= BOUND, (
            f"{table}: {rows} rows read, {scans} sequential scans, among {OTHERS} customers"
        )


async def test_a_billing_feed_batch_reads_only_its_customers_rows(
    billing_db: ServiceHandlers,
) -> None:
    subscription = next(s for s in billing_db.subscriptions if s.purpose == "erp")
    read = await rows_read(billing_db, subscription, batch_for("C-NEW-1", 777))
    assert_bounded(read)
    assert read["invoices"][0] > 0, "the batch did read invoices (the counters count)"
    paid = await billing_db.fetch(
        "SELECT invoice_number, paid FROM invoices WHERE customer_id = 'C-777'"
    )
    # FV/777/1 went to the new customer; the booked online payment (replacing the entry that
    # stood for it) pays FV/777/2, the re-sent 60.00 and 2.00 what is due oldest first.
    assert {r["invoice_number"]: r["paid"] for r in paid} == {
        "FV/777/2": Decimal("100.00"),
        "FV/777/3": Decimal("62.00"),
    }
    assert (
        await billing_db.fetchval(
            "SELECT count(*) FROM payments WHERE reference = $1", online_payment_id(777)
        )
        == 1
    )
    assert (
        await billing_db.fetchval(
            "SELECT count(*) FROM invoice_lines WHERE invoice_number = 'FV/777/1'"
        )
        == 0
    )


async def test_an_online_payments_batch_reads_only_its_customers_rows(
    billing_db: ServiceHandlers,
) -> None:
    erp_feed = next(s for s in billing_db.subscriptions if s.purpose == "erp")
    await rows_read(billing_db, erp_feed, batch_for("C-NEW-4", 780))  # its invoices
    subscription = next(s for s in billing_db.subscriptions if s.purpose == "payments")
    batch = [p for p in batch_for("C-NEW-4", 780) if isinstance(p, payments.PaymentCompleted)]

    read = await rows_read(billing_db, subscription, batch)

    assert_bounded(read)
    assert read["payments"][0] > 0, "the batch did read payments (the counters count)"
    paid = await billing_db.fetch(
        "SELECT invoice_number, paid FROM invoices WHERE customer_id = 'C-NEW-4'"
        " AND paid > 0 ORDER BY invoice_number"
    )
    # Its own FV/1 (and the odd months' invoices) the ERP's payments paid; the online payment
    # the two it names.
    assert {r["invoice_number"] for r in paid} >= {"FV/C-NEW-4/2", "FV/C-NEW-4/4"}


async def test_an_identity_projection_batch_reads_only_its_customers_rows(
    identity_db: ServiceHandlers,
) -> None:
    subscription = next(s for s in identity_db.subscriptions if s.purpose == "billing-events")
    events = billing_events(batch_for("C-NEW-2", 778))
    read = await rows_read(identity_db, subscription, events)
    assert_bounded(read)
    assert (
        await identity_db.fetchval(
            "SELECT customer_id FROM invoices WHERE invoice_number = 'FV/778/1'"
        )
        == "C-NEW-2"
    )


async def test_a_metering_contract_batch_reads_only_its_contracts_rows(
    metering_db: ServiceHandlers,
) -> None:
    [subscription] = [s for s in metering_db.subscriptions if s.purpose == "contracts"]
    read = await rows_read(metering_db, subscription, billing_events(batch_for("C-NEW-3", 779)))
    assert_bounded(read)
    assert read["meters"][0] > 0, "the batch did read meters (the counters count)"
    meters = await metering_db.fetch(
        "SELECT meter_number, removed_on FROM meters WHERE contract_number = 'U-C-779'"
        " ORDER BY meter_number"
    )
    # The contract's service point was exchanged: its active meter is taken off, the one
    # taken off before stays as it was, and the new point's meter is in.
    assert [(m["meter_number"], m["removed_on"] is not None) for m in meters] == [
        ("M-779-1", True),
        ("M-779-2", True),
        ("N", False),
    ]


async def test_a_payments_projection_batch_reads_only_its_customers_rows(
    payments_db: ServiceHandlers,
) -> None:
    [subscription] = [s for s in payments_db.subscriptions if s.purpose == "billing-events"]
    read = await rows_read(payments_db, subscription, billing_events(batch_for("C-NEW-4", 780)))
    assert_bounded(read)
    assert read["service_points"][0] > 0, "the batch did read service points (the counters count)"
    assert (
        await payments_db.fetchval(
            "SELECT contract_number FROM service_points WHERE service_point_id = 'SP-C-780-2'"
        )
        == "U-C-780"
    )
