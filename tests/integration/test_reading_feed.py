"""The reading system's feeds into metering, over real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import aio_pika
from prometheus_client import REGISTRY

from deploy.integration_client import IntegrationClient
from shared.events import reading
from shared.messaging.topology import REASON_HEADER, Names
from tests.support.erp import daily_readings
from tests.support.platform import wait_until
from tests.support.stack import Stack


async def stored(stack: Stack, meter: str) -> list[tuple[datetime, Decimal, str]]:
    conn = await stack.platform.db("metering")
    try:
        rows = await conn.fetch(
            "SELECT read_at, value, source FROM readings WHERE meter_number = $1 ORDER BY read_at",
            meter,
        )
    finally:
        await conn.close()
    return [(r["read_at"], r["value"], r["source"]) for r in rows]


async def dead_letters(stack: Stack) -> list[aio_pika.abc.AbstractIncomingMessage]:
    queue_name = Names.dead_letter_queue(stack.platform.names.queue("metering", "readings"))
    connection = await aio_pika.connect(stack.platform.settings.amqp_url)
    found = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.append(message)
    return found


async def test_batch_keeps_good_readings_and_dead_letters_the_malformed(stack: Stack) -> None:
    meter = "M-batch-1"
    readings = daily_readings(
        meter, datetime(2026, 1, 1).date(), 1000, Decimal("10.000"), Decimal("0.250")
    )
    readings[3]["value"] = "-5"
    readings[7] = {"meter_number": meter, "read_at": "not a time", "value": "1", "source": "remote"}
    readings[9]["source"] = "guess"
    settings = stack.platform.settings
    async with IntegrationClient(settings.amqp_url, settings.namespace, producer="reading") as rs:
        message_id = await rs.publish(
            "reading.batch.recorded", reading.ReadingBatchRecorded(readings=readings)
        )
    rows = await wait_until(lambda: _count(stack, meter, 997), what="997 good readings")
    assert len(rows) == 997
    assert rows[0] == (datetime(2026, 1, 1, 6, tzinfo=UTC), Decimal("10.000"), "remote")

    # The same readings again, in a batch and singly: duplicates change nothing.
    queue = stack.platform.names.queue("metering", "readings")
    before = handled(queue)
    async with IntegrationClient(settings.amqp_url, settings.namespace, producer="reading") as rs:
        await rs.publish("reading.batch.recorded", reading.ReadingBatchRecorded(readings=readings))
        await rs.publish(
            "reading.recorded",
            reading.ReadingRecorded(
                meter_number=meter,
                read_at=datetime(2026, 1, 1, 6, tzinfo=UTC),
                value=Decimal("99"),
                source="estimate",
            ),
        )
        await rs.publish(
            "reading.recorded",
            reading.ReadingRecorded(
                meter_number=meter,
                read_at=datetime(2030, 1, 1, tzinfo=UTC),
                value=Decimal("999"),
                source="inspector",
            ),
        )
    await wait_until(lambda: handled(queue) >= before + 3, what="the three messages")
    rows = await stored(stack, meter)
    assert len(rows) == 998
    assert rows[0] == (datetime(2026, 1, 1, 6, tzinfo=UTC), Decimal("10.000"), "remote")

    letters = await wait_until(lambda: dead_letters(stack), what="the rejected readings")
    first = letters[0]
    assert first.headers[REASON_HEADER].startswith("3 of 1000 readings malformed; first: #3: value")
    body = json.loads(first.body)
    assert body["type"] == "metering.readings.rejected"
    assert body["payload"]["source_message_id"] == str(message_id)
    rejected = {r["index"]: r["reason"] for r in body["payload"]["rejected"]}
    assert set(rejected) == {3, 7, 9}
    assert rejected[7].startswith("read_at:") and rejected[9].startswith("source:")


def handled(queue: str) -> float:
    sample = REGISTRY.get_sample_value(
        "ebok_messages_total", {"queue": queue, "outcome": "handled"}
    )
    return sample or 0


async def _count(stack: Stack, meter: str, expected: int) -> list | None:
    rows = await stored(stack, meter)
    return rows if len(rows) >= expected else None


async def test_a_whole_malformed_batch_message_is_dead_lettered(stack: Stack) -> None:
    settings = stack.platform.settings
    async with IntegrationClient(settings.amqp_url, settings.namespace, producer="reading") as rs:
        body = json.dumps(
            {
                "id": "00000000-0000-0000-0000-00000000abcd",
                "type": "reading.batch.recorded",
                "version": 1,
                "occurred_at": "2026-01-01T00:00:00Z",
                "producer": "reading",
                "correlation_id": "c",
                "payload": {"readings": []},
            }
        ).encode()
        await rs.publish_raw("reading.batch.recorded", aio_pika.Message(body=body))
    letters = await wait_until(lambda: dead_letters(stack), what="the empty batch")
    assert "readings: List should have at least 1 item" in letters[0].headers[REASON_HEADER]
