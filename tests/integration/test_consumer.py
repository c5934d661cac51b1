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

from shared.envelope import Envelope, new_envelope
from shared.events import erp
from shared.messaging.consumer import PermanentError
from shared.messaging.outbox import OutboxRelay, add_to_outbox
from shared.messaging.packing import ENVELOPES_CONTENT_TYPE, ENVELOPES_HEADER, pack, unpack
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


def packed(*envelopes: dict | Envelope) -> aio_pika.Message:
    bodies = [e.model_dump_json() if isinstance(e, Envelope) else json.dumps(e) for e in envelopes]
    return aio_pika.Message(body=pack(bodies), content_type=ENVELOPES_CONTENT_TYPE)


def envelope(payload: erp.CustomerUpserted) -> Envelope:
    return new_envelope("erp.customer.upserted", payload, "erp")


async def test_packed_message_is_taken_envelope_by_envelope(probe: Probe) -> None:
    calls: list[str] = []

    async def handler(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        calls.append(c.customer_id)
        if c.customer_id == "P-3":
            raise PermanentError("customer P-3 is blocked")

    async def inbox() -> set[uuid.UUID]:
        async with probe.pool.acquire() as conn:
            return {r["message_id"] for r in await conn.fetch("SELECT message_id FROM inbox")}

    consumer = await probe.consume("packed", handler)
    queue = consumer.queue_name
    seen_before = envelope(customer("P-0"))
    await probe.client.publish_raw("erp.customer.upserted", packed(seen_before))
    await wait_until(lambda: calls == ["P-0"], what="the first packed message")

    bad_payload = envelope(customer("P-2")).model_dump(mode="json")
    bad_payload["payload"]["kind"] = "alien"
    first, refused, last = (envelope(customer(c)) for c in ("P-1", "P-3", "P-4"))
    await probe.client.publish_raw(
        "erp.customer.upserted", packed(first, bad_payload, refused, seen_before, last)
    )
    dead = await probe.dead_letters(queue, count=2)
    letters = {json.loads(m.body)["payload"]["customer_id"]: m for m in dead}
    assert set(letters) == {"P-2", "P-3"}
    assert (
        letters["P-2"]
        .headers[REASON_HEADER]
        .startswith("invalid payload for erp.customer.upserted: kind:")
    )
    assert letters["P-3"].headers[REASON_HEADER] == (
        "erp.customer.upserted refused: customer P-3 is blocked"
    )
    for letter in dead:  # each dead letter is its envelope alone, named by its own id
        assert letter.content_type == "application/json"
        assert letter.message_id == json.loads(letter.body)["id"]
    handled = await inbox()
    assert {seen_before.id, first.id, last.id} <= handled
    assert refused.id not in handled and uuid.UUID(bad_payload["id"]) not in handled
    # P-0 was not handled again; the batch with P-3 rolled back and ran again one by one.
    assert calls.count("P-0") == 1 and calls.count("P-4") >= 1
    assert outcome(queue, "duplicate") == 1
    await consumer.stop()  # what it had not acked would now be back in the queue
    assert await _ready_messages(probe, queue) == 0


async def test_packed_message_retries_only_its_failed_envelopes(probe: Probe) -> None:
    calls = {"R-1": 0, "R-2": 0}

    async def flaky(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        calls[c.customer_id] += 1
        if c.customer_id == "R-2" and calls["R-2"] <= 2:
            raise ConnectionError("downstream not there yet")

    consumer = await probe.consume("packed-flaky", flaky)
    queue = consumer.queue_name
    await probe.client.publish_raw(
        "erp.customer.upserted", packed(envelope(customer("R-1")), envelope(customer("R-2")))
    )
    await wait_until(lambda: outcome(queue, "handled") >= 2, what="both envelopes handled")
    # The batch failed on R-2 and ran again one by one: R-1 was handled then, and only R-2
    # went to the retry queue (the whole message again would have been a duplicate for R-1).
    assert calls == {"R-1": 2, "R-2": 3}
    assert outcome(queue, "retried") == 1
    assert outcome(queue, "duplicate") == 0


async def test_packed_message_that_is_not_an_array_is_dead_lettered(probe: Probe) -> None:
    async def handler(tx: Tx, env: Envelope, c: erp.CustomerUpserted) -> None:
        raise AssertionError("nothing to handle")

    consumer = await probe.consume("packed-bad", handler)
    for body in (b"{}", b"[1, 2]", b"[not json"):
        await probe.client.publish_raw(
            "erp.customer.upserted",
            aio_pika.Message(body=body, content_type=ENVELOPES_CONTENT_TYPE),
        )
    dead = await probe.dead_letters(consumer.queue_name, count=3)
    reasons = sorted(m.headers[REASON_HEADER] for m in dead)
    assert reasons[0] == "packed envelopes: every item must be a JSON object (an envelope)"
    assert reasons[1].startswith("packed envelopes: invalid JSON: ")
    assert reasons[2] == "packed envelopes: the body must be a non-empty JSON array"


async def _ready_messages(probe: Probe, queue: str) -> int:
    channel = await probe.broker.channel(1)
    try:
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0
    finally:
        await channel.close()


async def test_outbox_relay_packs_runs_of_one_type_in_order(probe: Probe) -> None:
    from shared.events.billing import CustomerChanged, InvoiceIssued

    channel = await probe.broker.channel(10)
    events = await channel.declare_exchange(probe.broker.names.exchange("events"), passive=True)
    sink = await channel.declare_queue(exclusive=True)
    for key in ("billing.customer.upserted", "billing.invoice.issued"):
        await sink.bind(events, routing_key=key)
    invoice = InvoiceIssued(
        invoice_number="F-9",
        customer_id="K-9",
        contract_number="U-9",
        issued_on=date(2026, 1, 31),
        due_on=date(2026, 2, 14),
        gross=Decimal("1.00"),
    )
    async with probe.pool.acquire() as conn, conn.transaction():
        written = [
            *[
                await add_to_outbox(
                    conn, CustomerChanged(customer_id=f"K-{n}", name="X"), "billing"
                )
                for n in range(3)
            ],
            await add_to_outbox(conn, invoice, "billing"),
            *[
                await add_to_outbox(
                    conn, CustomerChanged(customer_id=f"K-{n}", name="Y"), "billing"
                )
                for n in range(3, 5)
            ],
        ]
    await OutboxRelay(probe.pool, probe.broker).publish_batch()
    received = []
    for _ in range(3):
        received.append(await wait_until(lambda: sink.get(no_ack=True, fail=False), what="3"))
    assert [m.content_type for m in received] == [
        ENVELOPES_CONTENT_TYPE,
        "application/json",
        ENVELOPES_CONTENT_TYPE,
    ]
    assert [m.headers.get(ENVELOPES_HEADER) for m in received] == [3, None, 2]
    ids = [
        [e["id"] for e in unpack(m.body)]
        if m.content_type == ENVELOPES_CONTENT_TYPE
        else [json.loads(m.body)["id"]]
        for m in received
    ]
    assert [i for group in ids for i in group] == [str(e.id) for e in written]
    assert await sink.get(no_ack=True, fail=False) is None
    async with probe.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    await channel.close()
