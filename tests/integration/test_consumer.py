"""The shared consumer and outbox against real RabbitMQ and PostgreSQL, with probe handlers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import aio_pika
import pytest_asyncio
from prometheus_client import REGISTRY

from shared.envelope import Envelope
from shared.events import erp
from shared.messaging.consumer import PermanentError
from shared.messaging.outbox import OutboxRelay, add_to_outbox
from shared.messaging.topology import REASON_HEADER, Names
from shared.tx import Tx
from tests.support.consumer_probe import Probe as BaseProbe
from tests.support.consumer_probe import consumer_probe
from tests.support.erp import address
from tests.support.infra import Infra
from tests.support.platform import wait_until

SERVICE = "probe"


class Probe(BaseProbe):
    async def dead_letters(
        self, queue: str, count: int = 1
    ) -> list[aio_pika.abc.AbstractIncomingMessage]:
        channel = await self.broker.channel(10)
        dlq = await channel.declare_queue(Names.dead_letter_queue(queue), passive=True)
        found: list = []

        async def collect() -> bool:
            while (message := await dlq.get(no_ack=True, fail=False)) is not None:
                found.append(message)
            return len(found) >= count

        await wait_until(collect, what=f"{count} dead letter(s) on {queue}")
        await channel.close()
        return found


def customer(customer_id: str) -> erp.CustomerUpserted:
    return erp.CustomerUpserted(
        customer_id=customer_id, name="Probe", kind="person", address=address()
    )


def outcome(queue: str, name: str) -> float:
    return REGISTRY.get_sample_value("ebok_messages_total", {"queue": queue, "outcome": name}) or 0


@pytest_asyncio.fixture(loop_scope="session")
async def probe(infra: Infra, keys: Path) -> AsyncIterator[Probe]:
    async with consumer_probe(infra, keys, SERVICE, retry_delays_ms=[50, 100, 200]) as base:
        yield Probe(**vars(base))


async def test_handled_once_and_recorded_in_inbox(probe: Probe) -> None:
    seen: list[str] = []

    async def handler(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        seen.append(c.customer_id)

    consumer = await probe.consume("once", handler)
    message_id = await probe.client.publish("erp.customer.upserted", customer("C-1"))
    await probe.client.publish("erp.customer.upserted", customer("C-1"), message_id=message_id)
    await wait_until(
        lambda: outcome(consumer.queue_name, "duplicate") >= 1,
        what="the redelivery to be seen",
    )
    assert seen == ["C-1"]
    async with probe.pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1", message_id) == 1
        )


async def test_transient_failure_is_retried_until_it_succeeds(probe: Probe) -> None:
    calls = 0

    async def flaky(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        nonlocal calls
        calls += 1
        await tx.conn.execute("CREATE TEMP TABLE IF NOT EXISTS probe_effect (x int)")
        if calls < 3:
            raise ConnectionError("downstream not there yet")

    consumer = await probe.consume("flaky", flaky)
    await probe.client.publish("erp.customer.upserted", customer("C-2"))
    await wait_until(
        lambda: outcome(consumer.queue_name, "handled") >= 1,
        what="the third attempt to succeed",
    )
    assert calls == 3
    assert outcome(consumer.queue_name, "retried") == 2


async def test_gives_up_after_bounded_retries_with_the_reason(probe: Probe) -> None:
    async def broken(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        raise RuntimeError("boom")

    consumer = await probe.consume("broken", broken)
    message_id = await probe.client.publish("erp.customer.upserted", customer("C-3"))
    [dead] = await probe.dead_letters(consumer.queue_name)
    assert dead.message_id == str(message_id)
    assert dead.headers[REASON_HEADER] == "gave up after 4 attempts: RuntimeError: boom"
    assert json.loads(dead.body)["payload"]["customer_id"] == "C-3"
    async with probe.pool.acquire() as conn:
        assert not await conn.fetchval("SELECT 1 FROM inbox WHERE message_id = $1", message_id)


async def test_permanent_error_is_dead_lettered_at_once(probe: Probe) -> None:
    calls = 0

    async def refuses(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("customer C-4 is blocked")

    consumer = await probe.consume("refuses", refuses)
    await probe.client.publish("erp.customer.upserted", customer("C-4"))
    [dead] = await probe.dead_letters(consumer.queue_name)
    assert dead.headers[REASON_HEADER] == "erp.customer.upserted refused: customer C-4 is blocked"
    assert calls == 1


async def test_poison_messages_go_to_the_dead_letter_queue_with_reasons(probe: Probe) -> None:
    handled: list[str] = []

    async def handler(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        handled.append(c.customer_id)

    consumer = await probe.consume("poison", handler)
    good = Envelope.model_validate_json(await _envelope_json(probe, customer("C-5")))
    bad_payload = good.model_copy(
        update={"id": uuid.uuid4(), "payload": {**good.payload, "kind": "alien"}}
    )
    wrong_type = good.model_copy(update={"id": uuid.uuid4(), "type": "erp.meter.exploded"})
    no_id = {k: v for k, v in json.loads(good.model_dump_json()).items() if k != "id"}
    for body in (
        b"{not json",
        json.dumps(no_id).encode(),
        bad_payload.model_dump_json().encode(),
        wrong_type.model_dump_json().encode(),
    ):
        await probe.client.publish_raw("erp.customer.upserted", aio_pika.Message(body=body))
    await probe.client.publish_raw(
        "erp.customer.upserted", aio_pika.Message(body=good.model_dump_json().encode())
    )

    dead = await probe.dead_letters(consumer.queue_name, count=4)
    reasons = sorted(m.headers[REASON_HEADER] for m in dead)
    assert reasons[0].startswith("invalid envelope:") and "Invalid JSON" in reasons[0]
    assert reasons[1].startswith("invalid envelope: id: Field required")
    assert reasons[2].startswith("invalid payload for erp.customer.upserted: kind:")
    assert reasons[3] == "no handler for type 'erp.meter.exploded' on this queue"
    await wait_until(lambda: handled == ["C-5"], what="the good message")


async def _envelope_json(probe: Probe, payload: erp.CustomerUpserted) -> str:
    from shared.envelope import new_envelope

    return new_envelope("erp.customer.upserted", payload, "erp").model_dump_json()


async def test_graceful_stop_finishes_the_message_in_hand(probe: Probe) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def slow(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        started.set()
        await release.wait()
        finished.append(c.customer_id)

    consumer = await probe.consume("slow", slow)
    message_id = await probe.client.publish("erp.customer.upserted", customer("C-6"))
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done(), "stop must wait for the message in hand"
    release.set()
    await asyncio.wait_for(stopping, 10)
    probe.consumers.remove(consumer)
    probe.consumers.append(consumer)  # still cleaned up at the end
    assert finished == ["C-6"]
    async with probe.pool.acquire() as conn:
        assert await conn.fetchval("SELECT 1 FROM inbox WHERE message_id = $1", message_id)


async def test_outbox_relay_publishes_with_confirms_and_keeps_unroutable_events(
    probe: Probe,
) -> None:
    channel = await probe.broker.channel(10)
    events = await channel.declare_exchange(probe.broker.names.exchange("events"), passive=True)
    sink = await channel.declare_queue(exclusive=True)
    await sink.bind(events, routing_key="billing.customer.upserted")
    relay = OutboxRelay(probe.pool, probe.broker)
    from shared.events.billing import CustomerChanged, InvoiceIssued

    async with probe.pool.acquire() as conn, conn.transaction():
        routed = await add_to_outbox(conn, CustomerChanged(customer_id="C-7", name="X"), "billing")
        unroutable = await add_to_outbox(
            conn,
            InvoiceIssued(
                invoice_number="F-8",
                customer_id="C-8",
                contract_number="U-8",
                issued_on=date(2026, 1, 31),
                due_on=date(2026, 2, 14),
                gross=Decimal("1.00"),
            ),
            "billing",
        )
    await relay.publish_batch()
    received = await wait_until(lambda: sink.get(no_ack=True, fail=False), what="the event")
    assert received.message_id == str(routed.id)
    assert received.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    async with probe.pool.acquire() as conn:
        rows = {r["message_id"]: r for r in await conn.fetch("SELECT * FROM outbox")}
    assert rows[routed.id]["published_at"] is not None
    assert rows[unroutable.id]["published_at"] is None
    assert rows[unroutable.id]["attempts"] == 1 and "NO_ROUTE" in rows[unroutable.id]["last_error"]

    # Once something listens for it, the kept event goes out on a later attempt.
    await sink.bind(events, routing_key="billing.invoice.issued")
    async with probe.pool.acquire() as conn:
        await conn.execute("UPDATE outbox SET next_attempt_at = now() WHERE published_at IS NULL")
    await relay.publish_batch()
    late = await wait_until(lambda: sink.get(no_ack=True, fail=False), what="the kept event")
    assert late.message_id == str(unroutable.id)
    await channel.close()
