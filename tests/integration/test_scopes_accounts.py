"""Billing and metering answer managers from their own copy of the grants (decision 58): a full
grant sees what the customer sees, a partial one only the granted service points' part (its
balance from their invoices and the payments and notes that name them), anything else is 404, a
revocation holds on the next request, operators are refused, and a manager of several customers
names one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.scoped_customer import ScopedCustomer, publish_scoped_customer
from tests.support.scopes import Scopes, start_scopes


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scopes(infra: Infra, keys: Path) -> AsyncIterator[Scopes]:
    async for running in start_scopes(infra, keys, ("billing", "metering", "gateway")):
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def owner(scopes: Scopes) -> ScopedCustomer:
    return await publish_scoped_customer(scopes.erp, scopes.platform)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def other(scopes: Scopes) -> ScopedCustomer:
    return await publish_scoped_customer(scopes.erp, scopes.platform)


def views(c: ScopedCustomer) -> list[tuple[str, str]]:
    return [
        ("billing", "/contracts"),
        ("billing", "/balance"),
        ("billing", "/summary"),
        ("billing", "/invoices"),
        ("billing", "/payments-received"),
        ("billing", "/notes"),
        ("billing", f"/invoices/{c.invoices[0]}"),
        ("metering", "/meters"),
        ("metering", f"/meters/{c.meters[0]}/readings"),
        ("metering", f"/meters/{c.meters[0]}/consumption"),
    ]


async def test_a_full_manager_sees_what_the_customer_sees(
    scopes: Scopes, owner: ScopedCustomer
) -> None:
    manager = uuid.uuid4()
    await scopes.grant(manager, owner.customer_id)
    as_owner = scopes.token("customer", customer_id=owner.customer_id)
    as_manager = scopes.token("manager", str(manager))
    for service, path in views(owner):
        status, seen = await scopes.get(service, path, as_owner)
        assert status == 200, (path, seen)
        assert await scopes.get(service, path, as_manager, customer=owner.customer_id) == (
            200,
            seen,
        ), path
        # With one grant the selector may be left out.
        assert await scopes.get(service, path, as_manager) == (200, seen), path


async def test_a_partial_manager_sees_only_the_granted_part(
    scopes: Scopes, owner: ScopedCustomer
) -> None:
    manager = uuid.uuid4()
    await scopes.grant(manager, owner.customer_id, [owner.points[2]])
    token = scopes.token("manager", str(manager))
    c = owner.customer_id

    async def get(service: str, path: str) -> object:
        status, body = await scopes.get(service, path, token, customer=c)
        assert status == 200, (path, body)
        return body

    contracts = await get("billing", "/contracts")
    assert [
        (k["contract_number"], [p["service_point_id"] for p in k["service_points"]])
        for k in contracts["items"]  # type: ignore[index]
    ] == [(owner.contracts[1], [owner.points[2]])]
    balance = await get("billing", "/balance")
    assert {k: balance[k] for k in ("charges", "credits", "balance", "overdue_amount")} == {  # type: ignore[index]
        "charges": "293.00",
        "credits": "80.00",
        "balance": "-213.00",
        "overdue_amount": "170.00",
    }
    assert balance["open_invoices"] == 2  # type: ignore[index]
    invoices = await get("billing", "/invoices")
    assert [i["invoice_number"] for i in invoices["items"]] == [  # type: ignore[index]
        owner.invoices[2],
        owner.invoices[1],
    ]
    payments = await get("billing", "/payments-received")
    # B1 names FV1, an invoice of the contract not granted: invisible.
    assert [p["booking_id"] for p in payments["items"]] == [owner.payments[1]]  # type: ignore[index]
    notes = await get("billing", "/notes")
    assert [n["note_number"] for n in notes["items"]] == [owner.notes[2], owner.notes[1]]  # type: ignore[index]
    summary = await get("billing", "/summary")
    assert summary["balance"] == balance  # type: ignore[index]
    assert [i["invoice_number"] for i in summary["latest_invoices"]] == [  # type: ignore[index]
        owner.invoices[2],
        owner.invoices[1],
    ]
    assert summary["contracts"] == contracts["items"]  # type: ignore[index]
    meters = await get("metering", "/meters")
    assert [m["meter_number"] for m in meters["items"]] == [owner.meters[2]]  # type: ignore[index]
    await get("metering", f"/meters/{owner.meters[2]}/readings")
    await get("billing", f"/invoices/{owner.invoices[1]}")

    # The customer's other properties: 404.
    for service, path in (
        ("billing", f"/invoices/{owner.invoices[0]}"),
        ("billing", f"/invoices/{owner.invoices[0]}/pdf"),
        ("metering", f"/meters/{owner.meters[0]}/readings"),
        ("metering", f"/meters/{owner.meters[1]}/consumption"),
    ):
        status, body = await scopes.get(service, path, token, customer=c)
        assert status == 404, (path, body)

    # The whole dashboard through the gateway: the same part.
    status, dashboard = await scopes.get("gateway", "/api/v1/me/dashboard", token, customer=c)
    assert status == 200, dashboard
    assert dashboard["balance"]["data"] == balance  # type: ignore[index]
    assert [m["meter_number"] for m in dashboard["meters"]["data"]] == [owner.meters[2]]  # type: ignore[index]


async def test_another_customers_objects_are_404(
    scopes: Scopes, owner: ScopedCustomer, other: ScopedCustomer
) -> None:
    manager = uuid.uuid4()
    await scopes.grant(manager, owner.customer_id)
    as_manager = scopes.token("manager", str(manager))
    as_owner = scopes.token("customer", customer_id=owner.customer_id)
    for token in (as_manager, as_owner):
        for service, path in views(other):
            status, body = await scopes.get(service, path, token, customer=other.customer_id)
            assert status == 404, (path, body)
        # Another customer's invoice and meter within the caller's own account: 404 too.
        for service, path in [v for v in views(other) if v[1].count("/") > 1]:
            status, body = await scopes.get(service, path, token, customer=owner.customer_id)
            assert status == 404, (path, body)
    status, body = await scopes.get(
        "gateway", "/api/v1/me/dashboard", as_manager, customer=other.customer_id
    )
    assert status == 404, body


async def test_a_revoked_grant_answers_404_on_the_next_request(
    scopes: Scopes, owner: ScopedCustomer
) -> None:
    manager = uuid.uuid4()
    await scopes.grant(manager, owner.customer_id, [owner.points[2]])
    token = scopes.token("manager", str(manager))
    assert (await scopes.get("billing", "/balance", token))[0] == 200
    assert (await scopes.get("metering", "/meters", token))[0] == 200
    await scopes.grant(manager, owner.customer_id, [owner.points[2]], revoked=True, wait=False)

    async def refused() -> bool:
        answers = [
            await scopes.get("billing", "/balance", token),
            await scopes.get("metering", "/meters", token),
        ]
        return all(status == 404 for status, _ in answers)

    await wait_until(refused, timeout=5, what="the revocation in billing and metering")


async def test_an_operator_is_refused_with_403(scopes: Scopes, owner: ScopedCustomer) -> None:
    token = scopes.token("operator")
    for service, path in views(owner):
        status, body = await scopes.get(service, path, token, customer=owner.customer_id)
        assert status == 403, (path, body)
        assert body["type"].endswith("/insufficient-scope")  # type: ignore[index]


async def test_a_manager_of_two_customers_names_one(
    scopes: Scopes, owner: ScopedCustomer, other: ScopedCustomer
) -> None:
    manager = uuid.uuid4()
    await scopes.grant(manager, owner.customer_id)
    await scopes.grant(manager, other.customer_id, [other.points[0]])
    token = scopes.token("manager", str(manager))
    for service, path in (("billing", "/balance"), ("metering", "/meters")):
        status, body = await scopes.get(service, path, token)
        assert status == 422, body
        assert [e["field"] for e in body["errors"]] == ["customer"]  # type: ignore[index]
    status, body = await scopes.get("gateway", "/api/v1/me/dashboard", token)
    assert status == 422, body
    status, body = await scopes.get("metering", "/meters", token, customer=other.customer_id)
    assert status == 200
    assert [m["meter_number"] for m in body["items"]] == [other.meters[0]]  # type: ignore[index]


@pytest.mark.parametrize("value", ["", "no spaces", "x" * 65])
async def test_a_malformed_selector_is_422_naming_it(
    scopes: Scopes, owner: ScopedCustomer, value: str
) -> None:
    token = scopes.token("customer", customer_id=owner.customer_id)
    for service, path in (("billing", "/balance"), ("metering", "/meters")):
        status, body = await scopes.get(service, path, token, customer=value)
        assert status == 422, body
        assert [e["field"] for e in body["errors"]] == ["customer"]  # type: ignore[index]
