"""The unit of work's guards and the start-up retry, with fake I/O."""

from __future__ import annotations

import pytest

from shared.events.billing import CustomerChanged
from shared.retrying import connect_with_retry
from shared.settings import Settings
from shared.tx import Tx


class FakeConnection:
    def __init__(self, in_transaction: bool) -> None:
        self.in_transaction = in_transaction
        self.executed: list[str] = []

    def is_in_transaction(self) -> bool:
        return self.in_transaction

    async def execute(self, query: str, *_args: object) -> str:
        self.executed.append(query)
        return "INSERT 0 1"


def tx(
    in_transaction: bool, queue: str | None = None, *, unit_of_transaction: bool = False
) -> tuple[Tx, FakeConnection]:
    """A Tx as `Database.connection()` makes it, or as `Database.transaction()` does."""
    conn = FakeConnection(in_transaction)
    outbox = [] if unit_of_transaction else None
    return Tx(conn, "billing", Settings(), queue, outbox), conn  # type: ignore[arg-type]


EVENT = CustomerChanged(customer_id="C1", name="Anna")


async def test_publish_outside_a_transaction_is_refused_and_writes_nothing() -> None:
    unit, conn = tx(in_transaction=False)
    with pytest.raises(RuntimeError, match="publish\\(\\) needs a transaction"):
        await unit.publish(EVENT)
    assert conn.executed == []


async def test_publish_writes_the_event_to_the_outbox_as_its_type() -> None:
    unit, conn = tx(in_transaction=True)
    envelope = await unit.publish(EVENT)
    assert (envelope.type, envelope.producer) == ("billing.customer.upserted", "billing")
    assert "INSERT INTO outbox" in conn.executed[0]


async def test_a_unit_of_transaction_writes_its_events_with_one_statement_when_it_finishes() -> (
    None
):
    unit, conn = tx(in_transaction=True, unit_of_transaction=True)
    await unit.publish(EVENT)
    await unit.publish(EVENT)
    assert conn.executed == []
    await unit.finish()
    assert len(conn.executed) == 1 and "INSERT INTO outbox" in conn.executed[0]


async def test_before_commit_work_runs_once_with_every_key_sorted_before_the_events() -> None:
    unit, conn = tx(in_transaction=True, unit_of_transaction=True)
    calls: list[list[str]] = []

    async def settle(t: Tx, keys: list[str]) -> None:
        calls.append(keys)
        await t.publish(EVENT)  # what it publishes goes out with the rest

    for key in ("C2", "C1", "C2"):
        unit.before_commit(settle, key)
    await unit.publish(EVENT)
    await unit.finish()
    assert calls == [["C1", "C2"]]
    assert len(conn.executed) == 1


async def test_before_commit_needs_a_unit_of_transaction() -> None:
    unit, _conn = tx(in_transaction=True)

    async def settle(_t: Tx, _keys: list[str]) -> None: ...

    with pytest.raises(RuntimeError, match=r"Database\.transaction"):
        unit.before_commit(settle, "C1")


async def test_dead_letter_needs_the_queue_of_a_message_handler() -> None:
    unit, conn = tx(in_transaction=True)
    with pytest.raises(RuntimeError, match="for message handlers"):
        await unit.dead_letter(EVENT, "why")
    assert conn.executed == []


async def test_connect_retries_until_it_succeeds() -> None:
    attempts = 0

    async def connect() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionRefusedError("not yet")
        return "connected"

    assert await connect_with_retry(connect, what="x", timeout=30, errors=(OSError,)) == "connected"
    assert attempts == 3


async def test_connect_gives_up_after_its_deadline() -> None:
    async def connect() -> str:
        raise ConnectionRefusedError("never")

    with pytest.raises(ConnectionRefusedError):
        await connect_with_retry(connect, what="x", timeout=0, errors=(OSError,))
