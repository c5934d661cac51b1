"""Billing's consumer of completed online payments is killed (SIGKILL) in the middle of a stream
of `payments.payment.completed`, some of them published twice: after a restart every payment is
counted exactly once — its entries, the invoices' paid amounts, the balance and the ERP's
notice — nothing lost, nothing doubled, nothing dead-lettered."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import aio_pika
import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from services.billing import repository
from shared.events import erp, payments
from shared.messaging.topology import Names
from tests.integration.test_handlers_billing import invoice, online_payment
from tests.support.erp import address
from tests.support.infra import Infra
from tests.support.platform import Platform, make_settings, wait_until
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.fault

CUSTOMERS = 40
PAYMENTS = 3_000
PUBLISHED_TWICE = 400  # the payments service published these again (new message ids)


@pytest_asyncio.fixture(loop_scope="session")
async def billing(infra: Infra, keys: Path, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    running = ServiceProcess.instance("billing", settings, tmp_path, "billing", log_level="WARNING")
    try:
        running.start()
        await running.ready()
        yield running
    finally:
        await running.stop()
        await Platform(settings).remove_namespace()


async def count(billing: ServiceProcess, sql: str, *args: object) -> int:
    conn = await Platform(billing.settings).db("billing")
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def queue_depths(billing: ServiceProcess) -> tuple[int, int]:
    """Messages waiting on billing's payments queue and on its dead-letter queue."""
    queue = Names(billing.settings.namespace).queue("billing", "payments")
    connection = await aio_pika.connect(billing.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        waiting = await channel.declare_queue(queue, passive=True)
        dead = await channel.declare_queue(Names.dead_letter_queue(queue), passive=True)
        return (
            waiting.declaration_result.message_count or 0,
            dead.declaration_result.message_count or 0,
        )


async def test_each_payment_counts_once_though_billing_was_killed_mid_stream(
    billing: ServiceProcess,
) -> None:
    settings = billing.settings
    rng = random.Random(11)
    suffix = secrets.token_hex(3)
    customers = [f"C-K{suffix}-{n}" for n in range(CUSTOMERS)]
    # Each customer: one invoice far larger than what they pay, so every payment stands whole
    # on it (paid = the sum of the customer's payments).
    async with IntegrationClient(settings.amqp_url, settings.namespace) as erp_feed:
        for c in customers:
            await erp_feed.publish(
                erp.CustomerUpserted.TYPE,
                erp.CustomerUpserted(customer_id=c, name=c, kind="person", address=address()),
            )
            await erp_feed.publish(
                erp.InvoiceIssued.TYPE,
                invoice(c, f"FV/{c}", date(2026, 1, 15), "999999.00"),
            )
    await wait_until(
        lambda: _has(billing, "SELECT count(*) FROM invoices", CUSTOMERS),
        what="billing to have the invoices",
        timeout=60,
    )

    made: list[payments.PaymentCompleted] = []
    for n in range(PAYMENTS):
        c = customers[n % CUSTOMERS]
        amount = f"{rng.randint(100, 5000) / 100:.2f}"
        made.append(online_payment(c, amount, [(f"FV/{c}", amount)]))
    stream = made + rng.sample(made, PUBLISHED_TWICE)
    rng.shuffle(stream)

    # The stream waits in the durable queue while billing is down; then billing takes it and
    # is killed in the middle of it.
    await billing.stop()
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="payments", exchange="events"
    ) as payments_service:
        for start in range(0, len(stream), 200):
            await asyncio.gather(
                *(payments_service.publish(p.TYPE, p) for p in stream[start : start + 200])
            )
    billing.start()
    kept = "SELECT count(*) FROM online_payments"
    await wait_until(
        lambda: _at_least(billing, kept, PAYMENTS // 5),
        what="billing to be in the middle of the stream",
        timeout=60,
        interval=0.005,
    )
    billing.kill()
    at_kill = await count(billing, kept)
    assert at_kill < PAYMENTS, "billing was killed too late: it had taken the whole stream"

    billing.start()
    await billing.ready()
    await wait_until(
        lambda: _has(billing, kept, PAYMENTS),
        what="billing to take the rest of the stream",
        timeout=120,
    )

    async def drained() -> bool:
        return await queue_depths(billing) == (0, 0)

    await wait_until(drained, what="the payments queue to be empty", timeout=60)

    # Every payment once: one entry awaiting booking each, nothing else.
    assert await count(billing, "SELECT count(*) FROM payments WHERE reference IS NOT NULL") == (
        PAYMENTS
    )
    assert await count(billing, "SELECT count(DISTINCT reference) FROM payments") == PAYMENTS
    # The ERP is told of each once.
    told = "SELECT count(*) FROM outbox WHERE routing_key = 'billing.online-payment.received'"
    assert await count(billing, told) == PAYMENTS
    # Each customer's invoice paid, and balance, count each of its payments once.
    expected: dict[str, Decimal] = {c: Decimal(0) for c in customers}
    for p in made:
        expected[p.customer_id] += p.amount
    conn = await Platform(settings).db("billing")
    try:
        for c in customers:
            paid = await conn.fetchval(
                "SELECT paid FROM invoices WHERE invoice_number = $1", f"FV/{c}"
            )
            balance = await repository.balance(conn, [c], settings.today())
            assert (paid, balance["credits"]) == (expected[c], expected[c]), c
    finally:
        await conn.close()


async def _has(billing: ServiceProcess, sql: str, n: int) -> bool:
    return await count(billing, sql) == n


async def _at_least(billing: ServiceProcess, sql: str, n: int) -> bool:
    return await count(billing, sql) >= n
