"""Two instances of one service against one database and one namespace (issue 14,
docs/scaling.md): what each background loop, consumer and shared record does when it is not
alone. The apps are the services' own, in this process, on real PostgreSQL and RabbitMQ; the
loops that talk to the outside (payments' provider) run as two of their objects on two pools."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg
import pytest
from aiohttp import web

from deploy.integration_client import IntegrationClient
from deploy.mailbox import MailStore, start_smtp_server
from services.billing import repository as billing_repository
from services.billing.reminders import Reminders
from services.correspondence import repository as correspondence
from services.identity import proof_of_work
from services.metering import bulk_load
from services.payments.providers.base import Transaction
from services.payments.reconciliation import Reconciler
from shared.auth import Principal, TokenSigner
from shared.bulk.load import LOAD_LOCK, LoadRunning, connect_as_owner
from shared.db import create_pool
from shared.events import billing, identity, reading
from shared.events.common import Address, ServicePoint
from shared.http.internal import CLIENT_IP_HEADER, INTERNAL_TOKEN_HEADER
from shared.leader import leading
from shared.messaging.outbox import outbox_row, write_outbox
from shared.retention import BATCH, Purger
from shared.runtime import DB, VERIFIER
from shared.settings import Settings
from shared.tx import Database
from tests.support.erp import address
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra
from tests.support.platform import BUILDERS, Platform, make_settings, wait_until
from tests.support.stack import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Instance:
    app: web.Application
    runner: web.AppRunner
    url: str
    # Units of work this instance's consumers ran, by queue.
    units: Counter[str] = field(default_factory=Counter)
    running: bool = True

    async def stop(self) -> None:
        if self.running:
            self.running = False
            await self.runner.cleanup()


def _count_units(instance: Instance) -> None:
    """Count the consumers' units of work (one per batch of messages) by queue: the consumers
    ask the app's Database for a transaction naming their queue."""
    db = instance.app[DB]
    transaction = db.transaction

    def counting(*, queue: str | None = None):  # type: ignore[no-untyped-def]
        if queue is not None:
            instance.units[queue] += 1
        return transaction(queue=queue)

    db.transaction = counting  # type: ignore[method-assign]


@asynccontextmanager
async def instances(settings: Settings, service: str, n: int = 2) -> AsyncIterator[list[Instance]]:
    """`n` instances of `service`, each with settings of its own (as separate processes would
    have), on one database and namespace; the namespace is removed afterwards."""
    started: list[Instance] = []
    try:
        for _ in range(n):
            app = BUILDERS[service](settings.model_copy())
            runner = web.AppRunner(app, shutdown_timeout=5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            instance = Instance(app, runner, f"http://127.0.0.1:{port}")
            _count_units(instance)
            started.append(instance)
        yield started
    finally:
        for instance in reversed(started):
            await instance.stop()
        await Platform(settings).remove_namespace()


def _settings(infra: Infra, keys: Path, **overrides: object) -> Settings:
    return make_settings(infra.database_url, infra.amqp_url, keys, **overrides)


async def _count(settings: Settings, service: str, sql: str, *args: object) -> int:
    conn = await asyncpg.connect(settings.service_dsn(service))
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


def _reaches(
    settings: Settings, service: str, sql: str, at_least: int, *args: object
) -> Callable[[], Awaitable[bool]]:
    """For wait_until: whether the count `sql` makes has reached `at_least`."""

    async def check() -> bool:
        return await _count(settings, service, sql, *args) >= at_least

    return check


# --- the outbox relay: one instance publishes at a time, in order --------------------------


async def test_two_relays_publish_each_event_once_and_in_order(infra: Infra, keys: Path) -> None:
    settings = _settings(infra, keys)
    events = 1_500  # three of the relay's batches
    async with instances(settings, "metering"):
        connection = await aio_pika.connect(settings.amqp_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(
                f"{settings.namespace}.test.relay-order", exclusive=True
            )
            exchange = Platform(settings).names.exchange("integration")
            await queue.bind(exchange, "test.relay-order")
            # Headers of their own: each event its own message (not packed), in outbox order.
            rows = [
                outbox_row(
                    reading.ReadingRecorded(
                        meter_number=f"M-{n:05d}",
                        read_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
                        value=Decimal(n),
                        source="remote",
                    ),
                    "metering",
                    routing_key="test.relay-order",
                    headers={"x-test": str(n)},
                )
                for n in range(events)
            ]
            conn = await asyncpg.connect(settings.service_dsn("metering"))
            try:
                # One commit, one NOTIFY: both relays wake at once to the same rows.
                async with conn.transaction():
                    await write_outbox(conn, rows)
            finally:
                await conn.close()
            # A relay marks rows published after the broker confirmed them: once none is left,
            # every copy that went out (a duplicate too) waits in the queue, taken one by one.
            unpublished = "SELECT count(*) FROM outbox WHERE published_at IS NULL"

            async def all_published() -> bool:
                return await _count(settings, "metering", unpublished) == 0

            await wait_until(all_published, timeout=30, what="every row published")
            received: list[str] = []
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                received.append(str(message.message_id))
        assert received == [str(r.envelope.id) for r in rows], "once each, in the outbox order"


# --- consumers: competing on order-free queues, one active on ordered ones -----------------


def _readings(count: int) -> list[reading.ReadingRecorded]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        reading.ReadingRecorded(
            meter_number=f"R-{n % 50:03d}",
            read_at=start + timedelta(minutes=n),
            value=Decimal(n),
            source="remote",
        )
        for n in range(count)
    ]


async def test_both_instances_take_readings_and_each_reading_is_stored_once(
    infra: Infra, keys: Path
) -> None:
    settings = _settings(infra, keys)
    readings_queue = f"{settings.namespace}.metering.readings"
    async with (
        instances(settings, "metering") as (a, b),
        IntegrationClient(settings.amqp_url, settings.namespace, "reading") as feed,
    ):
        sent = _readings(400)
        for r in sent:
            await feed.publish(r.TYPE, r)
        await wait_until(
            _reaches(settings, "metering", "SELECT count(*) FROM readings", 400),
            what="every reading stored",
        )
        # Again, each under a new message id: the rows' key keeps them once.
        for r in sent[:100]:
            await feed.publish(r.TYPE, r)
        inbox = "SELECT count(*) FROM inbox WHERE queue = $1"
        await wait_until(
            _reaches(settings, "metering", inbox, 500, readings_queue),
            what="the repeats handled",
        )
        assert await _count(settings, "metering", "SELECT count(*) FROM readings") == 400
        assert a.units[readings_queue] > 0 and b.units[readings_queue] > 0, (
            "competing consumers: both instances took readings",
            a.units,
            b.units,
        )


def _contract(n: int, meter: str) -> billing.ContractChanged:
    place = Address(**address().model_dump())
    return billing.ContractChanged(
        contract_number=f"C-{n:04d}",
        customer_id=f"K-{n:04d}",
        signed_on=datetime(2025, 1, 1).date(),
        status="active",
        service_points=[
            ServicePoint(service_point_id=f"SP-{n:04d}", address=place, meter_number=meter)
        ],
    )


async def test_an_ordered_queue_has_one_active_consumer_which_hands_over_when_it_stops(
    infra: Infra, keys: Path
) -> None:
    settings = _settings(infra, keys)
    contracts_queue = f"{settings.namespace}.metering.contracts"
    meters = "SELECT count(*) FROM meters"
    async with (
        instances(settings, "metering") as pair,
        IntegrationClient(settings.amqp_url, settings.namespace, "billing", "events") as bus,
    ):
        for n in range(60):
            c = _contract(n, f"W-{n:04d}")
            await bus.publish(c.TYPE, c)
        await wait_until(_reaches(settings, "metering", meters, 60), what="every contract applied")
        active = [i for i in pair if i.units[contracts_queue]]
        assert len(active) == 1, ("one instance takes the ordered queue", [i.units for i in pair])
        [standby] = [i for i in pair if i is not active[0]]
        # The last of each contract wins: a meter exchanged twice ends on the second meter.
        for meter in ("X-1", "X-2"):
            c = _contract(0, meter)
            await bus.publish(c.TYPE, c)
        await active[0].stop()
        for n in range(60, 90):
            c = _contract(n, f"W-{n:04d}")
            await bus.publish(c.TYPE, c)
        await wait_until(
            _reaches(settings, "metering", meters, 92),
            what="the standby instance took over the queue",
        )
        assert standby.units[contracts_queue] > 0
        current = (
            "SELECT meter_number FROM meters WHERE service_point_id = $1 AND removed_on IS NULL"
        )
        conn = await asyncpg.connect(settings.service_dsn("metering"))
        try:
            assert await conn.fetchval(current, "SP-0000") == "X-2"
        finally:
            await conn.close()


# --- ended sessions: every instance refuses the token -------------------------------------


async def test_an_ended_session_is_refused_by_every_instance(infra: Infra, keys: Path) -> None:
    settings = _settings(infra, keys)
    async with (
        instances(settings, "metering") as pair,
        IntegrationClient(settings.amqp_url, settings.namespace, "identity", "events") as bus,
    ):
        session_id = str(uuid.uuid4())
        token, _ = TokenSigner(settings).issue(
            Principal(uuid.uuid4().hex, "customer", "jan", ("K-1",), session_id=session_id)
        )
        for instance in pair:
            instance.app[VERIFIER].verify(token)  # valid before the logout
        ended = identity.SessionRevoked(
            account_id=uuid.uuid4(),
            session_ids=[uuid.UUID(session_id)],
            reason="logout",
            valid_until=datetime.now(UTC) + timedelta(minutes=10),
        )
        await bus.publish(ended.TYPE, ended)

        def refused(instance: Instance) -> Callable[[], bool]:
            def check() -> bool:
                try:
                    instance.app[VERIFIER].verify(token)
                except Exception:
                    return True
                return False

            return check

        for instance in pair:
            await wait_until(refused(instance), timeout=10, what="the session refused")


# --- loops that must not run twice ---------------------------------------------------------


@asynccontextmanager
async def two_databases(service: str, infra: Infra, keys: Path) -> AsyncIterator[list[Database]]:
    """The service's database (migrated, in a namespace of its own) seen through two pools, as
    two instances see it."""
    async with ServiceHandlers.open(service, infra, keys) as handlers:
        other = await create_pool(handlers.settings, service)
        try:
            yield [
                Database(handlers.pool, service, handlers.settings),
                Database(other, service, handlers.settings.model_copy()),
            ]
        finally:
            await other.close()


class SlowProvider:
    """A provider that takes a while to answer and has none of the payments: counts the asks."""

    name = "test"

    def __init__(self) -> None:
        self.asked: Counter[uuid.UUID] = Counter()

    async def paid_transaction(self, payment_id: uuid.UUID) -> Transaction | None:
        self.asked[payment_id] += 1
        await asyncio.sleep(0.02)
        return None


async def _pending_payments(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    """Online payments pending for an hour (due for reconciliation), with the test provider."""
    await conn.executemany(
        """INSERT INTO payments (payment_id, customer_id, account_id, idempotency_key,
                                 request_hash, amount, method, return_url, provider,
                                 status, created_at, pending_since)
           VALUES ($1, 'K-1', $2, $3, 'h', 10, 'blik', 'https://r', 'test',
                   'pending', now() - interval '1 hour', now() - interval '1 hour')""",
        [(i, uuid.uuid4(), str(i)) for i in ids],
    )


async def test_reconciliation_asks_about_each_payment_once_with_two_instances(
    infra: Infra, keys: Path
) -> None:
    async with two_databases("payments", infra, keys) as dbs:
        ids = [uuid.uuid4() for _ in range(20)]
        async with dbs[0].connection() as tx:
            await _pending_payments(tx.conn, ids)
        provider = SlowProvider()
        reconcilers = [Reconciler(db, provider, db.settings) for db in dbs]  # type: ignore[arg-type]
        await asyncio.gather(*(r.step() for r in reconcilers))
        assert set(provider.asked) == set(ids)
        assert max(provider.asked.values()) == 1, "asked once, not once per instance"
        # The round is over and its lock let go: the next round may run on the other instance,
        # and asks about a payment that has become due since.
        later = uuid.uuid4()
        async with dbs[0].connection() as tx:
            await _pending_payments(tx.conn, [later])
        await reconcilers[1].step()
        assert provider.asked[later] == 1


async def test_reminders_of_two_instances_remind_each_invoice_once(
    infra: Infra, keys: Path
) -> None:
    async with two_databases("billing", infra, keys) as dbs:
        today = dbs[0].settings.today()
        async with dbs[0].connection() as tx:
            await tx.conn.execute(
                """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on,
                                         due_on, period_from, period_to, net, vat, gross)
                   SELECT 'FV/' || n, 'K-' || (n % 100), 'C-' || (n % 100), $1::date, $1::date + 1,
                          $1 - 30, $1, 10, 2.3, 12.3
                     FROM generate_series(1, 1200) AS n""",
                today,
            )
        await asyncio.gather(*(_run_pass(Reminders(db)) for db in dbs))
        async with dbs[0].connection() as tx:
            reminded = await tx.conn.fetchval(
                "SELECT count(*) FROM outbox WHERE routing_key = 'billing.invoice.due-soon'"
            )
            recorded = await tx.conn.fetchval("SELECT count(*) FROM invoice_reminders")
        assert (reminded, recorded) == (1200, 1200), "each invoice reminded once"


async def _run_pass(reminders: Reminders) -> None:
    while await reminders.step():
        pass


async def test_retention_of_two_instances_purges_each_row_once(infra: Infra, keys: Path) -> None:
    async with two_databases("billing", infra, keys) as dbs:
        settings = dbs[0].settings
        async with dbs[0].connection() as tx:
            await tx.conn.execute(
                """INSERT INTO inbox (message_id, queue, type, handled_at)
                   SELECT gen_random_uuid(), 'q', 't', now() - make_interval(days => $1)
                     FROM generate_series(1, $2)""",
                settings.inbox_retention_days + 1,
                4 * BATCH,
            )
            await tx.conn.execute(
                """INSERT INTO inbox (message_id, queue, type, handled_at)
                   VALUES ($1, 'q', 't', now())""",
                uuid.uuid4(),
            )
        purgers = [Purger(db.pool, settings) for db in dbs]
        first = await asyncio.gather(*(p.step() for p in purgers))
        assert first == [True, True], "two batches of different rows, neither waiting"
        while any(await asyncio.gather(*(p.step() for p in purgers))):
            pass
        async with dbs[0].connection() as tx:
            assert await tx.conn.fetchval("SELECT count(*) FROM inbox") == 1


async def test_case_numbers_taken_by_two_instances_at_once_are_each_used_once(
    infra: Infra, keys: Path
) -> None:
    async with two_databases("correspondence", infra, keys) as dbs:

        async def take(db: Database, n: int) -> list[int]:
            numbers = []
            for _ in range(n):
                async with db.transaction() as tx:
                    numbers.append(await correspondence.next_number(tx.conn, 2026))
            return numbers

        a, b = await asyncio.gather(take(dbs[0], 100), take(dbs[1], 100))
        assert sorted(a + b) == list(range(1, 201)), "unique and without gaps"


# --- identity's records: a proof of work, a CAPTCHA budget --------------------------------


async def test_a_proof_of_work_and_the_captcha_budget_hold_across_instances(
    infra: Infra, keys: Path
) -> None:
    settings = _settings(infra, keys, captchas_per_window=3)
    token = settings.internal_token
    assert token is not None

    def as_gateway(client_ip: str) -> dict[str, str]:
        return {INTERNAL_TOKEN_HEADER: token.get_secret_value(), CLIENT_IP_HEADER: client_ip}

    async with instances(settings, "identity") as (a, b), aiohttp.ClientSession() as http:

        async def proof(at: Instance, headers: dict[str, str]) -> dict[str, object]:
            async with http.post(f"{at.url}/captcha/challenge", headers=headers) as resp:
                assert resp.status == 201
                challenge = await resp.json()
            number = proof_of_work.solve(proof_of_work.Challenge(**challenge))
            return {**{k: v for k, v in challenge.items() if k != "maxnumber"}, "number": number}

        async def captcha(at: Instance, body: dict[str, object], headers: dict[str, str]) -> int:
            async with http.post(f"{at.url}/captcha", json={"proof": body}, headers=headers) as r:
                return r.status

        one = as_gateway("203.0.113.7")
        solved = await proof(a, one)
        assert await captcha(b, solved, one) == 201, (
            "a challenge from one instance, spent on another"
        )
        assert await captcha(a, solved, one) == 400, "spent once, whichever instance is asked"

        other = as_gateway("203.0.113.8")
        statuses = [await captcha(at, await proof(at, other), other) for at in (a, b, a, b)]
        assert statuses == [201, 201, 201, 429], "one budget per address, not one per instance"


# --- notifications: each email sent once ---------------------------------------------------


async def test_two_notifications_instances_send_each_email_once(infra: Infra, keys: Path) -> None:
    smtp_port = free_port()
    settings = _settings(infra, keys, smtp_port=smtp_port)
    mailbox = MailStore()
    server = await start_smtp_server(mailbox, "127.0.0.1", smtp_port)
    emails = 60
    try:
        async with (
            instances(settings, "notifications"),
            IntegrationClient(settings.amqp_url, settings.namespace, "identity", "events") as bus,
        ):
            for n in range(emails):
                activated = identity.AccountActivated(
                    account_id=uuid.uuid4(),
                    email=f"two-{n}@example.com",
                    language="pl",
                    login=f"two-{n}",
                )
                await bus.publish(activated.TYPE, activated)
            sent = "SELECT count(*) FROM emails WHERE status = 'sent'"
            await wait_until(
                _reaches(settings, "notifications", sent, emails), what="every email sent"
            )
            # Each is marked sent in the transaction that handed it over: none goes again now.
            assert sorted(m.rcpt_to[0] for m in mailbox.messages) == sorted(
                f"two-{n}@example.com" for n in range(emails)
            ), "each email once"
    finally:
        server.close()
        await server.wait_closed()


# --- the first load: one at a time per service ---------------------------------------------


async def test_a_second_first_load_of_a_service_is_refused_while_one_runs(
    infra: Infra, keys: Path, tmp_path: Path
) -> None:
    async with ServiceHandlers.open("metering", infra, keys) as metering:
        settings = metering.settings
        running = await connect_as_owner(settings, "metering")  # as a load under way holds it
        try:
            await running.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", LOAD_LOCK)
            with pytest.raises(LoadRunning):
                await bulk_load.load(settings, tmp_path)
        finally:
            await running.close()
        summary = await bulk_load.load(settings, tmp_path)  # once it has ended
        assert summary.service == "metering"


async def test_leadership_is_one_at_a_time_and_goes_with_its_holders_session(
    infra: Infra, keys: Path
) -> None:
    async with two_databases("payments", infra, keys) as (a, b):
        async with leading(a.pool, "test-leader") as first:
            async with leading(b.pool, "test-leader") as second:
                assert (first, second) == (True, False)
        async with leading(b.pool, "test-leader") as after:
            assert after, "let go at the end of the block"

        # A holder that dies (its process killed): the server ends its session, and the lock.
        dying = await asyncpg.connect(a.settings.service_dsn("payments"))
        assert await dying.fetchval(
            "SELECT pg_try_advisory_lock(hashtextextended('test-leader', 0))"
        )
        dying.terminate()

        async def free() -> bool:
            async with leading(b.pool, "test-leader") as leader:
                return leader

        await wait_until(free, timeout=10, what="the dead holder's lock let go")


async def test_two_instances_claim_different_e_invoice_deliveries(infra: Infra, keys: Path) -> None:
    async with two_databases("billing", infra, keys) as (a, b):
        async with a.connection() as tx:
            await tx.conn.execute(
                """INSERT INTO e_invoice_deliveries (invoice_number, customer_id, address, language)
                   SELECT 'FV/E/' || n, 'K-1', 'k1@example.com', 'pl'
                     FROM generate_series(1, 25) AS n"""
            )
        # Both passes hold their claims at once, as two instances rendering PDFs do.
        async with a.transaction() as first, b.transaction() as second:
            mine = await billing_repository.claim_e_invoice_deliveries(first.conn, 10)
            theirs = await billing_repository.claim_e_invoice_deliveries(second.conn, 10)
        numbers = [r["invoice_number"] for r in mine], [r["invoice_number"] for r in theirs]
        assert len(numbers[0]) == len(numbers[1]) == 10
        assert not set(numbers[0]) & set(numbers[1]), "each delivery claimed by one instance"
