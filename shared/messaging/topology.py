"""Names and declarations of everything in the broker, all derived from the namespace.

- `<ns>.events`       topic exchange for domain events (routing key = event type)
- `<ns>.integration`  topic exchange shared with outside utility systems
- `<ns>.dead-letter`  direct exchange; each queue's dead letters go to `<queue>.dlq`
- `<ns>.<service>.<purpose>`           a consumer's durable queue
- `<ns>.<service>.<purpose>.retry.<n>` delay queues: after their TTL, back to the main queue
- `<ns>.journal`      a stream keeping what the consumer queues take, for replay
                      (shared/messaging/journal.py)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from shared.events.common import ExchangeName

REASON_HEADER = "x-ebok-reason"
QUEUE_HEADER = "x-ebok-queue"


@dataclass(frozen=True)
class Names:
    namespace: str

    def exchange(self, logical: ExchangeName) -> str:
        return f"{self.namespace}.{logical}"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dead-letter"

    @property
    def journal(self) -> str:
        return f"{self.namespace}.journal"

    def queue(self, service: str, purpose: str) -> str:
        return f"{self.namespace}.{service}.{purpose}"

    @staticmethod
    def dead_letter_queue(queue: str) -> str:
        return f"{queue}.dlq"

    @staticmethod
    def retry_queue(queue: str, level: int) -> str:
        return f"{queue}.retry.{level}"


def dead_letter_headers(queue: str, reason: str, routing_key: str | None = None) -> dict[str, str]:
    """What a dead letter carries besides its body: why, from which queue, when."""
    headers = {
        REASON_HEADER: reason[:4000],
        QUEUE_HEADER: queue,
        "x-ebok-dead-lettered-at": datetime.now(UTC).isoformat(),
    }
    if routing_key is not None:
        headers["x-ebok-routing-key"] = routing_key
    return headers


@dataclass
class DeclaredQueue:
    """Strong references to what a consumer needs; robust channels restore them on reconnect."""

    queue: AbstractQueue
    dead_letter_queue: AbstractQueue
    retry_queues: list[AbstractQueue] = field(default_factory=list)


async def declare_exchanges(channel: AbstractChannel, names: Names) -> dict[str, AbstractExchange]:
    exchanges: dict[str, AbstractExchange] = {}
    for logical in ("events", "integration"):
        exchanges[logical] = await channel.declare_exchange(
            names.exchange(logical), aio_pika.ExchangeType.TOPIC, durable=True
        )
    exchanges["dead-letter"] = await channel.declare_exchange(
        names.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    return exchanges


class QueueArgumentsChanged(RuntimeError):
    """The broker holds `queue_name` with other arguments than this release declares (RabbitMQ
    never changes a queue's arguments in place)."""

    def __init__(self, queue_name: str, single_active: bool) -> None:
        what = "with" if single_active else "without"
        super().__init__(
            f"queue {queue_name} exists with other arguments than this release declares (it "
            f"wants it {what} a single active consumer, of the type EBOK_QUEUE_TYPE names): "
            "drain it and delete it, then start again (docs/operations.md, Upgrading without "
            "downtime)"
        )
        self.queue_name = queue_name


async def declare_consumer_queue(
    channel: AbstractChannel,
    names: Names,
    queue_name: str,
    bindings: list[tuple[ExchangeName, str]],
    retry_delays_ms: list[int],
    queue_type: str,
    *,
    single_active: bool = False,
) -> DeclaredQueue:
    """The queue with its dead-letter and retry queues. `single_active`: the broker delivers to
    one consumer at a time (RabbitMQ's single active consumer) and hands over to the next when
    that one goes, so a queue whose order matters keeps it however many instances consume."""
    exchanges = await declare_exchanges(channel, names)
    type_args = {"x-queue-type": queue_type}
    dlq = await channel.declare_queue(
        names.dead_letter_queue(queue_name), durable=True, arguments=type_args
    )
    await dlq.bind(exchanges["dead-letter"], routing_key=queue_name)
    try:
        queue = await channel.declare_queue(
            queue_name,
            durable=True,
            arguments={
                **type_args,
                "x-dead-letter-exchange": names.dead_letter_exchange,
                "x-dead-letter-routing-key": queue_name,
                **({"x-single-active-consumer": True} if single_active else {}),
            },
        )
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        raise QueueArgumentsChanged(queue_name, single_active) from exc
    for logical, routing_key in bindings:
        await queue.bind(exchanges[logical], routing_key=routing_key)
    retry_queues = []
    for level, delay in enumerate(retry_delays_ms):
        # Classic queues: per-queue TTL then dead-lettering back to the main queue through the
        # default exchange. One queue per delay keeps a long delay from blocking a short one.
        retry_queues.append(
            await channel.declare_queue(
                names.retry_queue(queue_name, level),
                durable=True,
                arguments={
                    "x-message-ttl": int(delay),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": queue_name,
                },
            )
        )
    return DeclaredQueue(queue=queue, dead_letter_queue=dlq, retry_queues=retry_queues)


async def declare_outbound_queue(
    channel: AbstractChannel,
    names: Names,
    queue_name: str,
    routing_keys: list[str],
    queue_type: str,
) -> AbstractQueue:
    """A durable queue on the integration exchange that outside systems read e-BOK's facts from.

    Declared by the producer, so a fact is kept until the outside system takes it (and publishing
    it mandatory finds a route even before that system first connects)."""
    exchanges = await declare_exchanges(channel, names)
    queue = await channel.declare_queue(
        queue_name, durable=True, arguments={"x-queue-type": queue_type}
    )
    for key in routing_keys:
        await queue.bind(exchanges["integration"], routing_key=key)
    return queue
