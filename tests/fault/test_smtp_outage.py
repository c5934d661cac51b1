"""The SMTP server is down: emails wait and go out once it is back; login waits for the third."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.identity.domain import hash_password
from tests.support.flows import (
    activation_token,
    known_customer,
    login,
    register,
    wait_for_mail,
)
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack

pytestmark = pytest.mark.fault

KNOWN_PASSWORD = "Znany-1234567"


@pytest_asyncio.fixture(loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(infra, keys, smtp_up=False):
        yield running


async def failed_attempts(stack: Stack, template: str) -> int:
    conn = await stack.platform.db("notifications")
    try:
        return await conn.fetchval(
            "SELECT coalesce(max(attempts), 0) FROM emails "
            "WHERE template = $1 AND status = 'pending' AND last_error IS NOT NULL",
            template,
        )
    finally:
        await conn.close()


async def account_status(stack: Stack, customer_id: str) -> str | None:
    conn = await stack.platform.db("identity")
    try:
        return await conn.fetchval(
            "SELECT status FROM accounts WHERE customer_id = $1", customer_id
        )
    finally:
        await conn.close()


async def test_emails_wait_for_the_smtp_server_and_login_for_the_third_email(
    stack: Stack,
) -> None:
    customer = await known_customer(stack)
    status, _ = await register(stack, customer)
    assert status == 202

    # Down: the first email is tried, fails, and waits.
    await wait_until(lambda: failed_attempts(stack, "registration"), what="a failed attempt")
    assert not stack.mailbox.messages

    # Back: it arrives, once.
    await stack.start_smtp()
    token = activation_token(await wait_for_mail(stack, customer.email, "registration"))

    # Down again while the account is activated: the credentials email cannot go out yet.
    await stack.stop_smtp()
    status, _ = await stack.api.request(
        "POST", "/api/v1/registrations/activate", json={"token": token}
    )
    assert status == 200
    await wait_until(
        lambda: failed_attempts(stack, "registration-confirmation"),
        what="a failed attempt to send the credentials",
    )
    assert await account_status(stack, customer.customer_id) == "awaiting_credentials_email"

    # Even with the right password, login is refused before the third email has gone out.
    conn = await stack.platform.db("identity")
    try:
        login_name = await conn.fetchval(
            "UPDATE accounts SET password_hash = $2 WHERE customer_id = $1 RETURNING login",
            customer.customer_id,
            hash_password(KNOWN_PASSWORD),
        )
    finally:
        await conn.close()
    status, problem = await login(stack, login_name, KNOWN_PASSWORD)
    assert status == 403 and problem["type"].endswith("/account-not-active")

    await stack.start_smtp()
    await wait_for_mail(stack, customer.email, "registration-confirmation")
    await wait_for_mail(stack, customer.email, "account-activation")
    await wait_until(
        lambda: account_status(stack, customer.customer_id), what="the account to exist"
    )

    async def logged_in() -> bool:
        status, _ = await login(stack, login_name, KNOWN_PASSWORD)
        return status == 200

    await wait_until(logged_in, what="login after the third email")
    templates = [m.template for m in stack.mailbox.to_address(customer.email)]
    assert templates == ["registration", "registration-confirmation", "account-activation"]
