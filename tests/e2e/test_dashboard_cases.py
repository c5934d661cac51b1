"""Issue 13 through the gateway: the dashboard's open cases (correspondence's /cases-summary),
and the account's "case updated" email when the back office answers a case
(backoffice.case.updated → correspondence → identity → notifications → SMTP). Correspondence
down leaves only its part unavailable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest_asyncio

from deploy.integration_client import IntegrationClient
from shared.events.correspondence import BackOfficeCaseUpdated
from tests.support.erp import Household, publish_household
from tests.support.flows import access_token, registered_account, wait_for_mail
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack


@dataclass
class World:
    stack: Stack
    household: Household
    token: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(infra: Infra, keys: Path) -> AsyncIterator[World]:
    async for stack in start_stack(infra, keys):
        household = await publish_household(stack.erp, stack.platform.settings.today())
        account = await registered_account(stack, customer=household.customer)
        yield World(stack, household, await access_token(stack, account))


async def dashboard(world: World) -> dict:
    status, board = await world.stack.api.request("GET", "/api/v1/me/dashboard", token=world.token)
    assert status == 200, board
    return board  # type: ignore[return-value]


async def ask(world: World, subject: str) -> str:
    """A question to the utility, as the browser sends it; its case number."""
    api = world.stack.api
    headers = {"Authorization": f"Bearer {world.token}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"kind": "question", "subject": subject, "description": "Proszę o informację."}
    async with api.session.post(f"{api.base_url}/api/v1/cases", json=body, headers=headers) as r:
        case = await r.json(content_type=None)
        assert r.status == 201, case
    return case["number"]


async def test_the_dashboard_counts_the_open_cases_newest_first(world: World) -> None:
    before = (await dashboard(world))["open_cases"]
    assert before == {"available": True, "data": {"open": 0, "latest_open": []}, "error": None}

    first = await ask(world, "Pierwsze pytanie")
    second = await ask(world, "Drugie pytanie")

    part = (await dashboard(world))["open_cases"]
    assert part["available"] is True
    assert part["data"]["open"] == 2
    assert [c["number"] for c in part["data"]["latest_open"]] == [second, first]


async def test_the_back_office_answer_is_emailed_to_the_account(world: World) -> None:
    number = await ask(world, "Kiedy odczyt?")
    async with IntegrationClient(
        world.stack.platform.settings.amqp_url,
        world.stack.platform.settings.namespace,
        producer="backoffice",
    ) as backoffice:
        await backoffice.publish(
            BackOfficeCaseUpdated.TYPE,
            BackOfficeCaseUpdated(
                number=number,
                status="answered",
                reply="Odczyt w przyszły poniedziałek.",
                by="Anna Nowak",
                updated_at=datetime.now(UTC),
            ),
        )

    mail = await wait_for_mail(world.stack, world.household.customer.email, "case-updated")

    # The account's language (registered in English), not the ERP's (Polish).
    assert mail.subject == f"Case {number}: reply"
    text = mail.body("plain")
    assert "Odczyt w przyszły poniedziałek." in text
    assert f"/cases/{quote(number, safe='')}" in text


async def test_correspondence_down_leaves_only_its_part_unavailable(world: World) -> None:
    await world.stack.platform.stop_service("correspondence")
    try:
        board = await dashboard(world)
    finally:
        await world.stack.platform.start_service("correspondence")

    assert board["open_cases"]["available"] is False
    assert "correspondence" in board["open_cases"]["error"]
    assert all(board[p]["available"] for p in ("balance", "latest_invoices", "meters", "contracts"))
