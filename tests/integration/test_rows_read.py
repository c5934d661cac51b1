"""A customer's views read that customer's rows, not everyone's: with 20,000 other customers on
record, every billing and metering query behind a customer's view — under the generic plans the
services force — reads a bounded number of rows, counted by PostgreSQL itself
(pg_stat_xact_user_tables) or read from the plan."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest_asyncio

from services.billing.repository import SUMMARY_SQL
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
        "invoices": lambda c: repository.invoices_page(
            c, me, today, status=None, period_from=None, period_to=None, limit=20, offset=0
        ),
        "payments": lambda c: repository.payments_page(c, me, 20, 0),
        "notes": lambda c: repository.notes_page(c, me, 20, 0),
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
        "readings": lambda c: repository.readings_page(c, "M-777", start, start, None, 100, 0),
    }
    async with metering.pool.acquire() as conn:
        for name, call in views.items():
            await call(conn)
            read = await rows_read(conn, call)
            # the meter's 10 readings, each with the one before it, and counted once
            assert sum(read.values()) <= 40, f"{name} read {read} for one customer"
