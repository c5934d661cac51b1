"""Correspondence's message handlers against real PostgreSQL, without the broker: its copies of
billing's contracts and invoices; the back office's update of a case (status and timeline, the
reply in the thread, correspondence.case.changed for the account that wrote it); an unknown or
closed case dead-lettered with the reason; a redelivery or a repeated update changes nothing."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from services.correspondence import domain, repository
from shared.events import Event, billing
from shared.events.correspondence import BackOfficeCaseUpdated
from shared.messaging.consumer import PermanentError
from tests.support.erp import address
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

pytestmark = pytest.mark.asyncio(loop_scope="session")
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def correspondence(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("correspondence", infra, keys) as handlers:
        yield handlers


def contract(suffix: str, points: list[str]) -> billing.ContractChanged:
    return billing.ContractChanged(
        contract_number=f"U-{suffix}",
        customer_id=f"C-{suffix}",
        signed_on=date(2020, 1, 1),
        status="active",
        service_points=[
            billing.ServicePoint(service_point_id=p, address=address(), meter_number=f"M-{p}")
            for p in points
        ],
    )


def invoice(suffix: str) -> billing.InvoiceIssued:
    return billing.InvoiceIssued(
        invoice_number=f"FV/{suffix}",
        customer_id=f"C-{suffix}",
        contract_number=f"U-{suffix}",
        issued_on=date(2026, 1, 1),
        due_on=date(2026, 1, 15),
        gross=Decimal("108.00"),
    )


async def new_case(handlers: ServiceHandlers, status: str = "submitted") -> tuple[str, uuid.UUID]:
    """A case as POST /cases writes it (a year of its own, so numbers do not collide)."""
    case_id, account_id = uuid.uuid4(), uuid.uuid4()
    async with handlers.pool.acquire() as conn, conn.transaction():
        year = 3000 + secrets.randbelow(6000)
        seq = await repository.next_number(conn, year)
        await repository.insert_case(
            conn,
            repository.NewCase(
                case_id=case_id,
                year=year,
                seq=seq,
                customer_id=f"C-{secrets.token_hex(4)}",
                kind="question",
                title="Meter",
                subject="Meter",
                description="When is my meter read?",
                service_point_id=None,
                location=None,
                since=None,
                invoice_number=None,
                contract_number=None,
                changes=[],
                role="customer",
                account_id=account_id,
                login="jan",
            ),
        )
        if status != "submitted":
            await conn.execute("UPDATE cases SET status = $2 WHERE case_id = $1", case_id, status)
    return domain.case_number(year, seq), account_id


def update(number: str, status: str, **fields: object) -> BackOfficeCaseUpdated:
    return BackOfficeCaseUpdated.model_validate(
        {"number": number, "status": status, "by": "Anna Nowak", "updated_at": T0, **fields}
    )


FACTS: dict[str, Callable[[str], Event]] = {
    "contract": lambda s: contract(s, [f"SP-{s}-1", f"SP-{s}-2"]),
    "invoice": invoice,
}


@pytest.mark.parametrize("fact", sorted(FACTS))
async def test_a_redelivered_fact_changes_nothing(
    correspondence: ServiceHandlers, fact: str
) -> None:
    await correspondence.assert_redelivery_changes_nothing(FACTS[fact](secrets.token_hex(4)))


@pytest.mark.parametrize("fact", sorted(FACTS))
async def test_a_repeated_fact_changes_nothing(correspondence: ServiceHandlers, fact: str) -> None:
    payload = FACTS[fact](secrets.token_hex(4))
    assert await correspondence.deliver(payload) == "handled"
    before = await correspondence.snapshot()
    assert await correspondence.deliver(payload) == "handled"
    assert await correspondence.snapshot() == before


async def test_a_contract_lists_its_service_points_and_invoices_their_contract(
    correspondence: ServiceHandlers,
) -> None:
    s = secrets.token_hex(4)
    assert await correspondence.deliver(contract(s, [f"SP-{s}-1", f"SP-{s}-2"])) == "handled"
    # The contract now lists one service point: the other is no longer the customer's.
    assert await correspondence.deliver(contract(s, [f"SP-{s}-2"])) == "handled"
    assert await correspondence.deliver(invoice(s)) == "handled"
    async with correspondence.pool.acquire() as conn:
        assert await repository.service_point(conn, f"C-{s}", f"SP-{s}-1") is None
        point = await repository.service_point(conn, f"C-{s}", f"SP-{s}-2")
        assert point is not None and point["contract_number"] == f"U-{s}"
        assert await repository.service_point(conn, "C-other", f"SP-{s}-2") is None
        assert await repository.invoice_contract(conn, f"C-{s}", f"FV/{s}") == f"U-{s}"
        assert await repository.invoice_contract(conn, "C-other", f"FV/{s}") is None
        assert await repository.granted_contracts(conn, f"C-{s}", [f"SP-{s}-2"]) == [f"U-{s}"]


async def test_the_back_office_moves_a_case_on_and_its_reply_joins_the_thread(
    correspondence: ServiceHandlers,
) -> None:
    number, account_id = await new_case(correspondence)
    assert await correspondence.deliver(update(number, "registered")) == "handled"
    answered = update(
        number, "answered", reply="Your meter is read in May.", updated_at=T0 + timedelta(hours=1)
    )
    assert await correspondence.deliver(answered, producer="backoffice") == "handled"

    async with correspondence.pool.acquire() as conn:
        row = await repository.case_for_update(conn, number)
        assert row is not None and row["status"] == "answered"
        timeline = await repository.timeline(conn, row["case_id"])
        messages = await repository.messages(conn, row["case_id"])
    assert [(t["status"], t["by_role"], t["by_name"]) for t in timeline] == [
        ("submitted", "customer", None),
        ("registered", "utility", "Anna Nowak"),
        ("answered", "utility", "Anna Nowak"),
    ]
    assert [(m["author_role"], m["author_name"], m["text"], m["posted_at"]) for m in messages] == [
        ("utility", "Anna Nowak", "Your meter is read in May.", T0 + timedelta(hours=1))
    ]
    changed = [
        e.payload
        for e in await correspondence.published("correspondence.case.changed")
        if e.payload["number"] == number
    ]
    assert [(c["status"], c["reply"]) for c in changed] == [
        ("registered", None),
        ("answered", "Your meter is read in May."),
    ]
    assert {c["submitted_by_account_id"] for c in changed} == {str(account_id)}
    assert {c["kind"] for c in changed} == {"question"}


async def test_a_rejection_keeps_its_reason(correspondence: ServiceHandlers) -> None:
    number, _ = await new_case(correspondence)
    rejected = update(number, "rejected", reason="Not our network")
    assert await correspondence.deliver(rejected) == "handled"
    async with correspondence.pool.acquire() as conn:
        row = await repository.case_for_update(conn, number)
        assert row is not None and row["status"] == "rejected"
        timeline = await repository.timeline(conn, row["case_id"])
    assert (timeline[-1]["status"], timeline[-1]["reason"]) == ("rejected", "Not our network")
    [changed] = [
        e.payload
        for e in await correspondence.published("correspondence.case.changed")
        if e.payload["number"] == number
    ]
    assert (changed["status"], changed["reason"]) == ("rejected", "Not our network")


async def test_a_redelivered_update_changes_nothing(correspondence: ServiceHandlers) -> None:
    number, _ = await new_case(correspondence)
    await correspondence.assert_redelivery_changes_nothing(
        update(number, "answered", reply="Done.")
    )


async def test_the_same_update_under_a_new_message_id_changes_nothing(
    correspondence: ServiceHandlers,
) -> None:
    number, _ = await new_case(correspondence)
    answered = update(number, "answered", reply="Done.")
    assert await correspondence.deliver(answered) == "handled"
    before = await correspondence.snapshot()
    assert await correspondence.deliver(answered) == "handled"
    assert await correspondence.snapshot() == before  # no status, message nor event again


async def test_an_update_of_an_unknown_case_is_dead_lettered_with_the_reason(
    correspondence: ServiceHandlers,
) -> None:
    number = domain.case_number(2999, 999_999)
    before = await correspondence.snapshot()
    # PermanentError: the consumer sends the message to the dead-letter queue with this reason.
    with pytest.raises(PermanentError, match=f"no case {number}"):
        await correspondence.deliver(update(number, "registered"))
    assert await correspondence.snapshot() == before


@pytest.mark.parametrize("final", ["closed", "rejected"])
async def test_a_final_case_takes_no_later_update(
    correspondence: ServiceHandlers, final: str
) -> None:
    number, _ = await new_case(correspondence, final)
    before = await correspondence.snapshot()
    later = update(number, "in-progress", reply="Reopened", updated_at=T0 + timedelta(days=1))
    with pytest.raises(PermanentError, match=f"case {number}: the case is {final}"):
        await correspondence.deliver(later)
    assert await correspondence.snapshot() == before
    # The same final update again is no news, and no error.
    assert await correspondence.deliver(update(number, final, reason="Done")) == "handled"
    assert await correspondence.snapshot() == before
