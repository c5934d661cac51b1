"""A manager's portfolio (GET /portfolio, billing): the granted customers in pages, each with the
service points the grant covers and the figures of that part, searchable by address or
contract number; managers only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.support.infra import Infra
from tests.support.scoped_customer import ScopedCustomer, publish_scoped_customer
from tests.support.scopes import Scopes, start_scopes


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scopes(infra: Infra, keys: Path) -> AsyncIterator[Scopes]:
    async for running in start_scopes(infra, keys, ("billing", "metering", "gateway")):
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def customers(scopes: Scopes) -> tuple[ScopedCustomer, ScopedCustomer]:
    first = await publish_scoped_customer(scopes.erp, scopes.platform)
    second = await publish_scoped_customer(scopes.erp, scopes.platform)
    return first, second


def summary(entry: dict) -> tuple:
    return (
        entry["customer_id"],
        entry["scope"],
        [p["service_point_id"] for p in entry["service_points"]],
        entry["balance"],
        entry["amount_due"],
        entry["overdue_amount"],
    )


async def test_the_portfolio_pages_through_the_granted_customers(
    scopes: Scopes, customers: tuple[ScopedCustomer, ScopedCustomer]
) -> None:
    full, partial = sorted(customers, key=lambda c: c.customer_id)
    manager = uuid.uuid4()
    await scopes.grant(manager, full.customer_id)
    await scopes.grant(manager, partial.customer_id, [partial.points[2]])
    token = scopes.token("manager", str(manager))
    expected = [
        (full.customer_id, "full", list(full.points), "-218.00", "218.00", "170.00"),
        (partial.customer_id, "partial", [partial.points[2]], "-213.00", "213.00", "170.00"),
    ]

    status, page = await scopes.get("billing", "/portfolio", token)
    assert status == 200, page
    assert [summary(e) for e in page["items"]] == expected  # type: ignore[index]
    assert page["items"][0]["name"] == f"Wspólnota {full.suffix}"  # type: ignore[index]

    # One at a time, there and back.
    status, first = await scopes.get("billing", "/portfolio", token, limit="1")
    assert [summary(e) for e in first["items"]] == expected[:1]  # type: ignore[index]
    assert first["prev_cursor"] is None  # type: ignore[index]
    status, second = await scopes.get(
        "billing",
        "/portfolio",
        token,
        limit="1",
        cursor=first["next_cursor"],  # type: ignore[index]
    )
    assert [summary(e) for e in second["items"]] == expected[1:]  # type: ignore[index]
    assert second["next_cursor"] is None  # type: ignore[index]
    status, back = await scopes.get(
        "billing",
        "/portfolio",
        token,
        limit="1",
        cursor=second["prev_cursor"],  # type: ignore[index]
    )
    assert back == first

    # Through the gateway, as the front end asks.
    status, answered = await scopes.get("gateway", "/api/v1/portfolio", token)
    assert (status, answered) == (200, page)

    # A revoked grant leaves the portfolio.
    await scopes.grant(manager, full.customer_id, revoked=True)
    status, page = await scopes.get("billing", "/portfolio", token)
    assert [summary(e) for e in page["items"]] == expected[1:]  # type: ignore[index]


async def test_the_portfolio_searches_what_the_grant_covers(
    scopes: Scopes, customers: tuple[ScopedCustomer, ScopedCustomer]
) -> None:
    full, partial = customers
    manager = uuid.uuid4()
    await scopes.grant(manager, full.customer_id)
    await scopes.grant(manager, partial.customer_id, [partial.points[2]])
    token = scopes.token("manager", str(manager))

    async def found(q: str) -> list[str]:
        status, page = await scopes.get("billing", "/portfolio", token, q=q)
        assert status == 200, page
        return [e["customer_id"] for e in page["items"]]  # type: ignore[index]

    assert await found(full.contracts[0].lower()) == [full.customer_id]
    assert await found(partial.contracts[1]) == [partial.customer_id]
    # The partial grant's other contract is not the manager's to find.
    assert await found(partial.contracts[0]) == []
    assert sorted(await found("wodna 7")) == sorted(c.customer_id for c in customers)
    assert await found("00-950 warszawa") != []
    assert await found("100%") == []


async def test_the_portfolio_is_for_managers_only(scopes: Scopes) -> None:
    for token in (scopes.token("customer", customer_id="C-x"), scopes.token("operator")):
        for service, path in (("billing", "/portfolio"), ("gateway", "/api/v1/portfolio")):
            status, body = await scopes.get(service, path, token)
            assert status == 403, body
            assert body["type"].endswith("/insufficient-scope")  # type: ignore[index]


async def test_a_bad_query_is_422_naming_the_field(scopes: Scopes) -> None:
    token = scopes.token("manager", str(uuid.uuid4()))
    for params, field in (({"q": ""}, "q"), ({"cursor": "nope!"}, "cursor"), ({"x": "1"}, "x")):
        status, body = await scopes.get("billing", "/portfolio", token, **params)
        assert status == 422, body
        assert [e["field"] for e in body["errors"]] == [field]  # type: ignore[index]
    status, body = await scopes.get("billing", "/portfolio", token)
    assert (status, body["items"]) == (200, [])  # type: ignore[index]
