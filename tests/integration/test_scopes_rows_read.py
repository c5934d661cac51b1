"""A manager's views read the granted customers' rows, not everyone's: with 5,000 other customers
and 5,000 other managers' grants on record, the partial grant's statements, the grant lookups and
a portfolio page — under the generic plans the services force — read a bounded number of rows,
counted by PostgreSQL itself (pg_stat_xact_user_tables)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path

import asyncpg
import pytest_asyncio

from services.billing import portfolio, repository
from shared import grants
from shared.api.paging import Position
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

OTHERS = 5_000
MANAGER = uuid.UUID("00000000-0000-0000-0000-000000000777")
PORTFOLIO = 20  # customers C-1 … C-20 fully, C-777 partly


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def billing(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("billing", infra, keys) as handlers:
        statements = [
            """INSERT INTO customers (customer_id, name, kind, address)
               SELECT 'C-' || n, 'Klient ' || n, 'person',
                      '{"street": "Wodna", "building": "1", "postal_code": "00-950",
                        "city": "Warszawa"}'::jsonb
                 FROM generate_series(1, $1) n""",
            """INSERT INTO contracts (contract_number, customer_id, signed_on, status)
               SELECT 'U-' || n || '-' || k, 'C-' || n, DATE '2020-01-01', 'active'
                 FROM generate_series(1, $1) n, generate_series(1, 2) k""",
            """INSERT INTO service_points (service_point_id, contract_number, address,
                                           meter_number)
               SELECT 'SP-' || n || '-' || k, 'U-' || n || '-' || k,
                      jsonb_build_object('street', 'Ulica ' || n, 'building', k::text,
                                         'postal_code', '00-950', 'city', 'Warszawa'),
                      'M-' || n || '-' || k
                 FROM generate_series(1, $1) n, generate_series(1, 2) k""",
            """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on,
                                     due_on, period_from, period_to, net, vat, gross)
               SELECT 'FV/' || n || '/' || k || '/' || m, 'C-' || n, 'U-' || n || '-' || k,
                      DATE '2026-01-01' + m * 30, DATE '2026-01-15' + m * 30,
                      DATE '2026-01-01', DATE '2026-01-31', 100, 8, 108
                 FROM generate_series(1, $1) n, generate_series(1, 2) k, generate_series(1, 3) m""",
            """INSERT INTO payments (booking_id, customer_id, booked_on, amount, invoice_number,
                                     channel)
               SELECT 'B-' || n || '-' || k, 'C-' || n, DATE '2026-02-01', 50,
                      'FV/' || n || '/' || k || '/1', 'transfer'
                 FROM generate_series(1, $1) n, generate_series(1, 2) k""",
            # and each an online payment of an invoice, awaiting the ERP's booking
            """INSERT INTO payments (booking_id, customer_id, booked_on, amount, invoice_number,
                                     channel, reference, awaiting_booking)
               SELECT 'online:' || md5('online-' || n)::uuid || ':1', 'C-' || n,
                      DATE '2026-02-02', 108, 'FV/' || n || '/1/3', 'card',
                      md5('online-' || n)::uuid, true
                 FROM generate_series(1, $1) n""",
            """INSERT INTO notes (note_number, customer_id, kind, issued_on, amount, description,
                                  invoice_number)
               SELECT 'NO-' || n || '-' || k, 'C-' || n, 'interest', DATE '2026-03-01', 1,
                      'Odsetki', 'FV/' || n || '/' || k || '/2'
                 FROM generate_series(1, $1) n, generate_series(1, 2) k""",
            # Other managers' grants, one customer each, and this manager's portfolio.
            """INSERT INTO access_grants (manager_account_id, customer_id, scope, revoked,
                                          revision, changed_at)
               SELECT gen_random_uuid(), 'C-' || n, 'full', false, 1, now()
                 FROM generate_series(1, $1) n""",
        ]
        for sql in statements:
            await handlers.execute(sql, OTHERS + 1)
        await handlers.execute(
            """INSERT INTO access_grants (manager_account_id, customer_id, scope,
                                          service_point_ids, revoked, revision, changed_at)
               SELECT $1::uuid, 'C-' || n, 'full', '{}'::text[], false, 1, now()
                 FROM generate_series(1, $2) n
               UNION ALL
               SELECT $1::uuid, 'C-777', 'partial', '{SP-777-2}', false, 1, now()""",
            MANAGER,
            PORTFOLIO,
        )
        await handlers.execute("ANALYZE")
        yield handlers


async def rows_read(
    conn: asyncpg.Connection, call: Callable[[asyncpg.Connection], Awaitable]
) -> dict[str, int]:
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


async def measure(
    billing: ServiceHandlers, views: dict[str, Callable[[asyncpg.Connection], Awaitable]]
) -> dict[str, dict[str, int]]:
    found = {}
    async with billing.pool.acquire() as conn:  # force_generic_plan, enable_seqscan off
        for name, call in views.items():
            await call(conn)  # prepared (generic plan) before it is measured
            found[name] = await rows_read(conn, call)
    return found


async def test_a_partial_grants_views_read_only_the_granted_part(billing: ServiceHandlers) -> None:
    today = date(2026, 11, 26)
    async with billing.pool.acquire() as conn:
        part = await repository.granted_part(conn, "C-777", ["SP-777-2"])
    assert part.contracts == ["U-777-2"]
    assert part.invoices == [f"FV/777/2/{m}" for m in (1, 2, 3)]
    views: dict[str, Callable[[asyncpg.Connection], Awaitable]] = {
        "grant": lambda c: grants.grant(c, MANAGER, "C-777"),
        "some grants": lambda c: grants.some_grants(c, MANAGER, 2),
        "granted part": lambda c: repository.granted_part(c, "C-777", ["SP-777-2"]),
        "contracts": lambda c: repository.partial_contracts(c, part),
        "balance": lambda c: repository.partial_balance(c, part, today),
        "summary": lambda c: repository.points_summary(c, "C-777", ["SP-777-2"], today, 5),
    }
    since = (date(2026, 3, 1), "X")
    for position in (None, Position(since), Position(since, newer=True)):
        views |= {
            f"invoices from {position}": lambda c, p=position: repository.partial_invoices_page(
                c,
                part,
                today,
                status=None,
                period_from=None,
                period_to=None,
                position=p,
                limit=20,
            ),
            f"payments from {position}": lambda c, p=position: repository.partial_payments_page(
                c, part, p, 20
            ),
            f"notes from {position}": lambda c, p=position: repository.partial_notes_page(
                c, part, p, 20
            ),
        }
    for name, read in (await measure(billing, views)).items():
        assert sum(read.values()) <= 30, f"{name} read {read} for one granted service point"


async def test_a_portfolio_page_reads_the_managers_customers_only(billing: ServiceHandlers) -> None:
    today = date(2026, 11, 26)
    views: dict[str, Callable[[asyncpg.Connection], Awaitable]] = {
        "first page": lambda c: portfolio.portfolio_page(c, MANAGER, today, None, None, 20),
        "next page": lambda c: portfolio.portfolio_page(
            c, MANAGER, today, None, Position(("C-19",)), 20
        ),
        "search": lambda c: portfolio.portfolio_page(c, MANAGER, today, "ulica 777", None, 20),
    }
    async with billing.pool.acquire() as conn:
        rows, more = await portfolio.portfolio_page(conn, MANAGER, today, None, None, 20)
        assert len(rows) == 20 and more
        found, _ = await portfolio.portfolio_page(conn, MANAGER, today, "ulica 777", None, 20)
        assert [(r["customer_id"], r["scope"]) for r in found] == [("C-777", "partial")]
        [partial] = found
        assert partial["balance"] == -(3 * 108 + 1 - 50)
    # Per customer at most: its row and grant, 2 contracts, 4 points, 6 invoices, 2 payments,
    # 2 notes (each read once or twice by the statement's parts).
    for name, read in (await measure(billing, views)).items():
        assert sum(read.values()) <= 21 * 40, f"{name} read {read}"
        assert read.get("access_grants", 0) <= 25, f"{name} read {read}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def metering(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("metering", infra, keys) as handlers:
        await handlers.execute(
            """INSERT INTO meters (meter_number, service_point_id, customer_id, contract_number,
                                   address, contract_signed_on, installed_on, removed_on)
               SELECT 'M-' || n || '-' || k, 'SP-' || n || '-' || (1 + k / 3), 'C-' || n,
                      'U-' || n, '{}'::jsonb, DATE '2020-01-01', DATE '2020-01-01',
                      CASE WHEN k % 3 = 1 THEN DATE '2024-01-01' END
                 FROM generate_series(1, $1) n, generate_series(0, 5) k""",
            OTHERS + 1,
        )
        await handlers.execute(
            """INSERT INTO readings (meter_number, read_at, value, source)
               SELECT m.meter_number, TIMESTAMPTZ '2023-01-01' + make_interval(days => d), d,
                      'remote'
                 FROM meters m, generate_series(1, 5) d""",
        )
        await handlers.execute("ANALYZE")
        yield handlers


async def test_a_partial_grants_meters_are_read_by_service_point(
    metering: ServiceHandlers,
) -> None:
    from services.metering import repository as meters

    async with metering.pool.acquire() as conn:
        found = await meters.customer_meters(conn, ["C-777"], ["SP-777-2"])
        # SP-777-2 holds meters 3, 4 (taken off) and 5
        assert sorted(r["meter_number"] for r in found) == ["M-777-3", "M-777-4", "M-777-5"]
        assert (
            await meters.customer_meter(conn, ["C-777"], "M-777-1", service_point_ids=["SP-777-2"])
            is None
        )
    views: dict[str, Callable[[asyncpg.Connection], Awaitable]] = {
        "meters": lambda c: meters.customer_meters(c, ["C-777"], ["SP-777-2"]),
        "meter": lambda c: meters.customer_meter(
            c, ["C-777"], "M-777-4", service_point_ids=["SP-777-2"]
        ),
    }
    for name, read in (await measure(metering, views)).items():
        assert sum(read.values()) <= 10, f"{name} read {read} for one granted service point"
