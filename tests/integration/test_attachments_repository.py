"""attach() and of_case(), what the cases' capability calls, against real PostgreSQL: uploads of
this account for this customer are linked to a case, anything else is refused on
attachment_ids, a case holds at most five, and unattached uploads are purged after a day."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.correspondence import attachments_repository as repo
from shared.http.problems import Problem
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

CUSTOMER = "C-ATT-1"
PDF = b"%PDF-1.4 a small file"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def db(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("correspondence", infra, keys) as handlers:
        yield handlers


async def upload(
    db: ServiceHandlers, account: uuid.UUID, customer: str = CUSTOMER, name: str = "a.pdf"
) -> uuid.UUID:
    attachment_id = uuid.uuid4()
    async with db.pool.acquire() as conn, conn.transaction():
        await repo.add_chunk(conn, attachment_id, 0, PDF)
        await repo.add_attachment(
            conn,
            attachment_id,
            customer_id=customer,
            account_id=account,
            filename=name,
            content_type="application/pdf",
            size=len(PDF),
            sha256=hashlib.sha256(PDF).hexdigest(),
        )
    return attachment_id


async def attach(
    db: ServiceHandlers,
    ids: list[uuid.UUID],
    account: uuid.UUID,
    case_id: uuid.UUID,
    message_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    async with db.pool.acquire() as conn, conn.transaction():
        rows = await repo.attach(
            conn,
            ids,
            customer_id=CUSTOMER,
            account_id=account,
            case_id=case_id,
            message_id=message_id,
        )
    return [r["attachment_id"] for r in rows]


async def refusal(coro: object) -> Problem:
    with pytest.raises(Problem) as caught:
        await coro  # type: ignore[misc]
    assert caught.value.status == 422
    assert caught.value.errors and caught.value.errors[0]["field"] == "attachment_ids"
    return caught.value


async def test_uploads_are_linked_to_the_case_and_listed_oldest_first(
    db: ServiceHandlers,
) -> None:
    account, case_id, message_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first, second = await upload(db, account, name="first.pdf"), await upload(db, account)
    assert sorted(await attach(db, [first], account, case_id)) == [first]
    assert await attach(db, [second], account, case_id, message_id) == [second]
    async with db.pool.acquire() as conn:
        rows = await repo.of_case(conn, case_id)
    assert [(r["attachment_id"], r["message_id"]) for r in rows] == [
        (first, None),
        (second, message_id),
    ]
    assert rows[0]["filename"] == "first.pdf"
    assert rows[0]["content_type"] == "application/pdf" and rows[0]["size"] == len(PDF)


async def test_unknown_foreign_and_used_uploads_are_refused(db: ServiceHandlers) -> None:
    account, other_account = uuid.uuid4(), uuid.uuid4()
    mine, theirs = await upload(db, account), await upload(db, other_account)
    other_customer = await upload(db, account, customer="C-ATT-OTHER")
    for ids in ([uuid.uuid4()], [theirs], [other_customer], [mine, mine]):
        problem = await refusal(attach(db, ids, account, uuid.uuid4()))
        assert problem.code == "attachment-unknown"
    await attach(db, [mine], account, uuid.uuid4())
    problem = await refusal(attach(db, [mine], account, uuid.uuid4()))
    assert problem.code == "attachment-unknown", "already used by another case"
    # An upload older than a day is no longer usable.
    stale = await upload(db, account)
    await db.pool.execute(
        "UPDATE attachments SET uploaded_at = now() - interval '25 hours' WHERE attachment_id = $1",
        stale,
    )
    assert (await refusal(attach(db, [stale], account, uuid.uuid4()))).code == (
        "attachment-unknown"
    )


async def test_a_case_holds_at_most_five_counting_what_it_has(db: ServiceHandlers) -> None:
    account, case_id = uuid.uuid4(), uuid.uuid4()
    three = [await upload(db, account) for _ in range(3)]
    await attach(db, three, account, case_id)
    three_more = [await upload(db, account) for _ in range(3)]
    problem = await refusal(attach(db, three_more, account, case_id, uuid.uuid4()))
    assert problem.code == "too-many-attachments"
    async with db.pool.acquire() as conn:
        assert len(await repo.of_case(conn, case_id)) == 3, "nothing of a refused call is kept"
    await attach(db, three_more[:2], account, case_id)
    problem = await refusal(attach(db, three_more[2:], account, case_id))
    assert problem.code == "too-many-attachments"


async def test_purge_deletes_only_old_unattached_uploads_with_their_chunks(
    db: ServiceHandlers,
) -> None:
    account = uuid.uuid4()
    old, fresh, attached = [await upload(db, account) for _ in range(3)]
    await attach(db, [attached], account, uuid.uuid4())
    await db.pool.execute(
        "UPDATE attachments SET uploaded_at = now() - interval '25 hours' "
        "WHERE attachment_id = ANY($1::uuid[])",
        [old, attached],
    )
    async with db.pool.acquire() as conn:
        while await repo.purge_unattached(conn):
            pass
        left = {
            r["attachment_id"] for r in await conn.fetch("SELECT attachment_id FROM attachments")
        }
        chunks = {
            r["attachment_id"]
            for r in await conn.fetch("SELECT attachment_id FROM attachment_chunks")
        }
    assert old not in left and old not in chunks
    assert {fresh, attached} <= left and {fresh, attached} <= chunks
