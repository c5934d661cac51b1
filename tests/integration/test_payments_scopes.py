"""The payments service in-process with billing's events and managers' grants fed as billing and
identity publish them: a partial grant pays and sees only its contracts' invoices, lists page by
keyset, and notifications arriving at once settle a payment once."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from deploy.p24_dev_provider import DevProvider, start
from services.payments import repository
from services.payments.keys import PROVIDER
from services.payments.reconciliation import Reconciler
from shared.events import billing
from shared.runtime import DB, SETTINGS
from tests.support.erp import address
from tests.support.infra import Infra
from tests.support.platform import Platform, make_settings, wait_until
from tests.support.scopes import Scopes, start_scopes

RETURN_URL = "https://ebok.test/payments/return"


@dataclass
class World:
    scopes: Scopes
    billing: IntegrationClient
    provider: DevProvider

    @property
    def url(self) -> str:
        return self.scopes.platform.urls["payments"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(infra: Infra, keys: Path) -> AsyncIterator[World]:
    async for scopes in start_scopes(infra, keys, ("payments",)):
        settings = scopes.platform.settings
        provider = DevProvider(
            settings.p24_merchant_id,
            settings.p24_pos_id,
            settings.p24_crc.get_secret_value(),
            settings.p24_api_key.get_secret_value(),
            notify=False,  # the tests deliver the notifications themselves
        )
        runner, url = await start(provider, "127.0.0.1", 0)
        scopes.platform.apps["payments"][PROVIDER].base_url = url  # type: ignore[attr-defined]
        try:
            async with IntegrationClient(
                settings.amqp_url, settings.namespace, producer="billing", exchange="events"
            ) as feed:
                yield World(scopes, feed, provider)
        finally:
            await runner.cleanup()


@dataclass
class Household:
    customer_id: str
    points: list[str]  # SP-1 on contract U-1, SP-2 on U-2
    invoices: list[str]  # one per contract, 100.00 each


async def household(world: World) -> Household:
    s = secrets.token_hex(4)
    customer_id = f"C-{s}"
    points, invoices = [], []
    for n in (1, 2):
        point, contract, number = f"SP-{s}-{n}", f"U-{s}-{n}", f"FV/{s}/{n}"
        await world.billing.publish(
            billing.ContractChanged.TYPE,
            billing.ContractChanged(
                contract_number=contract,
                customer_id=customer_id,
                signed_on=date(2020, 1, 1),
                status="active",
                service_points=[
                    billing.ServicePoint(
                        service_point_id=point, address=address(), meter_number=f"M-{point}"
                    )
                ],
            ),
        )
        await world.billing.publish(
            billing.InvoiceIssued.TYPE,
            billing.InvoiceIssued(
                invoice_number=number,
                customer_id=customer_id,
                contract_number=contract,
                issued_on=date(2026, 1, n),
                due_on=date(2026, 2, n),
                gross=Decimal("100.00"),
            ),
        )
        points.append(point)
        invoices.append(number)

    async def known() -> bool:
        conn = await world.scopes.platform.db("payments")
        try:
            return await conn.fetchval(
                """SELECT (SELECT count(*) FROM invoices WHERE customer_id = $1) = 2
                      AND (SELECT count(*) FROM service_points WHERE customer_id = $1) = 2""",
                customer_id,
            )
        finally:
            await conn.close()

    await wait_until(known, what="payments to learn the household")
    return Household(customer_id, points, invoices)


async def partial_manager(world: World, h: Household) -> str:
    manager = uuid.uuid4()
    await world.scopes.grant(manager, h.customer_id, [h.points[0]], wait=False)

    async def granted() -> bool:
        conn = await world.scopes.platform.db("payments")
        try:
            return bool(
                await conn.fetchval(
                    "SELECT 1 FROM access_grants WHERE manager_account_id = $1", manager
                )
            )
        finally:
            await conn.close()

    await wait_until(granted, what="the grant in payments")
    return world.scopes.token("manager", str(manager))


async def call(
    world: World, method: str, path: str, token: str, json: Any = None, key: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    if method == "POST":
        headers["Idempotency-Key"] = key or secrets.token_hex(8)
    async with world.scopes.http.request(
        method, world.url + path, json=json, headers=headers
    ) as resp:
        return resp.status, await resp.json(content_type=None)


def order(**overrides: Any) -> dict[str, Any]:
    return {
        "invoices": "all-due",
        "amount": "100.00",
        "method": "card",
        "return_url": RETURN_URL,
    } | overrides


@pytest.mark.asyncio(loop_scope="session")
async def test_a_partial_grant_pays_and_sees_only_its_contracts_invoices(world: World) -> None:
    h = await household(world)
    manager = await partial_manager(world, h)
    customer = world.scopes.token("customer", customer_id=h.customer_id)

    status, paid = await call(world, "POST", "/payments", manager, order())
    assert status == 201, paid
    assert [i["invoice_number"] for i in paid["invoices"]] == [h.invoices[0]]
    status, problem = await call(world, "POST", "/payments", manager, order(amount="100.01"))
    assert status == 422 and problem["errors"][0]["field"] == "amount", problem
    status, problem = await call(
        world, "POST", "/payments", manager, order(invoices=[h.invoices[1]])
    )
    assert status == 422 and problem["errors"][0]["field"] == "invoices", problem

    # The customer pays the other property's invoice: the manager does not see that payment.
    status, own = await call(world, "POST", "/payments", customer, order(invoices=[h.invoices[1]]))
    assert status == 201, own
    status, page = await call(world, "GET", "/payments", manager)
    assert status == 200 and [p["payment_id"] for p in page["items"]] == [paid["payment_id"]]
    status, _ = await call(world, "GET", f"/payments/{own['payment_id']}", manager)
    assert status == 404
    status, _ = await call(world, "POST", f"/payments/{own['payment_id']}/cancel", manager)
    assert status == 404
    status, page = await call(world, "GET", "/payments", customer)
    assert status == 200 and len(page["items"]) == 2
    # Another customer's view of it: 404.
    stranger = world.scopes.token("customer", customer_id="C-someone-else")
    status, _ = await call(world, "GET", f"/payments/{own['payment_id']}", stranger)
    assert status == 404


@pytest.mark.asyncio(loop_scope="session")
async def test_payments_page_by_keyset(world: World) -> None:
    h = await household(world)
    customer = world.scopes.token("customer", customer_id=h.customer_id)
    made = []
    for amount in ("1.00", "2.00", "3.00"):
        status, p = await call(world, "POST", "/payments", customer, order(amount=amount))
        assert status == 201, p
        made.append(p["payment_id"])
    status, first = await call(world, "GET", "/payments?limit=2", customer)
    assert status == 200 and [p["payment_id"] for p in first["items"]] == made[::-1][:2]
    assert first["prev_cursor"] is None and first["next_cursor"]
    status, second = await call(
        world, "GET", f"/payments?limit=2&cursor={first['next_cursor']}", customer
    )
    assert status == 200 and [p["payment_id"] for p in second["items"]] == [made[0]]
    assert second["next_cursor"] is None
    status, back = await call(
        world, "GET", f"/payments?limit=2&cursor={second['prev_cursor']}", customer
    )
    assert status == 200 and [p["payment_id"] for p in back["items"]] == made[::-1][:2]
    status, problem = await call(world, "GET", "/payments?cursor=bad!", customer)
    assert status == 422 and problem["errors"][0]["field"] == "cursor", problem


@pytest.mark.asyncio(loop_scope="session")
async def test_notifications_arriving_at_once_pay_once(world: World) -> None:
    h = await household(world)
    customer = world.scopes.token("customer", customer_id=h.customer_id)
    status, created = await call(world, "POST", "/payments", customer, order(amount="150.00"))
    assert status == 201, created
    async with aiohttp.ClientSession() as payer:
        async with payer.post(
            created["redirect_url"] + "/pay", data={"method": "218"}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
    notification = world.provider.notification(world.provider.by_session[created["payment_id"]])

    async def send() -> int:
        async with world.scopes.http.post(
            world.url + "/payments/notifications/p24", json=notification
        ) as resp:
            return resp.status

    assert await asyncio.gather(*(send() for _ in range(6))) == [200] * 6
    conn = await world.scopes.platform.db("payments")
    try:
        verdicts = await conn.fetch(
            "SELECT verdict FROM provider_notifications WHERE payment_id = $1",
            uuid.UUID(created["payment_id"]),
        )
        events = await conn.fetchval(
            """SELECT count(*) FROM outbox WHERE routing_key = 'payments.payment.completed'
                  AND body::jsonb -> 'payload' ->> 'payment_id' = $1""",
            created["payment_id"],
        )
        shares = await conn.fetch(
            "SELECT invoice_number, amount FROM payment_invoices WHERE payment_id = $1 "
            "ORDER BY invoice_number",
            uuid.UUID(created["payment_id"]),
        )
    finally:
        await conn.close()
    assert sorted(r["verdict"] for r in verdicts) == ["accepted"] + ["duplicate"] * 5
    assert events == 1
    # 150.00 over two invoices of 100.00: the earlier due first.
    assert [(r["invoice_number"], r["amount"]) for r in shares] == [
        (h.invoices[0], Decimal("100.00")),
        (h.invoices[1], Decimal("50.00")),
    ]
    status, found = await call(world, "GET", f"/payments/{created['payment_id']}", customer)
    assert status == 200 and found["status"] == "paid"


async def paid_at_provider(world: World, token: str, amount: str) -> dict:
    status, created = await call(world, "POST", "/payments", token, order(amount=amount))
    assert status == 201, created
    async with aiohttp.ClientSession() as payer:
        async with payer.post(
            created["redirect_url"] + "/pay", data={"method": "154"}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
    return created


@pytest.mark.asyncio(loop_scope="session")
async def test_a_late_notification_after_expiry_pays_once(world: World) -> None:
    h = await household(world)
    customer = world.scopes.token("customer", customer_id=h.customer_id)
    created = await paid_at_provider(world, customer, "10.00")
    payment_id = uuid.UUID(created["payment_id"])
    db = world.scopes.platform.apps["payments"][DB]
    async with db.transaction() as tx:
        # As reconciliation expires it when the provider had no payment yet.
        assert await repository.mark_final(tx.conn, payment_id, "expired", "test")
    notification = world.provider.notification(world.provider.by_session[created["payment_id"]])
    for _ in range(2):
        async with world.scopes.http.post(
            world.url + "/payments/notifications/p24", json=notification
        ) as resp:
            assert resp.status == 200
    status, found = await call(world, "GET", f"/payments/{payment_id}", customer)
    assert status == 200 and found["status"] == "paid"
    assert await completed(world, payment_id) == 1


async def completed(world: World, payment_id: uuid.UUID) -> int:
    conn = await world.scopes.platform.db("payments")
    try:
        return await conn.fetchval(
            """SELECT count(*) FROM outbox WHERE routing_key = 'payments.payment.completed'
                  AND body::jsonb -> 'payload' ->> 'payment_id' = $1""",
            str(payment_id),
        )
    finally:
        await conn.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_reconciliation_settles_paid_and_expires_unpaid_payments(world: World) -> None:
    h = await household(world)
    customer = world.scopes.token("customer", customer_id=h.customer_id)
    paid = await paid_at_provider(world, customer, "5.00")
    status, unpaid = await call(world, "POST", "/payments", customer, order(amount="6.00"))
    assert status == 201
    app = world.scopes.platform.apps["payments"]
    reconciler = Reconciler(app[DB], app[PROVIDER], app[SETTINGS])
    later = datetime.now(UTC) + timedelta(seconds=1)
    since = datetime.now(UTC)
    # Not yet past the expiry: the unpaid one waits; the paid one is settled.
    assert await reconciler.reconcile(uuid.UUID(unpaid["payment_id"]), since, later) == "wait"
    assert await reconciler.reconcile(uuid.UUID(paid["payment_id"]), since, later) == "accepted"
    assert await reconciler.reconcile(uuid.UUID(paid["payment_id"]), since, later) == "duplicate"
    much_later = since + reconciler.expire_after + timedelta(seconds=1)
    assert (
        await reconciler.reconcile(uuid.UUID(unpaid["payment_id"]), since, much_later) == "expire"
    )
    statuses = {}
    for p in (paid, unpaid):
        status, found = await call(world, "GET", f"/payments/{p['payment_id']}", customer)
        statuses[p["payment_id"]] = found["status"]
    assert statuses == {paid["payment_id"]: "paid", unpaid["payment_id"]: "expired"}
    assert await completed(world, uuid.UUID(paid["payment_id"])) == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_reconciliation_still_settles_a_cancelled_payment_the_provider_was_paid(
    world: World,
) -> None:
    h = await household(world)
    customer = world.scopes.token("customer", customer_id=h.customer_id)
    paid = await paid_at_provider(world, customer, "7.00")  # its notification never came
    status, cancelled = await call(
        world, "POST", f"/payments/{paid['payment_id']}/cancel", customer
    )
    assert status == 200 and cancelled["status"] == "cancelled", cancelled
    payment_id = uuid.UUID(paid["payment_id"])
    app = world.scopes.platform.apps["payments"]
    now = datetime.now(UTC)
    async with app[DB].connection() as tx:
        asked = await repository.open_payments(
            tx.conn, now + timedelta(seconds=1), now - timedelta(hours=1), 1000
        )
        too_late = await repository.open_payments(
            tx.conn, now + timedelta(seconds=1), now + timedelta(seconds=1), 1000
        )
    assert payment_id in {r["payment_id"] for r in asked}, "asked about after its cancel"
    assert payment_id not in {r["payment_id"] for r in too_late}, "not once the window is over"
    reconciler = Reconciler(app[DB], app[PROVIDER], app[SETTINGS])
    assert await reconciler.reconcile(payment_id, now, now) == "accepted"
    status, found = await call(world, "GET", f"/payments/{paid['payment_id']}", customer)
    assert found["status"] == "paid"
    assert await completed(world, payment_id) == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_notifications_from_an_address_not_allowed_are_refused_unread(
    infra: Infra, keys: Path
) -> None:
    settings = make_settings(
        infra.database_url, infra.amqp_url, keys, p24_notify_from=["192.0.2.0/24"]
    )
    platform = Platform(settings)
    try:
        await platform.start("payments")
        async with aiohttp.ClientSession() as http:
            async with http.post(
                platform.urls["payments"] + "/payments/notifications/p24", json={"sessionId": "x"}
            ) as resp:
                assert resp.status == 403
        conn = await platform.db("payments")
        try:
            assert await conn.fetchval("SELECT count(*) FROM provider_notifications") == 0
        finally:
            await conn.close()
    finally:
        await platform.stop()
        await platform.remove_namespace()
