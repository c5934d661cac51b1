"""A customer's dashboard reads that customer's rows, not everyone's: with tens of thousands of
other customers on record, the billing summary's generic plan (the services force generic
plans) touches a bounded number of service points."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
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
