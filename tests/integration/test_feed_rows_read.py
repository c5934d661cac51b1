"""The feed's cost per message does not grow with the number of customers: with 20,000 other
customers on record and statistics never gathered since (as right after a load, autovacuum off),
a batch of one customer's feed, corrections included, reads a bounded number of rows from every
table — counted by PostgreSQL itself (pg_stat_xact_user_tables) on the service's own pooled
connection, under the generic plans the services force."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest_asyncio

from shared.events import Event, billing, erp
from shared.messaging.consumer import Subscription
from shared.tx import Tx
from tests.integration.test_handlers_billing import invoice, note, payment
from tests.support.erp import address
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

OTHERS = 20_000
# Rows one batch may read from any one table: its own keys' rows and their neighbours in the
# index, never a scan.
BOUND = 60

ADDRESS = '{"street": "Wodna", "building": "1", "postal_code": "00-950", "city": "Warszawa"}'


async def others(handlers: ServiceHandlers, statements: list[str]) -> ServiceHandlers:
    for statement in statements:
        await handlers.execute(statement.replace("$ADDRESS", ADDRESS), OTHERS)
    return handlers  # no ANALYZE: the planner knows nothing of these rows


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
            ],
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
        )


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
        tx = Tx(conn, handlers.service, handlers.settings, "q", [])
        before = await counts()
        for model, handler in subscription.handlers.items():
            mine = [(None, p) for p in batch if isinstance(p, model)]
            if mine:
                await handler.handle(tx, mine)  # type: ignore[union-attr]
        await tx.finish()
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
    ]
    return feed


def assert_bounded(read: dict[str, tuple[int, int]]) -> None:
    for table, (rows, scans) in read.items():
        assert scans == 0 and rows <= BOUND, (
            f"{table}: {rows} rows read, {scans} sequential scans, among {OTHERS} customers"
        )


async def test_a_billing_feed_batch_reads_only_its_customers_rows(
    billing_db: ServiceHandlers,
) -> None:
    [subscription] = billing_db.subscriptions
    read = await rows_read(billing_db, subscription, batch_for("C-NEW-1", 777))
    assert_bounded(read)
    assert read["invoices"][0] > 0, "the batch did read invoices (the counters count)"
    paid = await billing_db.fetch(
        "SELECT invoice_number, paid FROM invoices WHERE customer_id = 'C-777'"
    )
    # FV/777/1 went to the new customer; the re-sent 60.00 and 2.00 settle the oldest due.
    assert {r["invoice_number"]: r["paid"] for r in paid} == {
        "FV/777/2": Decimal("62.00"),
        "FV/777/3": Decimal("0.00"),
    }
    assert (
        await billing_db.fetchval(
            "SELECT count(*) FROM invoice_lines WHERE invoice_number = 'FV/777/1'"
        )
        == 0
    )


async def test_an_identity_projection_batch_reads_only_its_customers_rows(
    identity_db: ServiceHandlers,
) -> None:
    subscription = next(s for s in identity_db.subscriptions if s.purpose == "billing-events")
    feed = batch_for("C-NEW-2", 778)
    events: list[Event] = []
    for message in feed:
        if isinstance(message, erp.CustomerUpserted):
            events.append(billing.CustomerChanged.copy_of(message))
        elif isinstance(message, erp.ContractUpserted):
            events.append(billing.ContractChanged.copy_of(message))
        elif isinstance(message, erp.InvoiceIssued):
            events.append(billing.InvoiceIssued.copy_of(message))
    read = await rows_read(identity_db, subscription, events)
    assert_bounded(read)
    assert (
        await identity_db.fetchval(
            "SELECT customer_id FROM invoices WHERE invoice_number = 'FV/778/1'"
        )
        == "C-NEW-2"
    )
