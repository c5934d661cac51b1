"""Billing's e-invoice handlers against real PostgreSQL, without the broker: the ERP setting a
consent (its effect, the history, billing.e-invoice.changed back by "erp", a customer's waiting
link cancelled, a repeated message or fact changing nothing) and the account languages."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest_asyncio

from services.billing import e_invoice
from services.billing import e_invoice_repository as repository
from shared.events import erp, identity
from tests.support.erp import address
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def billing(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("billing", infra, keys) as handlers:
        yield handlers


def new_customer() -> str:
    return f"C-EI-{secrets.token_hex(4)}"


def erp_on(customer_id: str, address: str, version: str | None = "2026-11") -> erp.EInvoiceChanged:
    return erp.EInvoiceChanged(
        customer_id=customer_id, state="on", address=address, regulations_version=version
    )


def erp_off(customer_id: str) -> erp.EInvoiceChanged:
    return erp.EInvoiceChanged(customer_id=customer_id, state="off")


async def consent(billing: ServiceHandlers, customer_id: str) -> dict:
    row = await billing.fetch(
        "SELECT state, address, since, regulations_version FROM e_invoice_consents "
        "WHERE customer_id = $1",
        customer_id,
    )
    return dict(row[0]) if row else {}


async def history(billing: ServiceHandlers, customer_id: str) -> list[tuple]:
    rows = await billing.fetch(
        """SELECT action, address, by_role, by_login, regulations_version FROM e_invoice_history
            WHERE customer_id = $1 ORDER BY id""",
        customer_id,
    )
    return [tuple(r) for r in rows]


async def changes(billing: ServiceHandlers, customer_id: str) -> list[dict]:
    return [
        e.payload
        for e in await billing.published("billing.e-invoice.changed")
        if e.payload["customer_id"] == customer_id
    ]


async def waiting_link(billing: ServiceHandlers, customer_id: str, purpose: str) -> bytes:
    """A customer's request waiting for its link, as POST/PUT /e-invoice leave it."""
    digest = e_invoice.token_digest(e_invoice.new_token())
    now = datetime.now(UTC)
    async with billing.pool.acquire() as conn, conn.transaction():
        if purpose == "activate":
            await repository.set_consent(
                conn, customer_id, "pending", None, since=None, regulations_version="2026-11"
            )
        await repository.add_confirmation(
            conn,
            digest,
            customer_id,
            purpose,  # type: ignore[arg-type]
            "asked@example.com",
            now,
            now + timedelta(hours=1),
            repository.Actor("customer", "c1", uuid.uuid4(), "203.0.113.5"),
            "2026-11",
        )
    return digest


async def link_status(billing: ServiceHandlers, digest: bytes) -> str:
    status: str = await billing.fetchval(
        "SELECT status FROM e_invoice_confirmations WHERE token_hash = $1", digest
    )
    return status


async def test_the_erp_turns_e_invoice_on_once_and_it_is_told_back_by_erp(
    billing: ServiceHandlers,
) -> None:
    customer_id = new_customer()
    message = erp_on(customer_id, "paper@example.com")
    await billing.assert_redelivery_changes_nothing(message)

    found = await consent(billing, customer_id)
    assert (found["state"], found["address"], found["regulations_version"]) == (
        "on",
        "paper@example.com",
        "2026-11",
    )
    assert found["since"] is not None
    assert await history(billing, customer_id) == [
        ("activated", "paper@example.com", "erp", None, "2026-11")
    ]
    [change] = await changes(billing, customer_id)
    assert change["action"] == "activated" and change["state"] == "on"
    assert (change["address"], change["previous_address"]) == ("paper@example.com", None)
    assert change["changed_by"] == "erp" and change["changed_by_account_id"] is None
    assert change["effective_from"] == billing.settings.today().isoformat()

    # The same fact under a new message id (the ERP sending its state again): nothing.
    before = await billing.snapshot()
    assert await billing.deliver(erp_on(customer_id, "PAPER@example.com")) == "handled"
    assert await billing.snapshot() == before


async def test_the_erp_changes_the_address_and_withdraws(billing: ServiceHandlers) -> None:
    customer_id = new_customer()
    await billing.deliver(erp_on(customer_id, "old@example.com"))
    await billing.deliver(erp_on(customer_id, "new@example.com", version=None))
    assert (await consent(billing, customer_id))["address"] == "new@example.com"

    await billing.assert_redelivery_changes_nothing(erp_off(customer_id))
    found = await consent(billing, customer_id)
    assert (found["state"], found["address"], found["since"]) == ("off", None, None)
    # Off keeps the version last accepted when the ERP names none.
    assert found["regulations_version"] == "2026-11"
    assert [h[:3] for h in await history(billing, customer_id)] == [
        ("activated", "old@example.com", "erp"),
        ("address-changed", "new@example.com", "erp"),
        ("withdrawn", "new@example.com", "erp"),
    ]
    told = await changes(billing, customer_id)
    assert [(c["action"], c["state"], c["address"], c["previous_address"]) for c in told] == [
        ("activated", "on", "old@example.com", None),
        ("address-changed", "on", "new@example.com", "old@example.com"),
        ("withdrawn", "off", None, "new@example.com"),
    ]
    assert len({c["change_id"] for c in told}) == 3
    # The old address is told of the new one, as when the customer changes it.
    replaced = [
        e.payload
        for e in await billing.published("billing.e-invoice.address-replaced")
        if e.payload["customer_id"] == customer_id
    ]
    assert [(r["email"], r["new_address"], r["language"]) for r in replaced] == [
        ("old@example.com", "new@example.com", "pl")
    ]

    # Off again: nothing to do, nothing told.
    before = await billing.snapshot()
    await billing.deliver(erp_off(customer_id))
    assert await billing.snapshot() == before


async def test_an_erp_consent_cancels_the_customers_waiting_link(billing: ServiceHandlers) -> None:
    customer_id = new_customer()
    link = await waiting_link(billing, customer_id, "activate")
    await billing.deliver(erp_on(customer_id, "form@example.com"))
    assert await link_status(billing, link) == "cancelled"
    assert (await consent(billing, customer_id))["state"] == "on"
    assert [c["action"] for c in await changes(billing, customer_id)] == ["activated"]


async def test_an_erp_address_cancels_a_waiting_address_change(billing: ServiceHandlers) -> None:
    customer_id = new_customer()
    await billing.deliver(erp_on(customer_id, "old@example.com"))
    link = await waiting_link(billing, customer_id, "change-address")
    await billing.deliver(erp_on(customer_id, "form@example.com"))
    assert await link_status(billing, link) == "cancelled"
    assert (await consent(billing, customer_id))["address"] == "form@example.com"


async def test_erp_off_while_a_request_waits_cancels_it_and_tells_nothing(
    billing: ServiceHandlers,
) -> None:
    customer_id = new_customer()
    link = await waiting_link(billing, customer_id, "activate")
    assert await billing.deliver(erp_off(customer_id)) == "handled"
    assert await link_status(billing, link) == "cancelled"
    assert (await consent(billing, customer_id))["state"] == "off"
    assert [h[:3] for h in await history(billing, customer_id)] == [
        ("withdrawn", "asked@example.com", "erp")
    ]
    assert await changes(billing, customer_id) == []  # it was never on for the ERP


def activated(customer_id: str | None, language: str) -> identity.AccountActivated:
    return identity.AccountActivated(
        account_id=uuid.uuid4(),
        email="owner@example.com",
        language=language,  # type: ignore[arg-type]
        login=f"e{secrets.token_hex(3)}",
        customer_id=customer_id,
    )


async def test_account_activations_give_the_emails_language(billing: ServiceHandlers) -> None:
    customer_id = new_customer()
    async with billing.pool.acquire() as conn:
        assert await repository.language(conn, customer_id) == "pl"  # nothing known: Polish
    ours = erp.CustomerUpserted(
        customer_id=customer_id, name="Anna", kind="person", address=address(), language="en"
    )
    await billing.deliver(ours)
    async with billing.pool.acquire() as conn:
        assert await repository.language(conn, customer_id) == "en"  # the ERP's
    message = activated(customer_id, "uk")
    await billing.assert_redelivery_changes_nothing(message)
    rows = await billing.fetch(
        "SELECT account_id, language FROM account_languages WHERE customer_id = $1", customer_id
    )
    assert [tuple(r) for r in rows] == [(message.account_id, "uk")]
    async with billing.pool.acquire() as conn:
        assert await repository.language(conn, customer_id) == "uk"  # the account's first

    # A manager's or operator's account names no customer: nothing stored.
    before = await billing.snapshot()
    assert await billing.deliver(activated(None, "ru")) == "handled"
    assert await billing.snapshot() == before
