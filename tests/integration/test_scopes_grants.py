"""Every service with account views keeps managers' grants (shared/grants.py): the highest
revision of each manager and customer, whatever order the events arrive in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.scopes import GRANT_SERVICES, Scopes, start_scopes


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scopes(infra: Infra, keys: Path) -> AsyncIterator[Scopes]:
    async for running in start_scopes(infra, keys):
        yield running


async def rows(scopes: Scopes, manager: uuid.UUID) -> dict[str, list[tuple]]:
    found = {}
    for service in GRANT_SERVICES:
        conn = await scopes.platform.db(service)
        try:
            found[service] = [
                tuple(r)
                for r in await conn.fetch(
                    """SELECT customer_id, scope, service_point_ids, revoked, revision
                         FROM access_grants WHERE manager_account_id = $1 ORDER BY customer_id""",
                    manager,
                )
            ]
        finally:
            await conn.close()
    return found


async def test_the_highest_revision_wins_and_a_revocation_stays(scopes: Scopes) -> None:
    manager = uuid.uuid4()
    await scopes.grant(manager, "C-g1", ["SP-1"])
    await scopes.grant(manager, "C-g1")  # revision 2: full
    await scopes.grant(manager, "C-g1", ["SP-1"], revoked=True)  # revision 3
    assert await rows(scopes, manager) == {
        s: [("C-g1", "partial", ["SP-1"], True, 3)] for s in GRANT_SERVICES
    }
    # An older revision arriving late (or again) takes nothing back.
    scopes._revisions[(manager, "C-g1")] = 1
    await scopes.grant(manager, "C-g1", wait=False)  # revision 2 again
    await scopes.grant(manager, "C-g2")  # a later event behind it on the same queue
    await wait_until(
        lambda: _has(scopes, manager, "C-g2"), timeout=10, what="the second customer's grant"
    )
    found = await rows(scopes, manager)
    assert found == {
        s: [("C-g1", "partial", ["SP-1"], True, 3), ("C-g2", "full", [], False, 1)]
        for s in GRANT_SERVICES
    }


async def _has(scopes: Scopes, manager: uuid.UUID, customer: str) -> bool:
    found = await rows(scopes, manager)
    return all(any(r[0] == customer for r in v) for v in found.values())
