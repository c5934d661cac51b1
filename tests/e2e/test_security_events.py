"""Security events reach the logs as structured `security:` lines, with who and from where, and
without the secrets involved: failed logins, rate-limit hits, CAPTCHA failures, invoice
mismatches and a reused refresh token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from shared.logs import configure_logging
from tests.support.erp import Customer
from tests.support.flows import (
    known_customer,
    login,
    new_captcha,
    register,
    registered_account,
    registration_body,
)
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack

WRONG = "Wrong-Password-42"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(infra, keys, login_failures_per_window=2):
        yield running


def security_lines(output: str) -> list[dict]:
    events = []
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and str(event.get("event", "")).startswith("security:"):
            events.append(event)
    return events


async def test_security_events_are_logged_without_secrets(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    account = await registered_account(stack)
    other = await registered_account(stack)
    customer = await known_customer(stack)
    configure_logging("tests", "INFO", "json")
    try:
        for _ in range(3):  # two failures, then the limit
            await login(stack, account.login, WRONG)
        body = registration_body(customer, await new_captcha(stack), captcha_answer="NOPE9")
        await stack.api.request("POST", "/api/v1/registrations", json=body)
        mismatch = Customer(
            customer.customer_id,
            customer.invoice_number,
            customer.gross + Decimal("1"),
            customer.email,
        )
        await register(stack, mismatch)
        _, tokens = await login(stack, other.login, other.password)
        for _ in range(2):  # the second use of the same refresh token ends the session
            await stack.api.request(
                "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
        logged = capfd.readouterr()
    finally:
        configure_logging("tests", "WARNING", "console")
    events = security_lines(logged.out + logged.err)
    by_name = {}
    for event in events:
        by_name.setdefault(event["event"], []).append(event)
    failed = by_name["security: login failed"]
    assert len(failed) == 2 and failed[0]["login"] == account.login
    assert failed[0]["client_ip"] and failed[0]["login_exists"] is True
    assert by_name["security: rate limit reached"][0]["limit"] == "login-failure"
    assert by_name["security: captcha failed"][0]["captcha_known"] is True
    assert by_name["security: registration invoice mismatch"][0]["invoice_number"] == (
        customer.invoice_number
    )
    assert by_name["security: refresh token reused; session revoked"][0]["client_ip"]
    everything = logged.out + logged.err
    assert tokens["refresh_token"] not in everything
    assert WRONG not in everything and account.password not in everything
    assert "NOPE9" not in everything
