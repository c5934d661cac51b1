"""The dead-letter tool (`python -m deploy.dlq`) against real RabbitMQ and PostgreSQL: messages a
real consumer dead-lettered are listed with their reasons, replayed after the fix (handled once),
discarded, audited in the owning service's database, and a replay that dies between the
publish and the acknowledgement loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiormq
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractConnection
from prometheus_client import REGISTRY

from deploy import dlq
from deploy.dead_letter_audit import audit_in, audit_rows
from deploy.dead_letters import (
    DeadLetterError,
    DeadLetterQueue,
    Letter,
    Selection,
    UnknownQueue,
    browse,
    connected,
    depth,
    settle,
)
from deploy.rabbitmq import service_permissions
from shared.envelope import Envelope
from shared.events import erp
from shared.messaging.broker import envelope_message
from shared.messaging.consumer import Consumer, PermanentError
from shared.messaging.topology import Names
from shared.tx import Tx
from tests.support.consumer_probe import Probe, consumer_probe
from tests.support.erp import address
from tests.support.infra import Infra
from tests.support.platform import wait_until

SERVICE = "dlqprobe"
ROUTING_KEY = "erp.customer.upserted"


class Fixable:
    """A handler that refuses every customer until the cause is fixed, then takes them."""

    def __init__(self) -> None:
        self.fixed = False
        self.handled: list[str] = []

    async def __call__(self, tx: Tx, envelope: Envelope, customer: erp.CustomerUpserted) -> None:
        if not self.fixed:
            raise PermanentError(f"customer {customer.customer_id} has no contract yet")
        self.handled.append(customer.customer_id)


class Crash(Exception):
    """The tool dying where a test says."""


def customer(customer_id: str) -> erp.CustomerUpserted:
    return erp.CustomerUpserted(
        customer_id=customer_id, name="Probe", kind="person", address=address()
    )


def outcome(queue: str, name: str) -> float:
    return REGISTRY.get_sample_value("ebok_messages_total", {"queue": queue, "outcome": name}) or 0


@pytest_asyncio.fixture(loop_scope="session", params=["classic", "quorum"])
async def probe(infra: Infra, keys: Path, request: pytest.FixtureRequest) -> AsyncIterator[Probe]:
    """Classic queues, as the rest of the suite has them, and quorum ones, as production has."""
    async with consumer_probe(
        infra, keys, SERVICE, retry_delays_ms=[50], queue_type=request.param
    ) as found:
        yield found


@pytest_asyncio.fixture(loop_scope="session")
async def broker(probe: Probe) -> AsyncIterator[AbstractConnection]:
    async with connected(probe.settings.amqp_url) as connection:
        yield connection


def dead_letter_queue(probe: Probe, consumer: Consumer) -> DeadLetterQueue:
    return DeadLetterQueue.parse(
        Names.dead_letter_queue(consumer.queue_name), probe.settings.namespace
    )


async def wait_depth(broker: AbstractConnection, queue: DeadLetterQueue, count: int) -> None:
    async def reached() -> bool:
        return await depth(broker, queue.name) == count

    await wait_until(reached, interval=0.1, what=f"{count} message(s) in {queue.name}")


async def cli(probe: Probe, *argv: str) -> int:
    """The command as an operator types it, with the test platform's settings."""
    return await dlq.run(dlq.parser().parse_args(list(argv)), probe.settings)


async def test_listed_replayed_after_the_fix_discarded_and_audited(
    probe: Probe, broker: AbstractConnection, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = Fixable()
    consumer = await probe.consume("fixable", handler)
    queue = dead_letter_queue(probe, consumer)
    short = queue.name.removeprefix(f"{probe.settings.namespace}.")
    first = await probe.client.publish(ROUTING_KEY, customer("C-1"))
    second = await probe.client.publish(ROUTING_KEY, customer("C-2"))
    await wait_depth(broker, queue, 2)

    letters = await browse(broker, queue)
    assert [x.message_id for x in letters] == [str(first), str(second)]
    for letter, name in zip(letters, ("C-1", "C-2"), strict=True):
        assert letter.reason == f"{ROUTING_KEY} refused: customer {name} has no contract yet"
        assert letter.routing_key == ROUTING_KEY
        assert letter.origin == consumer.queue_name
        assert letter.age() is not None and timedelta(0) <= letter.age() < timedelta(minutes=1)
        assert letter.size > 0
    assert await depth(broker, queue.name) == 2  # looking took nothing away
    again = await browse(broker, queue)
    assert [x.message_id for x in again] == [str(first), str(second)]
    if probe.settings.queue_type == "quorum":  # counts towards a delivery limit, if one is set
        assert all(x.deliveries is not None and x.deliveries >= 1 for x in again)

    capsys.readouterr()
    assert await cli(probe, "list", short, "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["message_id"] for row in listed] == [str(first), str(second)]
    assert "has no contract yet" in listed[0]["reason"]

    assert await cli(probe, "replay", short, "--all", "--operator", "j.kowalska", "--dry-run") == 0
    assert "would replay 2 message(s)" in capsys.readouterr().out
    assert await depth(broker, queue.name) == 2
    assert await audit_rows(probe.settings, SERVICE) == []

    handler.fixed = True
    started = datetime.now(UTC)
    capsys.readouterr()
    assert await cli(probe, "replay", short, str(first), "--operator", "j.kowalska") == 0
    said = capsys.readouterr().out
    assert f"replayed 1 message(s) of {queue.name}" in said
    assert "dead letter replayed" in said and "operator=j.kowalska" in said  # the log line
    await wait_until(lambda: handler.handled == ["C-1"], what="the replayed message handled")
    await wait_depth(broker, queue, 1)

    code = await cli(
        probe, "discard", short, "--reason-contains", "NO CONTRACT", "--operator", "a.nowak"
    )
    assert code == 0
    await wait_depth(broker, queue, 0)

    rows = await audit_rows(probe.settings, SERVICE)
    assert [(r["operator"], r["action"], r["message_id"]) for r in rows] == [
        ("j.kowalska", "replayed", str(first)),
        ("a.nowak", "discarded", str(second)),
    ]
    for row, letter in zip(rows, letters, strict=True):
        assert row["queue"] == queue.name
        assert row["routing_key"] == ROUTING_KEY
        assert row["reason"] == letter.reason
        assert row["dead_lettered_at"] == letter.dead_lettered_at
        assert row["at"] >= started
    assert handler.handled == ["C-1"]  # the discarded one never reached the handler
    assert outcome(consumer.queue_name, "handled") == 1

    capsys.readouterr()
    assert (
        await cli(probe, "replay", short, str(first), "--operator", "j.kowalska") == dlq.NOT_FOUND
    )
    assert f"no such message in {queue.name}: {first}" in capsys.readouterr().err
    assert len(await audit_rows(probe.settings, SERVICE)) == 2


async def test_a_replay_that_dies_between_publish_and_ack_loses_nothing(
    probe: Probe, broker: AbstractConnection
) -> None:
    handler = Fixable()
    consumer = await probe.consume("crash", handler)
    queue = dead_letter_queue(probe, consumer)
    message_id = await probe.client.publish(ROUTING_KEY, customer("C-3"))
    await wait_depth(broker, queue, 1)
    handler.fixed = True

    async def die(letter: Letter) -> None:
        raise Crash(f"killed after publishing {letter.id}")

    async with audit_in(probe.settings, SERVICE, "j.kowalska") as audit:
        with pytest.raises(Crash):
            await settle(
                broker, queue, Selection(everything=True), "replayed", audit.record,
                operator="j.kowalska", after_publish=die,
            )  # fmt: skip
        # The copy went out (confirmed) and is handled; the dead letter was never acknowledged.
        await wait_until(lambda: handler.handled == ["C-3"], what="the copy handled")
        await wait_depth(broker, queue, 1)
        assert await audit_rows(probe.settings, SERVICE) == []

        # Run again: the second copy is a duplicate to the inbox; the dead letter goes.
        done = await settle(
            broker, queue, Selection(everything=True), "replayed", audit.record,
            operator="j.kowalska",
        )  # fmt: skip
    assert [x.message_id for x in done.acted] == [str(message_id)]
    await wait_until(
        lambda: outcome(consumer.queue_name, "duplicate") >= 1, what="the second copy deduplicated"
    )
    await wait_depth(broker, queue, 0)
    assert handler.handled == ["C-3"]
    assert outcome(consumer.queue_name, "handled") == 1
    [row] = await audit_rows(probe.settings, SERVICE)
    assert (row["action"], row["message_id"]) == ("replayed", str(message_id))


async def test_show_leaves_sealed_values_sealed_and_hides_secret_fields(
    probe: Probe, broker: AbstractConnection, capsys: pytest.CaptureFixture[str]
) -> None:
    consumer = await probe.consume("show", Fixable())
    queue = dead_letter_queue(probe, consumer)
    envelope = Envelope(
        id=uuid.uuid4(),
        type=ROUTING_KEY,
        occurred_at=datetime.now(UTC),
        producer="erp",
        correlation_id=uuid.uuid4().hex,
        payload={"customer_id": "C-4", "password": "hunter2", "link": "sealed:v1:abc_="},
    )
    await probe.client.publish_raw(ROUTING_KEY, envelope_message(envelope))
    await wait_depth(broker, queue, 1)

    capsys.readouterr()
    assert await cli(probe, "show", queue.name, str(envelope.id)) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["reason"].startswith(f"invalid payload for {ROUTING_KEY}")
    assert shown["headers"]["x-ebok-queue"] == consumer.queue_name
    assert shown["body"]["payload"]["link"] == "sealed:v1:abc_="
    assert shown["body"]["payload"]["password"] == "[redacted]"
    assert await depth(broker, queue.name) == 1

    assert await cli(probe, "show", queue.name, str(uuid.uuid4())) == dlq.NOT_FOUND


async def command(probe: Probe, *argv: str) -> tuple[int, str, str]:
    """`python -m deploy.dlq …` in a process of its own, configured by EBOK_* as in service."""
    env = {
        **os.environ,
        "EBOK_NAMESPACE": probe.settings.namespace,
        "EBOK_AMQP_URL": probe.settings.amqp_url,
        "EBOK_DATABASE_URL": probe.settings.database_url,
        "EBOK_LOG_FORMAT": "console",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deploy.dlq", *argv, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("probe", ["classic"], indirect=True)  # the queue type is no matter here
async def test_the_command_in_a_process_of_its_own(
    probe: Probe, broker: AbstractConnection
) -> None:
    consumer = await probe.consume("command", Fixable())
    queue = dead_letter_queue(probe, consumer)
    message_id = await probe.client.publish(ROUTING_KEY, customer("C-5"))
    await wait_depth(broker, queue, 1)

    code, out, _ = await command(probe, "list")
    assert code == 0
    namespace = probe.settings.namespace
    assert f"{namespace}.billing.erp.dlq" in out and f"{namespace}.metering.readings.dlq" in out
    assert "ebok" not in out.replace(probe.settings.namespace, "")
    code, out, _ = await command(probe, "list", consumer.queue_name)  # as an alert names it
    assert code == 0
    assert str(message_id) in out and "C-5 has no contract yet" in out

    code, out, _ = await command(
        probe, "discard", queue.name, str(message_id), "--operator", "j.kowalska"
    )
    assert code == 0, out
    await wait_depth(broker, queue, 0)
    [row] = await audit_rows(probe.settings, SERVICE)
    assert (row["operator"], row["action"]) == ("j.kowalska", "discarded")
    code, _, err = await command(probe, "list", "billing.nope")
    assert code == 1 and "no queue" in err


@pytest.mark.parametrize("probe", ["classic"], indirect=True)
async def test_clear_errors(probe: Probe) -> None:
    with pytest.raises(UnknownQueue, match="no queue"):
        await cli(probe, "list", "nosuch.queue")
    namespace = probe.settings.namespace
    with pytest.raises(UnknownQueue, match="not a dead-letter queue"):
        DeadLetterQueue.parse("other.billing.erp.dlq", namespace)
    with pytest.raises(UnknownQueue, match="expected"):
        DeadLetterQueue.parse(f"{namespace}.billing.dlq", namespace)
    with pytest.raises(DeadLetterError, match=r"cannot open billing.s database"):
        await cli(probe, "discard", "billing.erp", "--all", "--operator", "j.kowalska")
    for argv in (
        ["replay", "billing.erp", "--all"],  # no operator
        ["replay", "billing.erp", "--operator", "j.kowalska"],  # nothing selected
        ["discard", "billing.erp", "some-id", "--all", "--operator", "j.kowalska"],
    ):
        with pytest.raises(SystemExit) as exit_:
            dlq.main(argv)
        assert exit_.value.code == 2


async def rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, out.decode()


@pytest.mark.parametrize("probe", ["classic"], indirect=True)
async def test_the_owning_services_broker_user_suffices_and_no_other_does(
    probe: Probe, broker: AbstractConnection
) -> None:
    """Its rights from deploy/rabbitmq.py: read on its own queues (the dead-letter ones too),
    write on the default exchange; another service's user may not take its dead letters."""
    handler = Fixable()
    consumer = await probe.consume("rights", handler)
    queue = dead_letter_queue(probe, consumer)
    await probe.client.publish(ROUTING_KEY, customer("C-6"))
    await wait_depth(broker, queue, 1)
    handler.fixed = True
    namespace, password = probe.settings.namespace, uuid.uuid4().hex
    parts = urlsplit(probe.settings.amqp_url)
    made = []
    try:
        for service in (SERVICE, "billing"):
            user, rights = f"{namespace}-{service}", service_permissions(namespace, service)
            await rabbitmqctl("add_user", user, password)
            made.append(user)
            await rabbitmqctl(
                "set_permissions", "-p", "/", user, rights.configure, rights.write, rights.read
            )
        netloc = f"{namespace}-billing:{password}@{parts.hostname}:{parts.port or 5672}"
        async with connected(urlunsplit(parts._replace(netloc=netloc))) as other:
            with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
                await browse(other, queue)
        netloc = f"{namespace}-{SERVICE}:{password}@{parts.hostname}:{parts.port or 5672}"
        async with (
            connected(urlunsplit(parts._replace(netloc=netloc))) as own,
            audit_in(probe.settings, SERVICE, "j.kowalska") as audit,
        ):
            [letter] = await browse(own, queue)
            done = await settle(
                own, queue, Selection(everything=True), "replayed", audit.record,
                operator="j.kowalska",
            )  # fmt: skip
        assert [x.message_id for x in done.acted] == [letter.message_id]
        await wait_until(lambda: handler.handled == ["C-6"], what="the replay handled")
        await wait_depth(broker, queue, 0)
    finally:
        for user in made:
            await rabbitmqctl("delete_user", user)
