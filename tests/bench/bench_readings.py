"""Readings ingested per second by metering, beside aio-pika alone consuming the same messages.

    .venv/bin/python -m tests.bench.bench_readings [--batches 40] [--batch-size 5000]
                                                    [--singles 20000]

For each kind of message (reading.batch.recorded with thousands of readings, and single
reading.recorded messages): the queue is filled while metering is stopped, metering is started,
and the time from the first stored reading to the last is measured. A bare aio-pika consumer
(same prefetch, ack only) drains a copy of the same messages from a queue bound beside metering's.
Prints the figures; removes its databases and queues afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import aio_pika
import asyncpg

from deploy.integration_client import IntegrationClient
from shared.envelope import new_envelope
from shared.events import reading
from shared.messaging.broker import envelope_message
from shared.settings import ROOT, Settings
from tests.bench.support import bench_environment, spawn, stop, wait_ready
from tests.support.platform import Platform

PORT = 18304
LOGS = ROOT / "var" / "bench"
METERS = 2000


def batch_messages(batches: int, size: int) -> list[aio_pika.Message]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    messages = []
    for b in range(batches):
        readings = [
            {
                "meter_number": f"M-{n % METERS:05d}",
                "read_at": (start + timedelta(minutes=b * size + n)).isoformat(),
                "value": f"{(b * size + n) / 100:.3f}",
                "source": "remote",
            }
            for n in range(size)
        ]
        envelope = new_envelope(
            "reading.batch.recorded", reading.ReadingBatchRecorded(readings=readings), "reading"
        )
        messages.append(envelope_message(envelope))
    return messages


def single_messages(count: int) -> list[aio_pika.Message]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        envelope_message(
            new_envelope(
                "reading.recorded",
                reading.ReadingRecorded(
                    meter_number=f"S-{n % METERS:05d}",
                    read_at=start + timedelta(minutes=n),
                    value=n / 100,
                    source="remote",
                ),
                "reading",
            )
        )
        for n in range(count)
    ]


async def publish(settings: Settings, routing_key: str, messages: list[aio_pika.Message]) -> None:
    async with IntegrationClient(settings.amqp_url, settings.namespace, "reading") as client:
        for i in range(0, len(messages), 500):
            await asyncio.gather(
                *(client.publish_raw(routing_key, m) for m in messages[i : i + 500])
            )


async def raw_drain(settings: Settings, queue_name: str, count: int, prefetch: int) -> float:
    """Seconds for aio-pika alone to take and ack `count` messages."""
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.declare_queue(queue_name, passive=True)
        done = asyncio.Event()
        seen = 0
        started = 0.0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal seen, started
            if seen == 0:
                started = time.perf_counter()
            json.loads(message.body)  # what any consumer must at least do
            await message.ack()
            seen += 1
            if seen == count:
                done.set()

        await queue.consume(on_message)
        await asyncio.wait_for(done.wait(), 600)
        return time.perf_counter() - started


async def metering_drain(settings: Settings, env: dict[str, str], expected: int) -> float:
    """Start metering on a full queue; seconds from the first stored reading to the last."""
    proc = spawn("services.metering", env, LOGS / "metering-readings.log")
    try:
        conn = await asyncpg.connect(settings.service_dsn("metering"))
        try:
            before = await conn.fetchval("SELECT count(*) FROM readings")
            first = None
            while True:
                count = await conn.fetchval("SELECT count(*) FROM readings") - before
                now = time.perf_counter()
                if count and first is None:
                    first = now
                if count >= expected:
                    return now - first
                await asyncio.sleep(0.02)
        finally:
            await conn.close()
    finally:
        stop([proc])


async def declare_and_stop(env: dict[str, str]) -> None:
    """Run metering once so that its queues exist, then stop it."""
    proc = spawn("services.metering", env, LOGS / "metering-readings.log")
    try:
        await wait_ready(f"http://127.0.0.1:{PORT}/health/ready")
    finally:
        stop([proc])


async def main(batches: int, size: int, singles: int) -> None:
    env, settings = bench_environment(metering_port=str(PORT))
    namespace = settings.namespace
    platform = Platform(settings)
    raw_queue = f"{namespace}.bench.raw"
    results = []
    try:
        await declare_and_stop(env)
        connection = await aio_pika.connect(settings.amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(platform.names.exchange("integration"))
            raw = await channel.declare_queue(
                raw_queue, durable=True, arguments={"x-queue-type": settings.queue_type}
            )
            await raw.bind(exchange, "reading.batch.recorded")
            await raw.bind(exchange, "reading.recorded")

        for label, routing_key, messages, readings_count in (
            (
                f"{batches} batches x {size}",
                "reading.batch.recorded",
                batch_messages(batches, size),
                batches * size,
            ),
            (f"{singles} single messages", "reading.recorded", single_messages(singles), singles),
        ):
            await publish(settings, routing_key, messages)
            bare = await raw_drain(settings, raw_queue, len(messages), settings.amqp_prefetch)
            ours = await metering_drain(settings, env, readings_count)
            results.append((label, len(messages), readings_count, ours, bare))
    finally:
        connection = await aio_pika.connect(settings.amqp_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(raw_queue)
        await platform.remove_namespace()

    print(
        f"reading ingestion benchmark: prefetch {settings.amqp_prefetch}, "
        f"{settings.queue_type} queues, 2-core machine"
    )
    for label, messages, readings_count, ours, bare in results:
        print(
            f"{label:<26} metering {readings_count / ours:10.0f} readings/s "
            f"({messages / ours:8.0f} msg/s, {ours:6.2f} s)   "
            f"aio-pika alone {messages / bare:8.0f} msg/s ({bare:6.2f} s)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--singles", type=int, default=20000)
    args = parser.parse_args()
    asyncio.run(main(args.batches, args.batch_size, args.singles))
