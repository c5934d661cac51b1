"""RabbitMQ restarted in the middle of a registration: nothing is lost, the flow ends in login."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
import pytest_asyncio

from tests.support.flows import (
    activation_token,
    credentials,
    known_customer,
    login,
    register,
    wait_for_mail,
)
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack

pytestmark = pytest.mark.fault


async def rabbitmqctl(*args: str) -> None:
    assert shutil.which("rabbitmqctl"), "this test restarts the local RabbitMQ with rabbitmqctl"
    proc = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, out.decode()


@pytest_asyncio.fixture(loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    # Quorum queues, as in production.
    async for running in start_stack(infra, keys, queue_type="quorum"):
        yield running


async def consumer_counts(stack: Stack) -> dict[str, int]:
    connection = await aio_pika.connect(stack.platform.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        counts = {}
        consumer_queues, _ = stack.platform.queues()
        for name in sorted(consumer_queues):
            queue = await channel.declare_queue(name, passive=True)
            counts[name] = queue.declaration_result.consumer_count
        return counts


async def test_flow_survives_a_broker_restart(stack: Stack) -> None:
    customer = await known_customer(stack)
    status, _ = await register(stack, customer)
    assert status == 202
    token = activation_token(await wait_for_mail(stack, customer.email, "registration"))

    await rabbitmqctl("stop_app")
    try:
        # The broker is down: activation still answers, its event waits in the outbox.
        status, body = await stack.api.request(
            "POST", "/api/v1/registrations/activate", json={"token": token}
        )
        assert status == 200, body
    finally:
        await rabbitmqctl("start_app")
        await rabbitmqctl("await_startup", "--timeout", "120")

    login_name, password = credentials(
        await wait_for_mail(stack, customer.email, "registration-confirmation", timeout=90)
    )
    await wait_for_mail(stack, customer.email, "account-activation", timeout=60)

    async def logged_in() -> bool:
        status, _ = await login(stack, login_name, password)
        return status == 200

    await wait_until(logged_in, timeout=30, what="login after the restart")

    # Every queue has its consumer back, and a new feed still flows through.
    counts = await wait_until(
        lambda: _all_consumed(stack), timeout=30, what="every queue to have a consumer"
    )
    assert all(n >= 1 for n in counts.values()), counts
    await known_customer(stack)
    assert [m.template for m in stack.mailbox.to_address(customer.email)] == [
        "registration",
        "registration-confirmation",
        "account-activation",
    ]


async def _all_consumed(stack: Stack) -> dict[str, int] | None:
    counts = await consumer_counts(stack)
    return counts if all(n >= 1 for n in counts.values()) else None
