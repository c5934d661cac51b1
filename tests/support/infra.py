"""Where the tests find PostgreSQL and RabbitMQ.

URLs come from EBOK_TEST_DATABASE_URL / EBOK_TEST_AMQP_URL (else the local servers). With
EBOK_TEST_CONTAINERS=1 on a machine with Docker, testcontainers starts both instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Infra:
    database_url: str
    amqp_url: str


@contextlib.contextmanager
def infrastructure() -> Iterator[Infra]:
    if os.environ.get("EBOK_TEST_CONTAINERS") == "1":
        with _containers() as infra:
            yield infra
        return
    yield Infra(
        database_url=os.environ.get(
            "EBOK_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        amqp_url=os.environ.get("EBOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    )


@contextlib.contextmanager
def _containers() -> Iterator[Infra]:
    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    with PostgresContainer("postgres:16-alpine") as pg, RabbitMqContainer("rabbitmq:3.13") as mq:
        params = mq.get_connection_params()
        yield Infra(
            database_url=pg.get_connection_url(driver=None),
            amqp_url=f"amqp://guest:guest@{params.host}:{params.port}/",
        )
