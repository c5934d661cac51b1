"""The feed's statements find their rows through an index, whatever the table holds and however
fresh the statistics: their cost per message does not grow with the number of customers.
(Billing's and identity's batch statements are held to that by tests/integration/
test_feed_rows_read.py, which counts the rows they read among 20,000 other customers.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

STATEMENTS = {
    "metering": [
        (
            """SELECT service_point_id, meter_number FROM meters
                WHERE removed_on IS NULL
                  AND (contract_number = $1 OR service_point_id = ANY($2::text[]))""",
            ["U-1", ["SP-1"]],
        ),
        ("UPDATE meters SET removed_on = $2 WHERE contract_number = $1", ["U-1", None]),
    ],
}


@pytest_asyncio.fixture(loop_scope="session", params=sorted(STATEMENTS))
async def service(
    request: pytest.FixtureRequest, infra: Infra, keys: Path
) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open(request.param, infra, keys) as handlers:
        yield handlers


async def test_feed_statements_use_an_index(service: ServiceHandlers) -> None:
    async with service.pool.acquire() as conn, conn.transaction():
        # A sequential scan is what the planner takes on an empty table; forbidding it shows
        # whether an index can serve the statement at all.
        await conn.execute("SET LOCAL enable_seqscan = off")
        for statement, args in STATEMENTS[service.service]:
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {statement}", *args))
            assert "Seq Scan" not in plan, f"{service.service}: {statement}\n{plan}"
