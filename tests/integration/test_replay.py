"""Restore a service's database to an earlier copy and replay from the journal
(deploy/replay.py, shared/messaging/journal.py), against real RabbitMQ and PostgreSQL: billing's
state after the replay is the state it had before the restore, nothing applied twice."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from deploy.replay import ReplayError, main, replay
from shared.envelope import new_envelope
from shared.events import erp
from shared.messaging.journal import declare_journal, topic_matches
from shared.messaging.packing import ENVELOPES_CONTENT_TYPE, ENVELOPES_HEADER, pack
from shared.runtime import BROKER
from tests.support import erp as erp_feed
from tests.support.infra import Infra
from tests.support.platform import Platform, make_settings, wait_until

# Billing's state, without the times rows were written (a replayed message is handled later).
TABLES = ("customers", "contracts", "service_points", "invoices", "invoice_lines", "payments")


@pytest_asyncio.fixture(loop_scope="session")
async def platform(infra: Infra, keys: Path) -> AsyncIterator[Platform]:
    running = Platform(make_settings(infra.database_url, infra.amqp_url, keys))
    copy = f"{running.settings.database_name('billing')}_copy"
    try:
        yield running
    finally:
        await running.stop()
        admin = await asyncpg.connect(running.settings.database_dsn("postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        finally:
            await admin.close()
        await running.remove_namespace()


async def snapshot(platform: Platform) -> dict[str, list[str]]:
    conn = await platform.db("billing")
    try:
        found = {
            table: sorted(
                await conn.fetchval(
                    # Constant table names (TABLES).
                    f'SELECT coalesce(array_agg((to_jsonb(t) - $1::text[])::text), $2) FROM "{table}" t',  # noqa: S608, E501
                    ["updated_at", "received_at"],
                    [],
                )
            )
            for table in TABLES
        }
        found["inbox"] = sorted(str(r[0]) for r in await conn.fetch("SELECT message_id FROM inbox"))
        return found
    finally:
        await conn.close()


async def handled(platform: Platform) -> int:
    conn = await platform.db("billing")
    try:
        return await conn.fetchval("SELECT count(*) FROM inbox")
    finally:
        await conn.close()


def payment(customer: erp_feed.Customer, amount: str) -> erp.PaymentBooked:
    return erp.PaymentBooked(
        booking_id=f"B-{secrets.token_hex(4)}",
        customer_id=customer.customer_id,
        booked_on=date.today(),
        amount=Decimal(amount),
        invoice_number=customer.invoice_number,
        channel="bank",
    )


def packed_payments(*payments: erp.PaymentBooked) -> tuple[aio_pika.Message, int]:
    """Several payments in one packed message, as the outbox relay packs a run of events."""
    envelopes = [new_envelope("erp.payment.booked", p, "erp") for p in payments]
    message = aio_pika.Message(
        body=pack([e.model_dump_json() for e in envelopes]),
        message_id=str(envelopes[0].id),
        type="erp.payment.booked",
        content_type=ENVELOPES_CONTENT_TYPE,
        headers={ENVELOPES_HEADER: len(envelopes)},
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    return message, len(envelopes)


async def recreate_database(platform: Platform, database: str, template: str) -> None:
    """CREATE DATABASE … TEMPLATE: a copy at the file level, while nothing is connected."""
    admin = await asyncpg.connect(platform.settings.database_dsn("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
    finally:
        await admin.close()


async def test_a_restored_database_gets_back_by_replay_what_it_lost_once(
    platform: Platform,
) -> None:
    settings = platform.settings
    database = settings.database_name("billing")
    copy = f"{database}_copy"
    # The journal's timestamps are whole seconds: a second earlier is before the first message.
    since = datetime.now(UTC) - timedelta(seconds=1)
    await platform.start("billing")
    async with IntegrationClient(settings.amqp_url, settings.namespace) as client:
        # Before the copy: customer A, its contract and invoice.
        a = await erp_feed.publish_customer(client)
        await wait_until(lambda: _equals(handled(platform), 3), what="A's three messages")
        await platform.stop_service("billing")
        await recreate_database(platform, copy, database)
        await platform.start_service("billing")

        # After the copy: customer B, a payment of A's invoice, and a packed message of two
        # payments of B's (packed messages replay as they are).
        b = await erp_feed.publish_customer(client)
        paid_a = payment(a, "40.00")
        await client.publish("erp.payment.booked", paid_a)
        packed, envelopes = packed_payments(payment(b, "10.00"), payment(b, "15.50"))
        await client.publish_raw("erp.payment.booked", packed)
        total = 3 + 3 + 1 + envelopes
        await wait_until(lambda: _equals(handled(platform), total), what="every message handled")
    expected = await snapshot(platform)
    await platform.stop_service("billing")

    # The restore: back to the copy (what a point-in-time recovery to that moment gives).
    await recreate_database(platform, database, copy)
    await platform.start_service("billing")
    restored = await snapshot(platform)
    assert len(restored["inbox"]) == 3 and restored != expected

    # A dry run counts and publishes nothing.
    dry = await replay(settings, "billing", since, operator="test.operator", dry_run=True)
    assert (dry.published, dry.envelopes) == (8, total)
    assert dry.by_queue == {f"{settings.namespace}.billing.erp": 8}
    assert await snapshot(platform) == restored

    summary = await replay(settings, "billing", since, operator="test.operator")
    assert (summary.published, summary.envelopes) == (8, total)
    assert summary.by_routing_key == {
        "erp.customer.upserted": 2,
        "erp.contract.upserted": 2,
        "erp.invoice.issued": 2,
        "erp.payment.booked": 2,  # one of them packed
    }
    await wait_until(
        lambda: _equals(snapshot(platform), expected), what="the state without the restore"
    )
    # A's three messages came again and were skipped by the inbox: nothing applied twice.
    conn = await platform.db("billing")
    try:
        paid = await conn.fetchval(
            "SELECT paid FROM invoices WHERE invoice_number = $1", a.invoice_number
        )
        payments = await conn.fetchval(
            "SELECT count(*) FROM payments WHERE customer_id = $1", b.customer_id
        )
    finally:
        await conn.close()
    assert paid == Decimal("40.00") and payments == 2

    # A second replay of the same window changes nothing.
    again = await replay(settings, "billing", since, operator="test.operator")
    assert again.published == 8
    await wait_until(lambda: _equals(handled(platform), total), what="inbox unchanged")
    assert await snapshot(platform) == expected


async def test_replay_takes_only_the_service_s_keys_and_stops_at_until(
    platform: Platform,
) -> None:
    settings = platform.settings
    since = datetime.now(UTC) - timedelta(seconds=1)
    await platform.start("billing")
    # Another service's key in the journal (as metering's binding would put it there): not
    # billing's, so never replayed to it.
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        journal = await channel.declare_queue(platform.names.journal, passive=True)
        integration = await channel.declare_exchange(
            platform.names.exchange("integration"), passive=True
        )
        await journal.bind(integration, routing_key="reading.batch.recorded")
        async with IntegrationClient(settings.amqp_url, settings.namespace) as client:
            await client.publish_raw(
                "reading.batch.recorded", aio_pika.Message(b"{}", message_id=str(uuid.uuid4()))
            )
            await erp_feed.publish_customer(client)
            await wait_until(lambda: _equals(handled(platform), 3), what="handled")
            until = datetime.now(UTC)
            await erp_feed.publish_customer(client)
            await wait_until(lambda: _equals(handled(platform), 6), what="handled")
    everything = await replay(settings, "billing", since, operator="ops", dry_run=True)
    assert everything.published == 6 and everything.read >= 7
    window = await replay(settings, "billing", since, operator="ops", until=until, dry_run=True)
    assert (window.published, window.after_until) == (3, 3)


async def test_replay_refuses_what_the_inbox_cannot_make_safe(platform: Platform) -> None:
    settings = platform.settings
    too_old = datetime.now(UTC) - timedelta(days=settings.inbox_retention_days, minutes=1)
    with pytest.raises(ReplayError, match="EBOK_INBOX_RETENTION_DAYS"):
        await replay(settings, "billing", too_old, operator="ops")
    with pytest.raises(ReplayError, match="no journal"):  # no service has declared it yet
        await replay(settings, "billing", datetime.now(UTC), operator="ops")


def test_topic_patterns_match_as_rabbitmq_does() -> None:
    assert topic_matches("erp.invoice.issued", "erp.invoice.issued")
    assert not topic_matches("erp.invoice.issued", "erp.invoice.cancelled")
    assert topic_matches("erp.*.issued", "erp.note.issued")
    assert topic_matches("erp.#", "erp.invoice.issued") and topic_matches("#", "a")
    assert not topic_matches("erp.*", "erp.invoice.issued")


async def _equals(value: object, want: object) -> bool:
    return await value == want  # type: ignore[misc]


async def test_a_journal_made_with_another_age_is_kept_and_services_still_start(
    platform: Platform,
) -> None:
    await platform.start("billing")  # made it with 7D
    await platform.stop_service("billing")
    await platform.start_service("billing", journal_max_age="1D")
    broker = platform.apps["billing"][BROKER]
    await declare_journal(broker, [("integration", "erp.invoice.issued")], "2h")
    status, _ = await _ready(platform)
    assert status == 200


def test_the_command_wants_a_zone_and_an_operator(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--service", "billing", "--since", "2026-11-26T08:00:00", "--operator", "ops"])
    assert "give a time zone" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--service", "billing", "--since", "2026-11-26T08:00:00Z", "--operator", "a b"])
    assert "--operator: 2-100 letters" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--service", "billing", "--since", "2026-11-26T08:00:00Z"])
    assert "--operator" in capsys.readouterr().err


async def _ready(platform: Platform) -> tuple[int, object]:
    async with aiohttp.ClientSession() as session:
        async with session.get(platform.ops_url("billing") + "/health/ready") as resp:
            return resp.status, await resp.json()
