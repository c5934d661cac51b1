"""The gauges an operator pages on, sampled by one loop per process (shared/runtime.py
`ops_sampler`): the outbox (one SQL), a service's own probes (one SQL each, e.g. the email
queue) and the depth of each of its queues, their delay queues and dead-letter queues (passive
declares: the broker answers with the counts, nothing is created or changed).

Every instance of a service samples the same database and the same queues, so the instances
export the same values: alerts and dashboards take max() over them, not sum()."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
from aio_pika.abc import AbstractChannel
from prometheus_client import Gauge

from shared.logs import get_logger
from shared.messaging.broker import PUBLISH_ERRORS, Broker
from shared.messaging.topology import Names
from shared.metrics import (
    DEAD_LETTERS,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PENDING,
    QUEUE_CONSUMERS,
    QUEUE_READY,
    RETRY_WAITING,
    SAMPLED_AT,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class Probe:
    """One SQL statement returning one row, and what sets the gauges from it."""

    name: str
    sql: str
    apply: Callable[[asyncpg.Record], None]


def outbox_probe(service: str) -> Probe:
    def apply(row: asyncpg.Record) -> None:
        OUTBOX_PENDING.labels(service).set(row["pending"])
        OUTBOX_OLDEST_AGE.labels(service).set(row["oldest_age"])

    # The pending rows are the partial index outbox_pending: published ones are not read.
    return Probe(
        "outbox",
        """SELECT count(*) AS pending,
                  coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_age
             FROM outbox WHERE published_at IS NULL""",
        apply,
    )


@dataclass(frozen=True)
class QueueDepth:
    ready: int
    consumers: int


class Sampler:
    """Sets the operations gauges of `service`: `probes` on its database, and the depths of its
    consumer queues (with their `retry_levels` delay queues and dead-letter queue) and of
    `outbound` queues (kept for outside systems)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: Broker,
        service: str,
        *,
        consumer_queues: Sequence[str],
        outbound_queues: Sequence[str] = (),
        retry_levels: int = 0,
        probes: Sequence[Probe] = (),
    ) -> None:
        self.pool = pool
        self.broker = broker
        self.service = service
        self.consumer_queues = list(consumer_queues)
        self.outbound_queues = list(outbound_queues)
        self.retry_levels = retry_levels
        self.probes = [outbox_probe(service), *probes]
        self._channel: AbstractChannel | None = None

    async def sample(self) -> bool:
        """One sample of every gauge; False (nothing more to do until the next interval).
        `ebok_ops_sampled_timestamp_seconds` moves only when every gauge was sampled: a gauge
        that could not be is withdrawn rather than left at its last value (another instance's
        fresh one, taken with max(), stands; with none, EbokOpsMetricsStale says so)."""
        await self._sample_database()
        if await self._sample_queues():
            SAMPLED_AT.labels(self.service).set(time.time())
        return False

    async def _sample_database(self) -> None:
        async with self.pool.acquire(timeout=5) as conn:
            for probe in self.probes:
                row = await conn.fetchrow(probe.sql, timeout=5)
                if row is not None:
                    probe.apply(row)

    async def _sample_queues(self) -> bool:
        """Whether every queue was sampled."""
        complete = True
        for queue in self.consumer_queues:
            depth = await self._depth(queue)
            self._set(QUEUE_READY, queue, depth and depth.ready)
            self._set(QUEUE_CONSUMERS, queue, depth and depth.consumers)
            dead = await self._depth(Names.dead_letter_queue(queue))
            self._set(DEAD_LETTERS, queue, dead and dead.ready)
            retrying: int | None = 0
            for level in range(self.retry_levels):
                delayed = await self._depth(Names.retry_queue(queue, level))
                retrying = None if delayed is None or retrying is None else retrying + delayed.ready
            self._set(RETRY_WAITING, queue, retrying)
            complete = complete and None not in (depth, dead, retrying)
        for queue in self.outbound_queues:
            depth = await self._depth(queue)
            self._set(QUEUE_READY, queue, depth and depth.ready)
            self._set(QUEUE_CONSUMERS, queue, depth and depth.consumers)
            complete = complete and depth is not None
        return complete

    def _set(self, gauge: Gauge, queue: str, value: int | None) -> None:
        """The gauge of `queue` set to `value`, or withdrawn when it could not be sampled."""
        if value is None:
            with contextlib.suppress(KeyError):
                gauge.remove(self.service, queue)
        else:
            gauge.labels(self.service, queue).set(value)

    async def _depth(self, queue: str) -> QueueDepth | None:
        """The queue's ready messages and consumers, by a passive declare; None when it does not
        exist (yet) or the broker did not answer. A refused passive declare closes its channel:
        the next one opens another."""
        if not self.broker.is_connected:
            return None
        try:
            channel = await self._open_channel()
            # Not robust: a robust channel answers a passive declare of a queue it knows from
            # its memory, without asking the broker.
            declared = await channel.declare_queue(queue, passive=True, robust=False, timeout=5)
        except PUBLISH_ERRORS as exc:
            log.debug("queue depth not sampled", queue=queue, error=str(exc) or type(exc).__name__)
            await self.close()
            return None
        result = declared.declaration_result
        return QueueDepth(ready=result.message_count or 0, consumers=result.consumer_count or 0)

    async def _open_channel(self) -> AbstractChannel:
        if self._channel is None or self._channel.is_closed:
            assert self.broker.connection is not None
            self._channel = await self.broker.connection.channel(publisher_confirms=False)
        return self._channel

    async def close(self) -> None:
        """Let go of the channel, and withdraw this instance's queue gauges: a stopped instance
        says nothing of queues it no longer watches."""
        for queue in self.consumer_queues:
            for gauge in (QUEUE_READY, QUEUE_CONSUMERS, DEAD_LETTERS, RETRY_WAITING):
                self._set(gauge, queue, None)
        for queue in self.outbound_queues:
            for gauge in (QUEUE_READY, QUEUE_CONSUMERS):
                self._set(gauge, queue, None)
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(*PUBLISH_ERRORS):
                await channel.close()
