"""Fixtures shared by the suite: real PostgreSQL, RabbitMQ and an in-process SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from shared.auth import generate_keypair
from shared.logs import configure_logging
from shared.sealing import generate_sealing_key
from tests.support.infra import Infra, infrastructure
from tests.support.stack import Stack, start_stack


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    configure_logging("tests", "WARNING", "console")
    with infrastructure() as found:
        yield found


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    generate_keypair(directory / "private.pem", directory / "public.pem")
    generate_sealing_key(directory / "sealing.key")
    return directory


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    """One platform per test module; tests use customers of their own."""
    async for running in start_stack(infra, keys):
        yield running
