"""notifications against real RabbitMQ, PostgreSQL and an SMTP server."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from deploy.integration_client import IntegrationClient
from shared.events import identity
from shared.sealing import sealer
from tests.support.flows import wait_for_mail
from tests.support.platform import wait_until
from tests.support.stack import Stack


def duplicates(queue: str) -> float:
    return (
        REGISTRY.get_sample_value("ebok_messages_total", {"queue": queue, "outcome": "duplicate"})
        or 0
    )


async def test_a_redelivered_event_sends_no_second_email(stack: Stack) -> None:
    settings = stack.platform.settings
    queue = stack.platform.names.queue("notifications", "email-requests")
    address = f"redelivered.{uuid.uuid4().hex[:8]}@example.com"
    event = identity.AccountActivated(
        account_id=uuid.uuid4(), email=address, language="en", login="e123456789"
    )
    before = duplicates(queue)
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="identity", exchange="events"
    ) as client:
        message_id = await client.publish("identity.account.activated", event)
        await wait_for_mail(stack, address, "account-activation")
        await client.publish("identity.account.activated", event, message_id=message_id)
        await wait_until(lambda: duplicates(queue) > before, what="the redelivery")
    assert len(stack.mailbox.to_address(address)) == 1
    conn = await stack.platform.db("notifications")
    try:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM emails WHERE source_event_id = $1", message_id
            )
            == 1
        )
    finally:
        await conn.close()


async def test_secrets_are_dropped_from_the_queue_once_sent(stack: Stack) -> None:
    settings = stack.platform.settings
    address = f"secret.{uuid.uuid4().hex[:8]}@example.com"
    event = identity.CredentialsIssued(
        account_id=uuid.uuid4(),
        email=address,
        language="uk",
        login="e987654321",
        one_time_password=sealer(settings).seal("Sekret1234abcd"),
    )
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="identity", exchange="events"
    ) as client:
        message_id = await client.publish("identity.credentials.issued", event)
    mail = await wait_for_mail(stack, address, "registration-confirmation")
    assert mail.subject == "Реєстрація — підтвердження"
    assert "Sekret1234abcd" in mail.body("plain")
    conn = await stack.platform.db("notifications")
    try:
        row = await wait_until(
            lambda: conn.fetchrow(
                "SELECT * FROM emails WHERE source_event_id = $1 AND status = 'sent'", message_id
            ),
            what="the email to be marked sent",
        )
    finally:
        await conn.close()
    assert row["text_body"] is None and row["html_body"] is None
    assert row["recipient"] == address and row["sent_at"] is not None
