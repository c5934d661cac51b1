"""Registering someone else's account with one of their invoices: failed matches are limited per
invoice number and per customer from any address, only a recent invoice proves anything, the
address the ERP has on file hears of every registration with another address, and an operator
can give the account back to its holder (with an audit record)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from services.identity.reclaim import reclaim_account
from shared.db import create_pool
from shared.tx import Database
from tests.support.erp import Customer, publish_household
from tests.support.flows import (
    known_customer,
    login,
    register,
    registered_account,
    wait_for_mail,
)
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack

PER_INVOICE, PER_CUSTOMER = 3, 4


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(
        infra,
        keys,
        registration_mismatches_per_invoice=PER_INVOICE,
        registration_mismatches_per_customer=PER_CUSTOMER,
        registration_mismatch_window_seconds=86_400,
    ):
        yield running


def wrong_amount(customer: Customer) -> Customer:
    return Customer(
        customer.customer_id,
        customer.invoice_number,
        customer.gross + Decimal("0.01"),
        customer.email,
    )


async def test_failed_matches_are_limited_per_invoice_and_per_customer(stack: Stack) -> None:
    household = await publish_household(stack.erp, stack.platform.settings.today())
    latest = await known_customer(stack, household.customer)
    for _ in range(PER_INVOICE):
        status, problem = await register(stack, wrong_amount(latest))
        assert status == 422 and problem["type"].endswith("/invoice-not-matching")
    # The invoice's budget is spent: even the right amount waits now, from any address.
    status, problem = await register(stack, latest, email="someone.else@example.com")
    assert status == 429 and problem["type"].endswith("/rate-limited")
    assert int(problem.get("retry_after") or 86_400) > 0

    # Another invoice of the same customer draws on the customer's budget (4): one more miss.
    older = Customer(latest.customer_id, household.invoices[1], Decimal("200.01"), latest.email)
    status, _ = await register(stack, older)
    assert status == 422
    status, problem = await register(stack, older)
    assert status == 429, "the customer's budget is spent whichever invoice is tried"


async def test_an_old_invoice_proves_nothing(stack: Stack) -> None:
    household = await publish_household(stack.erp, stack.platform.settings.today())
    await known_customer(stack, household.customer)
    # Invoice #1 (100.00) is from 2025-01-31: older than EBOK_REGISTRATION_INVOICE_MAX_AGE_DAYS.
    old = Customer(
        household.customer.customer_id,
        household.invoices[0],
        Decimal("100.00"),
        household.customer.email,
    )
    status, problem = await register(stack, old)
    assert status == 422 and problem["type"].endswith("/invoice-not-matching")


async def test_the_address_on_file_hears_of_a_registration_and_an_operator_reclaims(
    stack: Stack,
) -> None:
    household = await publish_household(stack.erp, stack.platform.settings.today())
    holder = household.customer  # the ERP has the holder's address on file
    intruder = Customer(
        holder.customer_id, holder.invoice_number, holder.gross, "intruder@example.net"
    )
    account = await registered_account(stack, customer=intruder)
    notice = await wait_for_mail(stack, holder.email, "registration-notice")
    assert "i***@example.net" in notice.body("plain")
    assert intruder.email not in notice.body("plain")
    _, tokens = await login(stack, account.login, account.password)

    settings = stack.platform.settings
    pool = await create_pool(settings, "identity")
    try:
        reclaimed = await reclaim_account(
            Database(pool, "identity", settings),
            holder.customer_id,
            operator="j.kowalska",
            reason="ticket 4711: registered by someone else",
        )
        assert reclaimed is not None and reclaimed.login == account.login
        # registered_account's sign-in and password change (which ends the first), and ours
        assert reclaimed.sessions_ended == 2
        [audit] = await pool.fetch("SELECT * FROM account_audit WHERE id = $1", reclaimed.audit_id)
        assert (audit["action"], audit["operator"], audit["customer_id"]) == (
            "reclaimed",
            "j.kowalska",
            holder.customer_id,
        )
        assert "intruder" not in audit["details"], "the audit keeps the address masked"
    finally:
        await pool.close()

    # The intruder is out at once: the session's tokens are refused, the account is locked.
    async def refused() -> bool:
        status, _ = await stack.api.request("GET", "/api/v1/me", token=tokens["access_token"])
        return status == 401

    await wait_until(refused, timeout=5, what="the intruder's session to end")
    status, problem = await login(stack, account.login, account.password)
    assert status == 403 and problem["type"].endswith("/account-locked")

    # During the hold only the address on file may register: the intruder's new attempt starts
    # nothing (and the address on file hears of it again).
    status, _ = await register(stack, intruder)
    assert status == 202
    await wait_for_mail(stack, holder.email, "registration-notice", count=2)
    assert (
        len([m for m in stack.mailbox.to_address(intruder.email) if m.template == "registration"])
        == 1
    )

    # The holder registers anew and signs in.
    mine = await registered_account(stack, customer=holder)
    status, tokens = await login(stack, mine.login, mine.password)
    assert status == 200


async def test_reclaiming_a_customer_without_an_account_does_nothing(stack: Stack) -> None:
    settings = stack.platform.settings
    pool = await create_pool(settings, "identity")
    try:
        result = await reclaim_account(
            Database(pool, "identity", settings), "C-nobody", "j.kowalska", "test"
        )
    finally:
        await pool.close()
    assert result is None


@pytest.mark.parametrize("argv", [["--customer", "C-1", "--operator", " ", "--reason", "x"]])
def test_the_reclaim_command_wants_an_operator_and_a_reason(argv: list[str]) -> None:
    from services.identity import reclaim

    with pytest.raises(SystemExit) as exit_:
        reclaim.main(argv)
    assert exit_.value.code == 2
