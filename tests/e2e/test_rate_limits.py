"""Failed logins, registrations and CAPTCHAs are rate limited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.support.flows import known_customer, login, register, registered_account, solved_proof
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(
        infra,
        keys,
        login_failures_per_window=3,
        registrations_per_window=4,
        captchas_per_window=12,
        # Windows are fixed and aligned to the clock: long ones keep a boundary out of the test.
        login_window_seconds=86_400,
        registration_window_seconds=86_400,
        captcha_window_seconds=86_400,
    ):
        yield running


async def test_failed_logins_are_limited_per_login(stack: Stack) -> None:
    account = await registered_account(stack)
    for _ in range(3):
        status, _ = await login(stack, account.login, "wrong-password-1")
        assert status == 401
    status, problem = await login(stack, account.login, account.password)
    assert status == 429, "even the right password waits once the limit is reached"
    assert problem["type"].endswith("/rate-limited")


async def test_registrations_are_limited_per_address(stack: Stack) -> None:
    customer = await known_customer(stack)
    statuses = [(await register(stack, customer, invoice_amount="0.01"))[0] for _ in range(6)]
    assert 429 in statuses
    assert statuses[0] == 422


async def test_captchas_are_limited_per_address(stack: Stack) -> None:
    statuses = []
    for _ in range(15):
        status, body = await stack.api.request(
            "POST", "/api/v1/captcha", json={"proof": await solved_proof(stack)}
        )
        statuses.append(status)
        if status == 429:
            assert body["type"].endswith("/rate-limited")
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {201}
