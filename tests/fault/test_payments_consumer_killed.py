"""Billing's consumer of completed online payments is killed (SIGKILL) in the middle of a stream
of `payments.payment.completed`, some of them published twice: after a restart every payment is
counted exactly once — its entries, the invoices' paid amounts, the balance and the ERP's
notice — nothing lost, nothing doubled, nothing dead-lettered."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import aio_pika
import aiohttp
import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from services.billing import repository
from shared.events import erp, payments
from shared.messaging.topology import Names
from shared.settings import ROOT, Settings
from tests.integration.test_handlers_billing import invoice, online_payment
from tests.support.erp import address
from tests.support.infra import Infra
from tests.support.platform import Platform, make_settings, wait_until
from tests.support.stack import free_port

pytestmark = pytest.mark.fault

CUSTOMERS = 40
PAYMENTS = 3_000
PUBLISHED_TWICE = 400  # the payments service published these again (new message ids)


@dataclass
class Billing:
    """Billing as a process of its own (so that it can be killed), in a namespace of its own."""

    settings: Settings
    port: int
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        s = self.settings
        env = {
            **os.environ,
            "EBOK_ENV": "test",
            "EBOK_NAMESPACE": s.namespace,
            "EBOK_DATABASE_URL": s.database_url,
            "EBOK_AMQP_URL": s.amqp_url,
            "EBOK_JWT_PRIVATE_KEY_FILE": str(s.jwt_private_key_file),
            "EBOK_JWT_PUBLIC_KEY_FILE": str(s.jwt_public_key_file),
            "EBOK_SEALING_KEY_FILE": str(s.sealing_key_file),
            "EBOK_QUEUE_TYPE": s.queue_type,
            "EBOK_BILLING_PORT": str(self.port),
            "EBOK_DB_POOL_MAX": "4",
            "EBOK_LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.billing"],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    async def ready(self) -> None:
        async def answers() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                async with aiohttp.ClientSession() as session:
                    url = f"http://127.0.0.1:{self.port}/health/ready"
                    async with session.get(url) as resp:
                        return resp.status == 200
            except aiohttp.ClientError:
                return False

        await wait_until(answers, what="billing's process to be ready", timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest_asyncio.fixture(loop_scope="session")
async def billing(infra: Infra, keys: Path, tmp_path: Path) -> AsyncIterator[Billing]:
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    running = Billing(settings, free_port(), tmp_path / "billing.log")
    try:
        running.start()
        await running.ready()
        yield running
    finally:
        running.stop()
        await Platform(settings).remove_namespace()


async def count(billing: Billing, sql: str, *args: object) -> int:
    conn = await Platform(billing.settings).db("billing")
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def queue_depths(billing: Billing) -> tuple[int, int]:
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
    billing: Billing,
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
    billing.stop()
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


async def _has(billing: Billing, sql: str, n: int) -> bool:
    return await count(billing, sql) == n


async def _at_least(billing: Billing, sql: str, n: int) -> bool:
    return await count(billing, sql) >= n
