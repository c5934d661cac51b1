"""The operations sampler withdraws a gauge it could not sample instead of leaving its last
value (an old `consumers > 0` taken with max() would hide EbokQueueWithoutConsumer), and its
timestamp moves only when every gauge was sampled (so EbokOpsMetricsStale can fire). I/O is
faked: the broker is away."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from prometheus_client import REGISTRY

from shared.ops_metrics import DEAD_LETTERS, QUEUE_CONSUMERS, QUEUE_READY, SAMPLED_AT, Sampler


class _Conn:
    async def fetchrow(self, _sql: str, timeout: float) -> None:
        return None


class _Pool:
    @contextlib.asynccontextmanager
    async def acquire(self, timeout: float) -> AsyncIterator[_Conn]:
        yield _Conn()


class _BrokerAway:
    is_connected = False


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_gauges_not_sampled_are_withdrawn_and_the_timestamp_stays() -> None:
    service, queue = "sampler-test", "t.sampler-test.things"
    QUEUE_READY.labels(service, queue).set(7)
    QUEUE_CONSUMERS.labels(service, queue).set(2)
    DEAD_LETTERS.labels(service, queue).set(1)
    SAMPLED_AT.labels(service).set(123.0)
    sampler = Sampler(
        cast(Any, _Pool()), cast(Any, _BrokerAway()), service, consumer_queues=[queue]
    )
    await sampler.sample()
    labels = {"service": service, "queue": queue}
    assert _value("ebok_queue_ready_messages", **labels) is None
    assert _value("ebok_queue_consumers", **labels) is None
    assert _value("ebok_dead_letter_messages", **labels) is None
    assert _value("ebok_ops_sampled_timestamp_seconds", service=service) == 123.0
