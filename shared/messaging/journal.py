"""The journal: a RabbitMQ stream `<ns>.journal` that keeps the messages the consumer queues take,
for `EBOK_JOURNAL_MAX_AGE`, so that a service whose database was restored to an earlier point can
be given again what it handled since (`python -m deploy.replay`).

Each service binds the journal, at its start, to exactly what its consumer queues are bound to
(the same exchange and routing key), never to `#`: a routing key is in the journal only where some
consumer queue takes it, so an event nobody consumes yet stays unroutable and waits in its
producer's outbox as before (a publish is mandatory; a binding to everything would make every
message routable and let the journal swallow it). A stream keeps what it is given whatever reads
it: reading it (the replay) removes nothing, and its age limit is applied segment by segment.
"""

from __future__ import annotations

import contextlib

import aiormq
from aio_pika.abc import AbstractQueue

from shared.events.common import ExchangeName
from shared.logs import get_logger
from shared.messaging.broker import PUBLISH_ERRORS, Broker
from shared.messaging.topology import Names, declare_exchanges

log = get_logger(__name__)

# What the replay writes into the journal itself to find its end (deploy/replay.py); never
# replayed.
MARKER_TYPE = "ebok.journal.end-marker"


# The age limit removes whole segments, never the one being written: segments of 50 MB (RabbitMQ's
# default is 500 MB, weeks of e-BOK's traffic) let it take effect within about a day.
SEGMENT_BYTES = 50_000_000


def journal_arguments(max_age: str) -> dict[str, str | int]:
    return {
        "x-queue-type": "stream",
        "x-max-age": max_age,
        "x-stream-max-segment-size-bytes": SEGMENT_BYTES,
    }


async def declare_journal(
    broker: Broker, bindings: list[tuple[ExchangeName, str]], max_age: str
) -> None:
    """Declare the journal (idempotent) and bind it like the consumer queues (`bindings`).

    On a channel of its own: a refused declaration closes its channel, and no consumer's. An
    existing journal keeps the age it was made with (RabbitMQ refuses to redeclare a queue with
    other arguments): a changed EBOK_JOURNAL_MAX_AGE is logged, and a policy changes it
    (docs/operations.md)."""
    names = broker.names
    channel = await broker.channel(1)
    try:
        journal: AbstractQueue | None = await channel.declare_queue(
            names.journal, durable=True, arguments=journal_arguments(max_age)
        )
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        log.warning(
            "journal exists with other arguments; kept as it is",
            journal=names.journal,
            wanted_max_age=max_age,
            error=str(exc)[:300],
        )
        with contextlib.suppress(*PUBLISH_ERRORS):
            await channel.close()  # closed by the broker already; let go of it here too
        channel = await broker.channel(1)
        journal = None
    try:
        if journal is None:
            journal = await channel.declare_queue(names.journal, passive=True)
        exchanges = await declare_exchanges(channel, names)
        for logical, routing_key in bindings:
            await journal.bind(exchanges[logical], routing_key=routing_key)
    finally:
        await channel.close()


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether a topic exchange routes `routing_key` to a binding with `pattern` (`*` one word,
    `#` zero or more)."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[n:]) for n in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])


def routed_to(
    names: Names,
    queues: dict[str, list[tuple[ExchangeName, str]]],
    exchange: str,
    routing_key: str,
) -> list[str]:
    """The queues (of `queues`: name → bindings) that a message published to `exchange` (its
    full name) with `routing_key` reaches."""
    return [
        queue
        for queue, bindings in queues.items()
        if any(
            names.exchange(logical) == exchange and topic_matches(pattern, routing_key)
            for logical, pattern in bindings
        )
    ]
