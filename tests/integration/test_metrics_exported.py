"""A running platform exports every metric the alert rules and the dashboard use, and its
operations gauges say what is there: after a failed login, rate-limit hits, an email that waited
for the SMTP server, a message dead-lettered at once, one retried then dead-lettered, an outbox
row the broker refuses and a fact waiting for the back office."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import aio_pika
import pytest_asyncio
from pydantic import BaseModel

from services.metering.handlers import SUBSCRIPTIONS as METERING_SUBSCRIPTIONS
from services.notifications.handlers import SUBSCRIPTIONS as NOTIFICATION_SUBSCRIPTIONS
from shared.envelope import Envelope
from shared.messaging.consumer import Subscription
from shared.runtime import CONSUMERS, OUTBOUND_QUEUES
from shared.services import SERVICES
from tests.support.flows import known_customer, login, register, wait_for_mail
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.promql import SYNTHETIC, exported, used_metrics
from tests.support.stack import Stack, start_stack

Samples = dict[str, list[tuple[dict[str, str], float]]]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(
        infra,
        keys,
        smtp_up=False,  # the first email waits for the SMTP server (an SMTP failure)
        metrics_sample_seconds=0.1,
        login_failures_per_window=2,  # the third failed login is refused (429)
        payment_notifications_per_window=1,
    ):
        yield running


async def scrape(stack: Stack) -> dict[str, str]:
    """Every service's /metrics page."""
    pages = {}
    for service in SERVICES:
        url = stack.platform.ops_url(service.name) + "/metrics"
        async with stack.api.session.get(url) as resp:
            assert resp.status == 200, service.name
            pages[service.name] = await resp.text()
    return pages


async def samples(stack: Stack) -> Samples:
    """The samples of one /metrics page: in this process every service's app exports the one
    registry (each service's page is the same), and the tests poll it often."""
    url = stack.platform.ops_url("billing") + "/metrics"
    async with stack.api.session.get(url) as resp:
        assert resp.status == 200
        return exported(await resp.text())[1]


def value(found: Samples, name: str, **labels: str) -> float | None:
    """The value of the sample `name` with `labels` (among its labels), if there is one."""
    for sample_labels, sample_value in found.get(name, []):
        if labels.items() <= sample_labels.items():
            return sample_value
    return None


async def gauge(stack: Stack, name: str, **labels: str) -> float | None:
    return value(await samples(stack), name, **labels)


def queue_of(service: str, subscriptions: tuple[Subscription, ...], stack: Stack) -> str:
    return stack.platform.names.queue(service, subscriptions[0].purpose)


async def publish_raw(stack: Stack, queue: str, body: bytes, **properties: Any) -> None:
    """A message straight into `queue` (the default exchange routes by queue name)."""
    connection = await aio_pika.connect(stack.platform.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(body=body, **properties), routing_key=queue
        )


class Poke(BaseModel):
    """A message type only this test's consumer takes; its handler always fails."""

    TYPE: ClassVar[str] = "test.metrics.poke"
    EXCHANGE: ClassVar[str] = "events"


async def always_failing(*_args: object) -> None:
    raise RuntimeError("a handler that fails every time")


async def test_a_failed_login_and_the_rate_limits_are_counted(stack: Stack) -> None:
    before = await samples(stack)
    failures_before = value(before, "ebok_login_failures_total") or 0
    login_name = f"nobody-{uuid.uuid4().hex[:8]}"
    answers = [(await login(stack, login_name, "Wrong-password-1"))[0] for _ in range(3)]
    assert answers == [401, 401, 429]
    for _ in range(2):
        status, _ = await stack.api.request(
            "POST", "/api/v1/payments/notifications/p24", json={"nothing": "signed"}
        )
    assert status == 429
    after = await samples(stack)
    assert value(after, "ebok_login_failures_total") == failures_before + 2
    assert value(after, "ebok_rate_limited_total", service="identity", limit="login-failure")
    assert value(after, "ebok_rate_limited_total", service="payments", limit="notification")
    assert value(after, "ebok_http_request_seconds_count", route="/auth/login", status="429")


async def test_the_email_queue_gauges_follow_an_email_that_waits_for_the_smtp_server(
    stack: Stack,
) -> None:
    customer = await known_customer(stack)
    status, _ = await register(stack, customer)
    assert status == 202
    found = await wait_until(
        lambda: _email_waiting(stack), what="a deferred email in the email queue gauges"
    )
    assert found
    await stack.start_smtp()
    await wait_for_mail(stack, customer.email, "registration")
    await wait_until(
        lambda: _gauge_is(stack, 0, "ebok_email_queue_pending", service="notifications"),
        interval=0.2,  # each poll reads a /metrics page
        what="the email queue to be empty",
    )
    assert await gauge(stack, "ebok_email_queue_oldest_age_seconds") == 0


async def _email_waiting(stack: Stack) -> bool:
    found = await samples(stack)
    return bool(
        (value(found, "ebok_email_queue_pending", service="notifications") or 0) >= 1
        and (value(found, "ebok_email_queue_oldest_age_seconds") or 0) > 0
        and value(found, "ebok_emails_total", template="registration", outcome="deferred")
    )


async def _gauge_is(stack: Stack, expected: float, name: str, **labels: str) -> bool:
    return await gauge(stack, name, **labels) == expected


async def test_a_dead_lettered_message_makes_its_dead_letter_queue_depth_one(
    stack: Stack,
) -> None:
    queue = queue_of("notifications", NOTIFICATION_SUBSCRIPTIONS, stack)
    assert await gauge(stack, "ebok_dead_letter_messages", queue=queue) == 0
    await publish_raw(stack, queue, b"not an envelope", message_id=str(uuid.uuid4()))
    await wait_until(
        lambda: _gauge_is(stack, 1, "ebok_dead_letter_messages", queue=queue),
        interval=0.2,
        what="the dead-letter queue depth to be 1",
    )
    assert await gauge(stack, "ebok_queue_consumers", queue=queue) == 1


async def test_a_message_retried_then_dead_lettered_is_counted(stack: Stack) -> None:
    queue = queue_of("metering", METERING_SUBSCRIPTIONS, stack)
    [consumer] = [c for c in stack.platform.apps["metering"][CONSUMERS] if c.queue_name == queue]
    original = consumer.subscription
    consumer.subscription = Subscription(original.purpose, {Poke: always_failing})
    try:
        envelope = Envelope(
            id=uuid.uuid4(),
            type=Poke.TYPE,
            occurred_at=datetime.now(UTC),
            producer="test",
            correlation_id=uuid.uuid4().hex,
            payload={},
        )
        await publish_raw(stack, queue, envelope.model_dump_json().encode())
        await wait_until(
            lambda: _gauge_is(stack, 1, "ebok_dead_letter_messages", queue=queue),
            interval=0.2,
            what="the message to be dead-lettered after its retries",
        )
    finally:
        consumer.subscription = original
    found = await samples(stack)
    retries = len(stack.platform.settings.retry_delays_ms)
    assert value(found, "ebok_messages_total", queue=queue, outcome="retried") == retries
    assert value(found, "ebok_messages_total", queue=queue, outcome="dead_lettered") == 1
    assert value(found, "ebok_retry_queue_messages", queue=queue) == 0


async def test_an_event_the_broker_refuses_ages_in_the_outbox(stack: Stack) -> None:
    """An unroutable event (mandatory publish returned): publishing fails, the row waits."""
    envelope = Envelope(
        id=uuid.uuid4(),
        type="test.nobody.listens",
        occurred_at=datetime.now(UTC),
        producer="metering",
        correlation_id=uuid.uuid4().hex,
        payload={},
    )
    conn = await stack.platform.db("metering")
    try:
        await conn.execute(
            """INSERT INTO outbox (message_id, exchange, routing_key, body, created_at)
               VALUES ($1, 'events', $2, $3, now() - interval '10 minutes')""",
            envelope.id,
            envelope.type,
            envelope.model_dump_json(),
        )
        await conn.execute("SELECT pg_notify('ebok_outbox', '')")
        found = await wait_until(
            lambda: _outbox_refused(stack), what="the refused row in the outbox gauges"
        )
        assert found
    finally:
        await conn.execute("DELETE FROM outbox WHERE message_id = $1", envelope.id)
        await conn.close()
    await wait_until(
        lambda: _gauge_is(stack, 0, "ebok_outbox_pending_messages", service="metering"),
        interval=0.2,
        what="the outbox to be empty again",
    )


async def _outbox_refused(stack: Stack) -> bool:
    found = await samples(stack)
    return bool(
        value(found, "ebok_outbox_pending_messages", service="metering") == 1
        and (value(found, "ebok_outbox_oldest_age_seconds", service="metering") or 0) >= 600
        and value(found, "ebok_outbox_publish_failures_total", producer="metering")
    )


async def test_a_fact_waiting_for_the_back_office_is_lag_of_its_queue(stack: Stack) -> None:
    [queue, *_] = stack.platform.apps["metering"][OUTBOUND_QUEUES]
    await publish_raw(stack, queue, b"{}")
    await wait_until(
        lambda: _gauge_is(stack, 1, "ebok_queue_ready_messages", queue=queue),
        interval=0.2,
        what="the back office's queue depth to be 1",
    )
    assert await gauge(stack, "ebok_queue_consumers", queue=queue) == 0


async def test_every_metric_of_the_alerts_and_the_dashboard_is_exported(stack: Stack) -> None:
    """Runs after the traffic above: each metric has samples on some service's /metrics."""
    found = await samples(stack)
    missing = {
        name: sorted(where)
        for name, where in used_metrics().items()
        if name not in SYNTHETIC and name not in found
    }
    assert not missing, missing
    for service in (s.name for s in SERVICES if s.owns_database):
        assert value(found, "ebok_outbox_pending_messages", service=service) is not None, service
        assert value(found, "ebok_ops_sampled_timestamp_seconds", service=service), service
    consumer_queues = {q for app in stack.platform.apps.values() for q in _consumer_queues(app)}
    for queue in consumer_queues:
        assert value(found, "ebok_queue_ready_messages", queue=queue) is not None, queue
        assert value(found, "ebok_dead_letter_messages", queue=queue) is not None, queue


def _consumer_queues(app: Any) -> list[str]:
    return [c.queue_name for c in app.get(CONSUMERS, [])]
