"""A customer's views read that customer's rows, not everyone's: with 20,000 other customers on
record, every billing and metering query behind a customer's view — under the generic plans the
services force — reads a bounded number of rows, counted by PostgreSQL itself
(pg_stat_xact_user_tables) or read from the plan."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest_asyncio

from services.billing.repository import SUMMARY_SQL
from shared.api.paging import Position
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

OTHERS = 20_000


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def billing(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("billing", infra, keys) as handlers:
        await handlers.execute(
            """INSERT INTO contracts (contract_number, customer_id, signed_on, status)
               SELECT 'U-' || n, 'C-' || n, DATE '2020-01-01', 'active'
                 FROM generate_series(1, $1) n""",
            OTHERS + 1,
        )
        await handlers.execute(
            """INSERT INTO service_points (service_point_id, contract_number, address,
                                           meter_number)
               SELECT 'SP-' || n || '-' || k, 'U-' || n,
                      '{"street": "Wodna", "building": "1", "postal_code": "00-950",
                        "city": "Warszawa"}'::jsonb,
                      'M-' || n || '-' || k
                 FROM generate_series(1, $1) n, generate_series(1, 2) k""",
            OTHERS + 1,
        )
        await handlers.execute("ANALYZE")
        yield handlers


def scans_of(plan: dict, table: str) -> Iterator[dict]:
    if plan.get("Relation Name") == table:
        yield plan
    for child in plan.get("Plans", []):
        yield from scans_of(child, table)


async def test_the_dashboard_summary_reads_one_customers_service_points(
    billing: ServiceHandlers,
) -> None:
    async with billing.pool.acquire() as conn:  # plan_cache_mode=force_generic_plan
        await conn.execute(f"PREPARE summary(text[], date, int) AS {SUMMARY_SQL}")
        try:
            # (EXECUTE takes no bind parameters: literals, as a client's would be bound)
            [[raw]] = await conn.fetch(
                "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE summary('{C-777}', '2026-11-26', 5)"
            )
        finally:
            await conn.execute("DEALLOCATE summary")
    plan = json.loads(raw)[0]["Plan"]
    scans = list(scans_of(plan, "service_points"))
    assert scans, "the summary reads service points"
    read = sum(
        (s["Actual Rows"] + s.get("Rows Removed by Filter", 0)) * s["Actual Loops"] for s in scans
    )
    assert read <= 10, (
        f"{read} service point rows read for one customer: {json.dumps(scans)[:2000]}"
    )


async def rows_read(conn, call) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The rows `call` read from each table, from PostgreSQL's own counters on the service's
    pooled connection: pg_stat_xact_user_tables before and after it, in one transaction (the
    view also holds what earlier statements of the backend have not flushed yet)."""

    async def counts() -> dict[str, int]:
        rows = await conn.fetch(
            """SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
                 FROM pg_stat_xact_user_tables"""
        )
        return {r["relname"]: r["n"] for r in rows}

    async with conn.transaction():
        before = await counts()
        await call(conn)
        after = await counts()
    return {t: n - before.get(t, 0) for t, n in after.items() if n - before.get(t, 0)}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def billing_lists(billing: ServiceHandlers) -> ServiceHandlers:
    await billing.execute(
        """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on, due_on,
                                 period_from, period_to, net, vat, gross)
           SELECT 'FV/' || n || '/' || k, 'C-' || n, 'U-' || n, DATE '2026-01-01' + k * 30,
                  DATE '2026-01-15' + k * 30, DATE '2026-01-01', DATE '2026-01-31', 100, 8, 108
             FROM generate_series(1, $1) n, generate_series(1, 3) k""",
        OTHERS + 1,
    )
    await billing.execute(
        """INSERT INTO payments (booking_id, customer_id, booked_on, amount, channel)
           SELECT 'B-' || n, 'C-' || n, DATE '2026-02-01', 50, 'transfer'
             FROM generate_series(1, $1) n""",
        OTHERS + 1,
    )
    await billing.execute(
        """INSERT INTO notes (note_number, customer_id, kind, issued_on, amount, description)
           SELECT 'NO-' || n, 'C-' || n, 'interest', DATE '2026-03-01', 1, 'Odsetki'
             FROM generate_series(1, $1) n""",
        OTHERS + 1,
    )
    # Everyone has paid an invoice online, awaiting the ERP's booking (invoices say so).
    await billing.execute(
        """INSERT INTO payments (booking_id, customer_id, booked_on, amount, invoice_number,
                                 channel, reference, awaiting_booking)
           SELECT 'online:' || md5('online-' || n)::uuid || ':1', 'C-' || n, DATE '2026-02-02',
                  108, 'FV/' || n || '/1', 'card', md5('online-' || n)::uuid, true
             FROM generate_series(1, $1) n""",
        OTHERS + 1,
    )
    await billing.execute("ANALYZE")
    return billing


async def test_every_billing_view_reads_only_its_customers_rows(
    billing_lists: ServiceHandlers,
) -> None:
    from services.billing import repository

    me, today = ["C-777"], date(2026, 11, 26)
    views = {
        "summary": lambda c: repository.summary(c, me, today, 5),
        "contracts": lambda c: repository.contracts(c, me),
        "balance": lambda c: repository.balance(c, me, today),
    }
    # Each list's first page, and its pages from a cursor either way (keyset paging).
    since = (date(2026, 2, 15), "X")
    for position in (None, Position(since), Position(since, newer=True)):
        views |= {
            f"invoices from {position}": lambda c, p=position: repository.invoices_page(
                c, me, today, status=None, period_from=None, period_to=None, position=p, limit=20
            ),
            f"payments from {position}": lambda c, p=position: repository.payments_page(
                c, me, p, 20
            ),
            f"notes from {position}": lambda c, p=position: repository.notes_page(c, me, p, 20),
        }
    async with billing_lists.pool.acquire() as conn:
        for name, call in views.items():
            await call(conn)  # prepared (generic plan) before it is measured
            read = await rows_read(conn, call)
            assert sum(read.values()) <= 40, f"{name} read {read} for one customer"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def metering(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("metering", infra, keys) as handlers:
        await handlers.execute(
            """INSERT INTO meters (meter_number, service_point_id, customer_id, contract_number,
                                   address, contract_signed_on, installed_on)
               SELECT 'M-' || n, 'SP-' || n, 'C-' || n, 'U-' || n, '{}'::jsonb,
                      DATE '2020-01-01', DATE '2020-01-01'
                 FROM generate_series(1, $1) n""",
            OTHERS + 1,
        )
        await handlers.execute(
            """INSERT INTO readings (meter_number, read_at, value, source)
               SELECT 'M-' || n, TIMESTAMPTZ '2026-01-01' + make_interval(days => d), d, 'remote'
                 FROM generate_series(1, $1) n, generate_series(1, 10) d""",
            OTHERS + 1,
        )
        await handlers.execute("ANALYZE")
        yield handlers


async def test_every_metering_view_reads_only_its_customers_rows(
    metering: ServiceHandlers,
) -> None:
    from services.metering import repository

    start = datetime(2020, 1, 1, tzinfo=UTC)
    views = {
        "meters": lambda c: repository.customer_meters(c, ["C-777"]),
        "meter": lambda c: repository.customer_meter(c, ["C-777"], "M-777"),
        "readings": lambda c: repository.readings_page(c, "M-777", start, start, None, None, 100),
        "readings from a cursor": lambda c: repository.readings_page(
            c, "M-777", start, start, None, Position((datetime(2026, 1, 6, tzinfo=UTC),)), 100
        ),
    }
    async with metering.pool.acquire() as conn:
        for name, call in views.items():
            await call(conn)
            read = await rows_read(conn, call)
            # the meter's 10 readings, each with the one before it, and counted once
            assert sum(read.values()) <= 40, f"{name} read {read} for one customer"


HOURLY = 43_800  # five years of hourly readings


async def test_a_page_of_readings_reads_a_page_wherever_it_lies(metering: ServiceHandlers) -> None:
    """A meter with five years of hourly readings: the first page, one from the middle and the
    last (from the cursor of the reading before the oldest) each read the page, one more reading
    to know whether there are more, and the reading before the oldest for its consumption."""
    from services.metering import repository

    first = datetime(2020, 1, 1, tzinfo=UTC)
    await metering.execute(
        """INSERT INTO meters (meter_number, service_point_id, customer_id, contract_number,
                               address, contract_signed_on, installed_on)
           VALUES ('M-HOURLY', 'SP-HOURLY', 'C-777', 'U-777', '{}', DATE '2020-01-01',
                   DATE '2020-01-01')"""
    )
    await metering.execute(
        """INSERT INTO readings (meter_number, read_at, value, source)
           SELECT 'M-HOURLY', $1::timestamptz + make_interval(hours => h), h, 'remote'
             FROM generate_series(0, $2 - 1) h""",
        first,
        HOURLY,
    )
    await metering.execute("ANALYZE readings")
    hour = timedelta(hours=1)
    limit = 100
    pages = {
        "first": None,
        "middle": Position((first + hour * (HOURLY // 2),)),
        "last": Position((first + hour * limit,)),
        "newer from the last": Position((first + hour * (limit - 1),), newer=True),
    }
    async with metering.pool.acquire() as conn:
        for name, position in pages.items():

            async def call(c, p=position):  # type: ignore[no-untyped-def]
                return await repository.readings_page(c, "M-HOURLY", first, first, None, p, limit)

            rows, _ = await call(conn)
            assert len(rows) == limit, name
            read = await rows_read(conn, call)
            assert sum(read.values()) <= limit + 2, f"the {name} page read {read}"
        last, more = await repository.readings_page(
            conn, "M-HOURLY", first, first, None, pages["last"], limit
        )
    assert not more and last[-1]["read_at"] == first and last[-1]["consumption"] is None
    assert [r["consumption"] for r in last[:-1]] == [1] * (limit - 1)


async def test_a_page_of_invoices_reads_a_page_wherever_it_lies(
    billing_lists: ServiceHandlers,
) -> None:
    """A customer with 2,000 invoices, two on each day: the first page, one from the middle
    and the last each read the page and one more invoice (to know whether there are more).
    (A filtered list reads at most the customer's invoices past the cursor, in whichever order
    the generic plan finds them.)"""
    from services.billing import repository

    many = 2_000
    await billing_lists.execute(
        """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on, due_on,
                                 period_from, period_to, net, vat, gross)
           SELECT 'FV/M/' || n, 'C-MANY', 'U-MANY', DATE '2020-01-01' + n / 2,
                  DATE '2030-01-01', DATE '2020-01-01', DATE '2020-01-31', 100, 8, 108
             FROM generate_series(0, $1 - 1) n""",
        many,
    )
    await billing_lists.execute("ANALYZE invoices")
    me, today, limit = ["C-MANY"], date(2026, 11, 26), 20
    # The invoice numbers sort as text: FV/M/10 < FV/M/11 < FV/M/9, all the same to the key.
    oldest = await billing_lists.fetch(
        """SELECT issued_on, invoice_number FROM invoices WHERE customer_id = 'C-MANY'
            ORDER BY issued_on, invoice_number LIMIT $1""",
        limit + 1,
    )
    middle = await billing_lists.fetch(
        """SELECT issued_on, invoice_number FROM invoices WHERE customer_id = 'C-MANY'
            ORDER BY issued_on, invoice_number OFFSET $1 LIMIT 1""",
        many // 2,
    )
    pages = {
        "first": None,
        "middle": Position(tuple(middle[0])),
        "last": Position(tuple(oldest[limit])),
        "newer from the last": Position(tuple(oldest[limit - 1]), newer=True),
    }
    async with billing_lists.pool.acquire() as conn:
        for name, position in pages.items():

            async def call(c, p=position):  # type: ignore[no-untyped-def]
                return await repository.invoices_page(
                    c,
                    me,
                    today,
                    status=None,
                    period_from=None,
                    period_to=None,
                    position=p,
                    limit=limit,
                )

            rows, _ = await call(conn)
            assert len(rows) == limit, name
            read = await rows_read(conn, call)
            assert sum(read.values()) <= limit + 1, f"the {name} page read {read}"
        last, more = await repository.invoices_page(
            conn,
            me,
            today,
            status=None,
            period_from=None,
            period_to=None,
            position=pages["last"],
            limit=limit,
        )
    assert not more
    assert [(r["issued_on"], r["invoice_number"]) for r in last] == [
        tuple(r) for r in reversed(oldest[:limit])
    ]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def payments_db(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    """Payments with 20,000 other customers, each with three invoices, billing's paid amount of
    one, and an online payment of another that billing does not count yet."""
    async with ServiceHandlers.open("payments", infra, keys) as handlers:
        await handlers.execute(
            """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on,
                                     due_on, gross)
               SELECT 'FV/' || n || '/' || k, 'C-' || n, 'U-' || n, DATE '2026-01-01' + k * 30,
                      DATE '2026-01-15' + k * 30, 108
                 FROM generate_series(1, $1) n, generate_series(1, 3) k""",
            OTHERS + 1,
        )
        await handlers.execute(
            """INSERT INTO invoice_paid (invoice_number, paid, as_of)
               SELECT 'FV/' || n || '/1', 108, now() FROM generate_series(1, $1) n""",
            OTHERS + 1,
        )
        await handlers.execute(
            """INSERT INTO payments (payment_id, customer_id, account_id, idempotency_key,
                                     request_hash, amount, method, return_url, provider, status)
               SELECT md5('pay-' || n)::uuid, 'C-' || n, md5('acc-' || n)::uuid, 'key-' || n,
                      'h', 50, 'blik', 'https://e-bok.test/', 'p24', 'paid'
                 FROM generate_series(1, $1) n""",
            OTHERS + 1,
        )
        await handlers.execute(
            """INSERT INTO payment_invoices (payment_id, invoice_number, amount)
               SELECT md5('pay-' || n)::uuid, 'FV/' || n || '/2', 50
                 FROM generate_series(1, $1) n""",
            OTHERS + 1,
        )
        await handlers.execute("ANALYZE")
        yield handlers


async def test_what_is_due_and_billing_s_paid_amounts_read_only_their_customers_rows(
    payments_db: ServiceHandlers,
) -> None:
    import uuid

    from services.payments import repository
    from shared.events import billing

    me = "C-777"
    mine = uuid.UUID(await payments_db.fetchval("SELECT md5('pay-777')::uuid::text"))
    settled = billing.InvoiceSettled(
        invoice_number="FV/777/2",
        customer_id=me,
        paid=Decimal("50.00"),
        gross=Decimal("108.00"),
        online_payment_ids=[mine],
    )
    calls = {
        "all due": lambda c: repository.due_invoices(c, me, None, None),
        "named": lambda c: repository.due_invoices(c, me, ["FV/777/1", "FV/777/2"], None),
        "a partial grant's": lambda c: repository.due_invoices(c, me, None, ["U-777"]),
        "billing's paid amount": lambda c: repository.record_settlements(
            c, [(datetime.now(UTC), settled)]
        ),
    }
    async with payments_db.pool.acquire() as conn:
        for name, call in calls.items():
            await call(conn)  # prepared (generic plan) before it is measured
            read = await rows_read(conn, call)
            assert sum(read.values()) <= 40, f"{name} read {read} for one customer"
        # And it says what is due: FV/777/1 paid by billing, FV/777/2 by our payment (counted).
        due = {d.invoice_number: d.due for d in await repository.due_invoices(conn, me, None, None)}
    assert due == {"FV/777/1": 0, "FV/777/2": Decimal("58.00"), "FV/777/3": Decimal("108.00")}
