"""Login limits hold however many guesses arrive at once, and argon2 work is bounded: what finds
no hashing turn in time is answered 503 busy, not queued."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio

from services.identity import hashing_slots
from shared.runtime import SETTINGS
from tests.support.flows import (
    activation_token,
    known_customer,
    login,
    register,
    registered_account,
    wait_for_mail,
)
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack

LIMIT = 5
ADDRESS_LIMIT = 8
GUESSES = 30
# Windows are fixed and aligned to the clock: a long one keeps a boundary out of the test.
DAY = 86_400


@pytest_asyncio.fixture(loop_scope="session")  # one stack at a time: each holds ~25 connections
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(
        infra, keys, login_failures_per_window=LIMIT, login_window_seconds=DAY
    ):
        yield running


@pytest_asyncio.fixture(loop_scope="session")  # one stack at a time: each holds ~25 connections
async def address_stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(
        infra, keys, login_failures_per_ip_per_window=ADDRESS_LIMIT, login_window_seconds=DAY
    ):
        yield running


@pytest_asyncio.fixture(loop_scope="session")  # one stack at a time: each holds ~25 connections
async def busy_stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(
        infra, keys, password_hash_concurrency=1, password_hash_wait_seconds=0.01
    ):
        yield running


@dataclass
class Answer:
    status: int
    body: dict
    retry_after: str | None


async def post(stack: Stack, path: str, body: dict, token: str | None = None) -> Answer:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.api.session.post(
        stack.api.base_url + path, json=body, headers=headers
    ) as resp:
        return Answer(
            resp.status, await resp.json(content_type=None), resp.headers.get("Retry-After")
        )


async def login_answer(stack: Stack, login_name: str, password: str) -> Answer:
    return await post(stack, "/api/v1/auth/login", {"login": login_name, "password": password})


async def counted(stack: Stack, key_pattern: str) -> int:
    """Failures identity has counted under the rate-limit keys like `key_pattern`."""
    conn = await stack.platform.db("identity")
    try:
        return await conn.fetchval(
            "SELECT coalesce(sum(hits), 0) FROM rate_limits WHERE key LIKE $1", key_pattern
        )
    finally:
        await conn.close()


def assert_problem(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer
    assert answer.body["type"].endswith(f"/{code}"), answer
    if status in (429, 503):
        assert answer.retry_after is not None and int(answer.retry_after) >= 1, answer


def hashing_turns(stack: Stack) -> asyncio.Semaphore:
    """The identity instance's turns at argon2: a test holds them to leave none free."""
    return hashing_slots.slots(stack.platform.apps["identity"][SETTINGS])


async def test_parallel_wrong_passwords_stop_at_the_limit_per_login(stack: Stack) -> None:
    account = await registered_account(stack)
    answers = await asyncio.gather(
        *(login_answer(stack, account.login, f"wrong-password-{n}") for n in range(GUESSES))
    )
    statuses = Counter(a.status for a in answers)
    assert statuses == {401: LIMIT, 429: GUESSES - LIMIT}, statuses
    for answer in answers:
        if answer.status == 429:
            assert_problem(answer, 429, "rate-limited")
    assert await counted(stack, f"login-failure:{account.login}") == LIMIT
    status, problem = await login(stack, account.login, account.password)
    assert status == 429, problem


async def test_the_right_password_in_a_burst_under_the_limit_works_and_is_not_counted(
    stack: Stack,
) -> None:
    account = await registered_account(stack)
    wrong = LIMIT - 2
    answers = await asyncio.gather(
        *(login_answer(stack, account.login, f"wrong-password-{n}") for n in range(wrong)),
        login_answer(stack, account.login, account.password),
    )
    assert [a.status for a in answers] == [401] * wrong + [200], answers
    assert await counted(stack, f"login-failure:{account.login}") == wrong
    for _ in range(LIMIT - wrong):
        assert (await login_answer(stack, account.login, "wrong-password-x")).status == 401
    assert_problem(await login_answer(stack, account.login, account.password), 429, "rate-limited")


async def test_parallel_guesses_stop_at_the_limit_per_address(address_stack: Stack) -> None:
    answers = await asyncio.gather(
        *(login_answer(address_stack, f"nobody-{n}", "wrong-password") for n in range(GUESSES))
    )
    statuses = Counter(a.status for a in answers)
    assert statuses == {401: ADDRESS_LIMIT, 429: GUESSES - ADDRESS_LIMIT}, statuses
    assert await counted(address_stack, "login-failure-ip:%") == ADDRESS_LIMIT
    # A refusal by the address's limit is no failure of the login it named.
    assert await counted(address_stack, "login-failure:%") == ADDRESS_LIMIT


async def test_a_login_that_gets_no_hashing_turn_is_busy_and_not_counted(
    busy_stack: Stack,
) -> None:
    account = await registered_account(busy_stack)
    async with hashing_turns(busy_stack):
        wrong = await login_answer(busy_stack, account.login, "wrong-password")
        right = await login_answer(busy_stack, account.login, account.password)
    assert_problem(wrong, 503, "busy")
    assert_problem(right, 503, "busy")
    assert await counted(busy_stack, f"login-failure:{account.login}") == 0
    assert (await login_answer(busy_stack, account.login, account.password)).status == 200


async def test_a_password_change_that_gets_no_hashing_turn_is_busy(busy_stack: Stack) -> None:
    account = await registered_account(busy_stack)
    tokens = await login_answer(busy_stack, account.login, account.password)
    assert tokens.status == 200, tokens
    change = {"current_password": account.password, "new_password": "Zdroj2026wody"}
    async with hashing_turns(busy_stack):
        answer = await post(busy_stack, "/api/v1/me/password", change, tokens.body["access_token"])
    assert_problem(answer, 503, "busy")
    answer = await post(busy_stack, "/api/v1/me/password", change, tokens.body["access_token"])
    assert answer.status == 200, answer


async def test_an_activation_that_gets_no_hashing_turn_is_busy_and_keeps_its_link(
    busy_stack: Stack,
) -> None:
    customer = await known_customer(busy_stack)
    status, body = await register(busy_stack, customer)
    assert status == 202, body
    token = activation_token(await wait_for_mail(busy_stack, customer.email, "registration"))
    async with hashing_turns(busy_stack):
        answer = await post(busy_stack, "/api/v1/registrations/activate", {"token": token})
    assert_problem(answer, 503, "busy")
    answer = await post(busy_stack, "/api/v1/registrations/activate", {"token": token})
    assert answer.status == 200, answer


async def test_logins_beyond_the_hashing_turns_are_busy_never_queued_or_failed(
    busy_stack: Stack,
) -> None:
    account = await registered_account(busy_stack)
    answers = await asyncio.gather(
        *(login_answer(busy_stack, account.login, account.password) for _ in range(20))
    )
    statuses = Counter(a.status for a in answers)
    # One turn, each check ~100 ms, a wait of 10 ms: the first login gets the turn, and logins
    # arriving while it is taken find none in time.
    assert set(statuses) == {200, 503}, statuses
    for answer in answers:
        if answer.status == 503:
            assert_problem(answer, 503, "busy")
    assert await counted(busy_stack, f"login-failure:{account.login}") == 0
