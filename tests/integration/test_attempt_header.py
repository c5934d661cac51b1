"""A message whose attempt header an outside system filled with anything (text, a list, a negative
or huge number) is retried and dead-lettered with its reason like any other, against real
RabbitMQ and PostgreSQL: the header cannot break the consumer's error handling."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from shared.envelope import Envelope, new_envelope
from shared.events import erp
from shared.messaging.consumer import ATTEMPT_HEADER, Consumer, Subscription, attempts_so_far
from shared.messaging.topology import REASON_HEADER, Names
from shared.tx import Database, Tx
from tests.support.consumer_probe import Probe, consumer_probe
from tests.support.erp import address
from tests.support.infra import Infra
from tests.support.platform import wait_until

SERVICE = "attempts"
RETRY_DELAYS_MS = [50, 100, 200]
RETRIES = len(RETRY_DELAYS_MS)

# What an outside system may put in the header, and how many attempts the message then gets.
GARBAGE: dict[str, tuple[Any, int]] = {
    "text": ("abc", RETRIES + 1),
    "empty-text": ("", RETRIES + 1),
    "minus-one": (-1, RETRIES + 1),
    "negative": (-5, RETRIES + 1),
    "list": (["x", 1], RETRIES + 1),
    "table": ({"n": 1}, RETRIES + 1),
    "fraction": (2.5, RETRIES + 1),
    "boolean": (True, RETRIES + 1),
    "long-number-text": ("9" * 5000, RETRIES + 1),
    "number-text": ("2", RETRIES - 1),  # a whole number as text is still a number
    "huge": (10**15, 1),  # as many as we ever retry, and more: given up at once
}


@pytest_asyncio.fixture(loop_scope="session")
async def probe(infra: Infra, keys: Path) -> AsyncIterator[Probe]:
    # One message a transaction, so that the handler runs exactly once an attempt (a failed batch
    # runs its messages again one by one).
    async with consumer_probe(
        infra, keys, SERVICE, retry_delays_ms=RETRY_DELAYS_MS, consumer_batch_size=1
    ) as running:
        yield running


def customer_message(customer_id: str, attempt: Any) -> aio_pika.Message:
    payload = erp.CustomerUpserted(
        customer_id=customer_id, name="Probe", kind="person", address=address()
    )
    envelope = new_envelope("erp.customer.upserted", payload, "erp")
    return aio_pika.Message(
        body=envelope.model_dump_json().encode(),
        message_id=str(envelope.id),
        content_type="application/json",
        headers={ATTEMPT_HEADER: attempt},
    )


def outcome(queue: str, name: str) -> float:
    return REGISTRY.get_sample_value("ebok_messages_total", {"queue": queue, "outcome": name}) or 0


async def test_a_garbage_attempt_header_is_retried_and_dead_lettered_with_the_reason(
    probe: Probe,
) -> None:
    calls: Counter[str] = Counter()

    async def fails_but_the_good_one(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        calls[c.customer_id] += 1
        if c.customer_id != "good":
            raise RuntimeError("boom")

    consumer = Consumer(
        Database(probe.pool, SERVICE, probe.settings),
        probe.broker,
        Subscription("garbage", {erp.CustomerUpserted: fails_but_the_good_one}),
    )
    await consumer.start()
    probe.consumers.append(consumer)
    for name, (attempt, _) in GARBAGE.items():
        await probe.client.publish_raw("erp.customer.upserted", customer_message(name, attempt))
    await probe.client.publish_raw("erp.customer.upserted", customer_message("good", "abc"))

    channel = await probe.broker.channel(10)
    dlq = await channel.declare_queue(Names.dead_letter_queue(consumer.queue_name), passive=True)
    dead: dict[str, aio_pika.abc.AbstractIncomingMessage] = {}

    async def all_dead_lettered() -> bool:
        while (message := await dlq.get(no_ack=True, fail=False)) is not None:
            dead[json.loads(message.body)["payload"]["customer_id"]] = message
        return len(dead) >= len(GARBAGE)

    await wait_until(all_dead_lettered, what="every message with a garbage header dead-lettered")
    await channel.close()

    assert dead.keys() == GARBAGE.keys()
    for name, (_, attempts) in GARBAGE.items():
        assert calls[name] == attempts, name
        assert dead[name].headers[REASON_HEADER] == (
            f"gave up after {RETRIES + 1} attempts: RuntimeError: boom"
        ), name
    assert calls["good"] == 1
    await wait_until(lambda: outcome(consumer.queue_name, "handled") >= 1, what="the good one")
    expected_retries = sum(attempts - 1 for _, attempts in GARBAGE.values())
    assert outcome(consumer.queue_name, "retried") == expected_retries


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, 0),
        ({}, 0),
        ({ATTEMPT_HEADER: 2}, 2),
        ({ATTEMPT_HEADER: "1"}, 1),
        ({ATTEMPT_HEADER: b"1"}, 1),
        ({ATTEMPT_HEADER: " 3 "}, 3),
        ({ATTEMPT_HEADER: 7}, RETRIES),
        ({ATTEMPT_HEADER: "abc"}, 0),
        ({ATTEMPT_HEADER: b"\xff"}, 0),
        ({ATTEMPT_HEADER: -1}, 0),
        ({ATTEMPT_HEADER: [1]}, 0),
        ({ATTEMPT_HEADER: None}, 0),
        ({ATTEMPT_HEADER: False}, 0),
        ({ATTEMPT_HEADER: 1.0}, 0),
        ({ATTEMPT_HEADER: "9" * 5000}, 0),
    ],
)
def test_attempts_so_far_reads_only_whole_numbers_within_the_retries(
    headers: dict[str, Any] | None, expected: int
) -> None:
    assert attempts_so_far(headers, RETRIES) == expected
