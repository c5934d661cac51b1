"""PostgreSQL stopped for real in the middle of a stream of readings, for longer than the whole
retry budget: the consumers pause while it is away and resume when it is back — every reading
is stored once, none is dead-lettered, nothing is replayed by hand."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aio_pika
import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from shared.events import reading
from shared.messaging.topology import Names
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack

pytestmark = pytest.mark.fault

# Longer than the tests' whole retry budget (100 + 300 + 1000 ms): before the consumers paused,
# every message handled in the outage went to the dead-letter queue.
OUTAGE_SECONDS = 6.0
READINGS = (60, 120, 60)  # before, during and after the outage


async def pg_cluster(action: str) -> None:
    assert shutil.which("pg_ctlcluster"), "this test stops the local PostgreSQL (pg_ctlcluster)"
    [version] = os.listdir("/etc/postgresql")
    proc = await asyncio.create_subprocess_exec(
        "pg_ctlcluster",
        "--skip-systemctl-redirect",
        version,
        "main",
        action,
        *(("-m", "fast") if action == "stop" else ()),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()


@pytest_asyncio.fixture(loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(infra, keys, queue_type="quorum"):
        yield running


async def stored(stack: Stack, meter: str) -> int:
    conn = await stack.platform.db("metering")
    try:
        return await conn.fetchval("SELECT count(*) FROM readings WHERE meter_number = $1", meter)
    finally:
        await conn.close()


async def dead_letters(stack: Stack) -> int:
    names = Names(stack.platform.settings.namespace)
    consumer_queues, _ = stack.platform.queues()
    connection = await aio_pika.connect(stack.platform.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        total = 0
        for queue in consumer_queues:
            declared = await channel.declare_queue(names.dead_letter_queue(queue), passive=True)
            total += declared.declaration_result.message_count
        return total


async def test_readings_wait_out_a_database_outage(stack: Stack) -> None:
    meter = f"M-outage-{os.getpid()}"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    settings = stack.platform.settings
    sent = 0

    async def send(client: IntegrationClient, count: int) -> None:
        nonlocal sent
        for _ in range(count):
            await client.publish(
                "reading.recorded",
                reading.ReadingRecorded(
                    meter_number=meter,
                    read_at=start + timedelta(hours=sent),
                    value=Decimal(sent),
                    source="remote",
                ),
            )
            sent += 1

    before, during, after = READINGS
    async with IntegrationClient(settings.amqp_url, settings.namespace, producer="reading") as rs:
        await send(rs, before)
        await wait_until(lambda: stored(stack, meter), what="the first readings to be stored")
        await pg_cluster("stop")
        try:
            await send(rs, during)  # into the queue while the database is away
            await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for a result
        finally:
            await pg_cluster("start")
        await send(rs, after)

    async def all_stored() -> bool:
        try:
            return await stored(stack, meter) == sent
        except OSError:
            return False  # PostgreSQL is still starting

    await wait_until(all_stored, timeout=90, what="every reading to be stored")
    assert await dead_letters(stack) == 0
