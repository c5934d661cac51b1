"""`subscriptions_of` (what a service consumes, known without building its app) agrees with
what each service's app declares when built: the dead-letter tool, the replay and the
Kubernetes generator rely on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.dead_letters import known_queues
from shared.messaging.topology import Names
from shared.runtime import CONSUMER_QUEUES, subscriptions_of
from shared.services import SERVICES
from tests.support.platform import BUILDERS, make_settings


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_what_a_service_consumes_is_known_without_building_it(service: str, keys: Path) -> None:
    settings = make_settings("postgresql://unused/", "amqp://unused/", keys)
    names = Names(settings.namespace)
    built = BUILDERS[service](settings).get(CONSUMER_QUEUES, [])
    assert [names.queue(service, s.purpose) for s in subscriptions_of(service)] == built


def test_the_dead_letter_tool_knows_every_dead_letter_queue(keys: Path) -> None:
    settings = make_settings("postgresql://unused/", "amqp://unused/", keys)
    names = Names(settings.namespace)
    every = {
        names.dead_letter_queue(queue)
        for build in BUILDERS.values()
        for queue in build(settings).get(CONSUMER_QUEUES, [])
    }
    assert {q.name for q in known_queues(settings.namespace)} == every
    # The ended sessions' queue of a service with routes among them.
    assert names.dead_letter_queue(names.queue("billing", "sessions")) in every
