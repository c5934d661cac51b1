"""Identity's "case updated" email request (issue 13) against real PostgreSQL, without the
broker: correspondence's `correspondence.case.changed` asks for one email to the account that
submitted the case, if that account is in use; and notifications queues it once, in the account's
language (the words of each language: tests/unit/test_notification_templates.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.notifications.rendering import LANGUAGES
from shared.events import identity as events
from tests.integration.test_handlers_identity import (
    _manager_login,
    case_changed,
    customer_of,
    new_account,
)
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

PUBLIC_URL = "https://ebok.test"  # make_settings' public_url
REQUESTED = events.CaseUpdateRequested.TYPE


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def identity(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("identity", infra, keys) as handlers:
        yield handlers


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def notifications(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("notifications", infra, keys) as handlers:
        yield handlers


async def requests(identity: ServiceHandlers, number: str) -> list[dict]:
    return [e.payload for e in await identity.published(REQUESTED) if e.payload["number"] == number]


async def test_the_submitter_in_use_is_asked_an_email_with_the_change(
    identity: ServiceHandlers,
) -> None:
    account_id = await new_account(identity, "active")
    row = (await identity.fetch("SELECT * FROM accounts WHERE id = $1", account_id))[0]
    change = case_changed(
        row["customer_id"], account_id, "rejected", reply="Nie nasz teren.", reason="Poza siecią"
    )

    assert await identity.deliver(change) == "handled"

    assert await requests(identity, change.number) == [
        {
            "account_id": str(account_id),
            "email": row["email"],
            "language": "en",  # the account's
            "login": row["login"],
            "customer_id": row["customer_id"],
            "number": change.number,
            "status": "rejected",
            "reply": "Nie nasz teren.",
            "reason": "Poza siecią",
        }
    ]


async def test_a_status_change_without_a_reply_is_told_too(identity: ServiceHandlers) -> None:
    account_id = await new_account(identity, "active")
    change = case_changed(await customer_of(identity, account_id), account_id, "registered")

    await identity.deliver(change)

    [request] = await requests(identity, change.number)
    assert (request["status"], request["reply"], request["reason"]) == ("registered", None, None)


async def test_a_manager_who_wrote_the_case_is_told(identity: ServiceHandlers) -> None:
    login = await _manager_login(identity)
    manager = await identity.fetchval("SELECT id FROM accounts WHERE login = $1", login)
    change = case_changed("C-managed", manager, reply="Odczyt poprawiony.")

    await identity.deliver(change)

    [request] = await requests(identity, change.number)
    assert (request["account_id"], request["login"], request["customer_id"]) == (
        str(manager),
        login,
        "C-managed",
    )


@pytest.mark.parametrize("status", ["awaiting_credentials_email", "locked", "unknown"])
async def test_no_account_in_use_no_email(identity: ServiceHandlers, status: str) -> None:
    if status == "unknown":
        account_id, customer_id = uuid.uuid4(), "C-nobody"
    else:
        account_id = await new_account(identity, status)
        customer_id = await customer_of(identity, account_id)
    change = case_changed(customer_id, account_id, reply="Odpowiedź.")

    assert await identity.deliver(change) == "handled"

    assert await requests(identity, change.number) == []


async def test_each_change_of_a_case_asks_once(identity: ServiceHandlers) -> None:
    account_id = await new_account(identity, "active")
    customer_id = await customer_of(identity, account_id)
    registered = case_changed(customer_id, account_id, "registered")
    answered = registered.model_copy(update={"status": "answered", "reply": "Naprawione."})
    message_id = uuid.uuid4()

    await identity.deliver(registered, message_id=message_id)
    assert await identity.deliver(registered, message_id=message_id) == "duplicate"
    await identity.deliver(answered)

    assert [r["status"] for r in await requests(identity, registered.number)] == [
        "registered",
        "answered",
    ]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_email_is_queued_once_in_the_accounts_language(
    notifications: ServiceHandlers, language: str
) -> None:
    number = "KOR/2026/000123"
    request = events.CaseUpdateRequested(
        account_id=uuid.uuid4(),
        email=f"owner.{uuid.uuid4().hex[:8]}@example.com",
        language=language,  # type: ignore[arg-type]
        login="e123456789",
        customer_id="C-1001",
        number=number,
        status="answered",
        reply="Awaria usunięta.",
    )
    message_id = uuid.uuid4()

    assert await notifications.deliver(request, message_id=message_id) == "handled"
    assert await notifications.deliver(request, message_id=message_id) == "duplicate"

    [email] = await notifications.fetch(
        "SELECT * FROM emails WHERE recipient = $1", str(request.email)
    )
    assert (
        email["template"],
        email["language"],
        email["reference_id"],
        email["sensitive"],
        email["source_event_id"],
    ) == ("case-updated", language, number, False, message_id)
    assert number in email["subject"]
    case_url = f"{PUBLIC_URL}/cases/KOR%2F2026%2F000123"
    for words in ("Awaria usunięta.", case_url):
        assert words in email["text_body"]
        assert words in email["html_body"]
