"""The client address rate limits key on cannot be chosen by the client: a service believes the
gateway's X-Ebok-Client-Ip only with the internal token, and the gateway takes the address its
trusted proxy saw, not the leftmost X-Forwarded-For. Readiness and metrics are off the public
port. Clients connect from loopback addresses of their own (127.0.0.2, …) so each is a peer of
its own, the test's "proxy" being 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from shared.http.internal import CLIENT_IP_HEADER, INTERNAL_TOKEN_HEADER
from shared.logs import configure_logging
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack

LIMIT = 3
PROXY = "127.0.0.1"  # the only trusted proxy


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(
        infra,
        keys,
        registrations_per_window=LIMIT,
        # Windows are fixed and aligned to the clock: a long one keeps a boundary out of the test.
        registration_window_seconds=86_400,
        trusted_proxies=PROXY,
    ):
        yield running


def registration() -> dict:
    """A well-formed registration with a CAPTCHA that does not exist: it draws on the address's
    budget (checked first), then fails the CAPTCHA (400) — or is refused for the limit (429)."""
    return {
        "invoice_number": "FV/2026/01/0001",
        "invoice_amount": "10.00",
        "email": "someone@example.com",
        "accept_terms": True,
        "terms_version": "2026-01",
        "captcha_id": str(uuid.uuid4()),
        "captcha_answer": "NOPE9",
        "language": "en",
    }


async def post_from(local: str, url: str, headers: dict[str, str]) -> int:
    """POST a registration to `url` over a connection from the local address `local`."""
    connector = aiohttp.TCPConnector(local_addr=(local, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(url, json=registration(), headers=headers) as resp,
    ):
        return resp.status


async def registration_budgets(stack: Stack) -> dict[str, int]:
    """Hits per `registration:<address>` key: which address identity counted."""
    conn = await stack.platform.db("identity")
    try:
        rows = await conn.fetch(
            "SELECT key, sum(hits) AS hits FROM rate_limits "
            "WHERE key LIKE 'registration:%' GROUP BY key"
        )
    finally:
        await conn.close()
    return {row["key"].removeprefix("registration:"): row["hits"] for row in rows}


async def test_a_direct_caller_cannot_set_the_client_address(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    """Straight to identity, a new X-Ebok-Client-Ip each time, with no or a wrong token: every
    call is counted against the caller's own address and the limit holds."""
    url = stack.platform.urls["identity"] + "/registrations"
    wrong = {INTERNAL_TOKEN_HEADER: "x" * 43}
    configure_logging("tests", "INFO", "json")
    try:
        statuses = [
            await post_from(
                "127.0.0.3",
                url,
                {CLIENT_IP_HEADER: f"203.0.113.{n}", **(wrong if n % 2 else {})},
            )
            for n in range(LIMIT + 3)
        ]
        logged = capfd.readouterr()
    finally:
        configure_logging("tests", "WARNING", "console")
    assert statuses == [400] * LIMIT + [429] * 3
    budgets = await registration_budgets(stack)
    assert budgets.get("127.0.0.3") == LIMIT + 3
    assert not [address for address in budgets if address.startswith("203.0.113.")]
    warnings = [
        event
        for line in (logged.out + logged.err).splitlines()
        if line.startswith("{")
        and (event := json.loads(line)).get("event")
        == "security: client address header without the internal token, ignored"
    ]
    # Once per request, however often the request asks for the address; no token in it.
    assert len(warnings) == LIMIT + 3
    assert {w["peer"] for w in warnings} == {"127.0.0.3"}
    assert {w["credential"] for w in warnings} == {"missing", "wrong"}
    token = stack.platform.settings.internal_token
    assert token is not None and token.get_secret_value() not in logged.out + logged.err


async def test_with_the_token_a_service_takes_the_gateways_address(stack: Stack) -> None:
    token = stack.platform.settings.internal_token
    assert token is not None
    url = stack.platform.urls["identity"] + "/registrations"
    headers = {CLIENT_IP_HEADER: "198.51.100.99", INTERNAL_TOKEN_HEADER: token.get_secret_value()}
    assert await post_from("127.0.0.4", url, headers) == 400
    budgets = await registration_budgets(stack)
    assert budgets.get("198.51.100.99") == 1 and "127.0.0.4" not in budgets


async def test_the_gateway_takes_the_address_its_trusted_proxy_saw(stack: Stack) -> None:
    """Through the trusted proxy (127.0.0.1): the address it appended counts, not what the
    client wrote before it nor an X-Ebok-Client-Ip of its own."""
    url = stack.platform.urls["gateway"] + "/api/v1/registrations"
    statuses = [
        await post_from(
            PROXY,
            url,
            {
                "X-Forwarded-For": f"192.0.2.{n}, 198.51.100.20",
                CLIENT_IP_HEADER: f"192.0.2.{n}",
            },
        )
        for n in range(LIMIT + 2)
    ]
    assert statuses == [400] * LIMIT + [429] * 2
    # Another client behind the same proxy has a budget of its own.
    assert await post_from(PROXY, url, {"X-Forwarded-For": "198.51.100.21"}) == 400
    budgets = await registration_budgets(stack)
    assert budgets.get("198.51.100.20") == LIMIT + 2
    assert budgets.get("198.51.100.21") == 1
    assert not [a for a in budgets if a.startswith("192.0.2.") or a == PROXY]


async def test_a_peer_that_is_no_trusted_proxy_is_the_client(stack: Stack) -> None:
    url = stack.platform.urls["gateway"] + "/api/v1/registrations"
    assert await post_from("127.0.0.5", url, {"X-Forwarded-For": "198.51.100.30"}) == 400
    budgets = await registration_budgets(stack)
    assert budgets.get("127.0.0.5") == 1 and "198.51.100.30" not in budgets


async def test_readiness_and_metrics_are_on_the_operations_port_only(stack: Stack) -> None:
    public = stack.platform.urls["gateway"]
    ops = stack.platform.ops_url("gateway")
    assert URL(ops).port != URL(public).port
    assert URL(ops).host == stack.platform.settings.internal_bind_host
    async with aiohttp.ClientSession() as session:
        for path in ("/metrics", "/health/ready"):
            async with session.get(public + path) as resp:
                assert resp.status == 404, path
                assert resp.content_type == "application/problem+json", path
        async with session.get(ops + "/health/ready") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ok", "checks": {"upstreams": "ok"}}
        async with session.get(ops + "/metrics") as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            assert "ebok_http_request_seconds" in await resp.text()
        # Liveness stays on both: a load balancer probes the listener it sends clients to.
        for base in (public, ops):
            async with session.get(base + "/health/live") as resp:
                assert resp.status == 200, base
        # The operations port is no second way into the API.
        async with session.get(ops + "/api/v1/terms") as resp:
            assert resp.status == 404
