"""A service is down: the gateway says so clearly, and nothing sent meanwhile is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.support.erp import publish_household
from tests.support.flows import (
    access_token,
    known_customer,
    register,
    registered_account,
    wait_for_mail,
)
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack

pytestmark = pytest.mark.fault


@pytest_asyncio.fixture(loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(infra, keys):
        yield running


async def test_events_wait_in_the_queue_while_notifications_is_down(stack: Stack) -> None:
    await stack.platform.stop_service("notifications")
    customer = await known_customer(stack)
    status, _ = await register(stack, customer)
    assert status == 202
    await stack.platform.start_service("notifications")
    mail = await wait_for_mail(stack, customer.email, "registration")
    assert mail.subject == "Registration"


async def test_gateway_answers_503_when_identity_is_down(stack: Stack) -> None:
    await stack.platform.stop_service("identity")
    status, problem = await stack.api.request("GET", "/api/v1/terms")
    assert status == 503
    assert problem["type"].endswith("/service-unavailable")
    assert "identity" in problem["detail"]
    async with aiohttp.ClientSession() as session:
        async with session.get(stack.platform.ops_url("gateway") + "/health/ready") as resp:
            assert resp.status == 503
            assert (await resp.json())["checks"]["upstreams"] == "failing"


async def test_dashboard_marks_only_the_missing_part_unavailable(stack: Stack) -> None:
    household = await publish_household(stack.erp, stack.platform.settings.today())
    account = await registered_account(stack, customer=household.customer)
    token = await access_token(stack, account)
    await stack.platform.stop_service("metering")
    status, board = await stack.api.request("GET", "/api/v1/me/dashboard", token=token)
    assert status == 200
    assert board["meters"]["available"] is False
    assert "metering" in board["meters"]["error"]
    assert board["balance"]["available"] is True
    assert board["contracts"]["available"] is True
    assert len(board["latest_invoices"]["data"]) == 3
