from __future__ import annotations

import re
from pathlib import Path

from deploy.rabbitmq import DEFINITIONS, OUTBOUND, render, service_permissions, users
from shared.runtime import CONSUMER_QUEUES, OUTBOUND_QUEUES
from tests.support.platform import BUILDERS, make_settings


def test_the_definitions_file_is_up_to_date() -> None:
    assert DEFINITIONS.read_text() == render("ebok"), "run python -m deploy.rabbitmq"


def test_every_queue_a_service_declares_is_within_its_permissions(keys: Path) -> None:
    settings = make_settings("postgresql://x/y", "amqp://x", keys)
    ns = settings.namespace
    for name, build in BUILDERS.items():
        app = build(settings)
        outbound = {q.rsplit(".", 1)[1] for q in app.get(OUTBOUND_QUEUES, [])}
        assert outbound == set(OUTBOUND.get(name, ())), name
        if name == "gateway":
            continue
        allowed = service_permissions(ns, name)
        for queue in [*app[CONSUMER_QUEUES], *app.get(OUTBOUND_QUEUES, [])]:
            for permission in (allowed.configure, allowed.write):
                assert re.fullmatch(permission, queue), (name, queue)
        for queue in app[CONSUMER_QUEUES]:
            assert re.fullmatch(allowed.read, queue), (name, queue)
            for other, other_allowed in users(ns).items():
                if other != f"{ns}-{name}":
                    assert not re.fullmatch(other_allowed.read, queue), (other, queue)
