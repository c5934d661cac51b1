"""Inbox and outbox rows are purged after their window, in bounded batches, keeping the recent
ones and the unpublished events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from shared.retention import BATCH, Purger
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra


@pytest_asyncio.fixture(loop_scope="session")
async def billing(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("billing", infra, keys) as handlers:
        yield handlers


async def test_old_rows_go_in_batches_and_recent_ones_stay(billing: ServiceHandlers) -> None:
    settings = billing.settings  # inbox 14 days, outbox 7 days
    await billing.execute(
        """INSERT INTO inbox (message_id, queue, type, handled_at)
           SELECT gen_random_uuid(), 'q', 't', now() - make_interval(days => $1)
             FROM generate_series(1, $2)""",
        settings.inbox_retention_days + 1,
        BATCH + 500,
    )
    recent = uuid.uuid4()
    await billing.execute(
        "INSERT INTO inbox (message_id, queue, type, handled_at) VALUES ($1, 'q', 't', now())",
        recent,
    )
    for published, age in (("old", 8), ("recent", 1), ("unpublished", 30)):
        await billing.execute(
            """INSERT INTO outbox (message_id, exchange, routing_key, body, created_at,
                                   published_at)
               VALUES ($1, 'events', $2, '{}', now() - make_interval(days => $3),
                       CASE WHEN $2 = 'unpublished' THEN NULL
                            ELSE now() - make_interval(days => $3) END)""",
            uuid.uuid4(),
            published,
            age,
        )
    purger = Purger(billing.pool, settings)

    assert await purger.step() is True, "a full batch: more is waiting"
    assert await billing.fetchval("SELECT count(*) FROM inbox") == 501
    assert await purger.step() is False
    assert [r["message_id"] for r in await billing.fetch("SELECT message_id FROM inbox")] == [
        recent
    ]
    assert sorted(
        r["routing_key"] for r in await billing.fetch("SELECT routing_key FROM outbox")
    ) == [
        "recent",
        "unpublished",
    ]
