"""The gateway over two real instances of billing (the platform's, in-process, and a second as a
process of its own, EBOK_BILLING_URL listing both): a customer's calls go to both in turn; the
second SIGKILLed, every call still succeeds (a refused connection goes to the other instance) and
the gateway stays ready; with neither left, the gateway is not ready; the second started again,
it takes calls again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from tests.support.flows import access_token, registered_account
from tests.support.processes import ServiceProcess, metric_sum
from tests.support.stack import Stack

CALLS = 6


def billing_calls(metrics: str) -> float:
    return metric_sum(metrics, "ebok_http_request_seconds_count", route="/invoices")


@pytest_asyncio.fixture(loop_scope="session")
async def second_billing(stack: Stack, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    platform = stack.platform
    second = ServiceProcess.instance("billing", platform.settings, tmp_path, "billing-2")
    second.start()
    try:
        await second.ready()
        both = f"{platform.urls['billing']},{second.url}"
        await platform.stop_service("gateway")
        await platform.start_service("gateway", billing_url=both)
        yield second
    finally:
        await second.stop()
        await platform.stop_service("gateway")
        await platform.start_service("gateway")


async def gateway_ready(stack: Stack) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(stack.platform.ops_url("gateway") + "/health/ready") as resp:
            return resp.status


async def invoices(stack: Stack, token: str) -> list[int]:
    return [
        (await stack.api.request("GET", "/api/v1/invoices", token=token))[0] for _ in range(CALLS)
    ]


async def test_calls_go_to_both_instances_and_survive_one_killed(
    stack: Stack, second_billing: ServiceProcess
) -> None:
    stack.api.base_url = stack.platform.urls["gateway"]
    token = await access_token(stack, await registered_account(stack))
    before = billing_calls(await second_billing.metrics())
    assert await invoices(stack, token) == [200] * CALLS
    # Round-robin: half of them went to the second instance.
    assert billing_calls(await second_billing.metrics()) - before == CALLS / 2

    second_billing.kill()
    assert await invoices(stack, token) == [200] * CALLS
    assert await gateway_ready(stack) == 200

    await stack.platform.stop_service("billing")
    try:
        assert await gateway_ready(stack) == 503
        status, problem = await stack.api.request("GET", "/api/v1/invoices", token=token)
        assert status == 503, problem
    finally:
        # Back on its old port: the gateway's list names it.
        stack.platform.ports["billing"] = _port(stack)
        await stack.platform.start_service("billing")

    await second_billing.restart()
    assert await gateway_ready(stack) == 200  # takes back both live instances at once
    before = billing_calls(await second_billing.metrics())
    assert await invoices(stack, token) == [200] * CALLS
    assert billing_calls(await second_billing.metrics()) - before == CALLS / 2


def _port(stack: Stack) -> int:
    return int(stack.platform.urls["billing"].rsplit(":", 1)[1])
