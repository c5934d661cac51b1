"""Identity's handlers of the ERP's grants (erp.manager.granted / erp.manager.revoked) against
real PostgreSQL, without the broker: each change a new revision, published for the services and
copied for the back office; a redelivery or a fact sent again changes nothing."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.identity import repository
from shared.events import erp
from shared.events import identity as events
from shared.messaging.consumer import PermanentError
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def identity(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("identity", infra, keys) as handlers:
        yield handlers


async def manager(identity: ServiceHandlers) -> tuple[uuid.UUID, str]:
    account_id, login = uuid.uuid4(), f"e{secrets.randbelow(10**9):09d}"
    async with identity.pool.acquire() as conn:
        assert await repository.insert_account(
            conn,
            account_id=account_id,
            role="manager",
            status="active",
            login=login,
            email=f"{login}@example.com",
            phone=None,
            language="pl",
            password_hash="!",
            one_time_password_ttl_seconds=None,
        )
    return account_id, login


async def grant_events(identity: ServiceHandlers, account_id: uuid.UUID) -> list[dict]:
    return [
        e.payload
        for e in await identity.published(events.GrantChanged.TYPE)
        if e.payload["manager_account_id"] == str(account_id)
    ]


async def test_the_erp_grants_changes_and_revokes(identity: ServiceHandlers) -> None:
    account_id, login = await manager(identity)
    customer = f"C-{secrets.token_hex(4)}"
    granted = erp.ManagerGranted(
        manager_login=login.upper(),
        customer_id=customer,
        scope="partial",
        service_point_ids=["b", "a"],
    )
    await identity.assert_redelivery_changes_nothing(granted)
    # The same fact under a new message id: no new revision, nothing published.
    assert await identity.deliver(granted) == "handled"
    await identity.deliver(
        erp.ManagerGranted(manager_login=login, customer_id=customer, scope="full")
    )
    await identity.deliver(erp.ManagerRevoked(manager_login=login, customer_id=customer))
    await identity.deliver(erp.ManagerRevoked(manager_login=login, customer_id=customer))

    published = await grant_events(identity, account_id)
    assert [
        (e["revision"], e["scope"], e["service_point_ids"], e["revoked"]) for e in published
    ] == [
        (1, "partial", ["a", "b"], False),
        (2, "full", [], False),
        (3, "full", [], True),
    ]
    assert {e["changed_by"] for e in published} == {"erp"}
    copies = [
        e.payload["revision"]
        for e in await identity.published(events.ManagerGrantChanged.TYPE)
        if e.payload["manager_account_id"] == str(account_id)
    ]
    assert copies == [1, 2, 3]
    history = await identity.fetch(
        """SELECT revision, changed_by, revoked FROM grant_history
            WHERE manager_account_id = $1 ORDER BY revision""",
        account_id,
    )
    assert [tuple(r) for r in history] == [(1, "erp", False), (2, "erp", False), (3, "erp", True)]


async def test_a_login_that_is_no_managers_is_dead_lettered(identity: ServiceHandlers) -> None:
    with pytest.raises(PermanentError, match="no manager account"):
        await identity.deliver(
            erp.ManagerRevoked(manager_login="e000000000-nobody", customer_id="C-1")
        )
