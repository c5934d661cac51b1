"""Fixtures shared by the suite: real PostgreSQL, RabbitMQ and an in-process SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from deploy.mailbox import MailStore, start_smtp_server
from shared.auth import generate_keypair
from shared.logs import configure_logging
from tests.support.infra import Infra, infrastructure
from tests.support.platform import ApiClient, Platform, make_settings


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    configure_logging("tests", "WARNING", "console")
    with infrastructure() as found:
        yield found


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    generate_keypair(directory / "private.pem", directory / "public.pem")
    return directory


class Stack:
    """A running platform with its mailbox, ERP client and API client."""

    def __init__(
        self,
        platform: Platform,
        mailbox: MailStore,
        erp: IntegrationClient,
        api: ApiClient,
        smtp_port: int,
    ) -> None:
        self.platform = platform
        self.mailbox = mailbox
        self.erp = erp
        self.api = api
        self.smtp_port = smtp_port


async def start_stack(infra: Infra, keys: Path, **overrides: object) -> AsyncIterator[Stack]:
    mailbox = MailStore()
    smtp = await start_smtp_server(mailbox, "127.0.0.1", 0)
    smtp_port = smtp.sockets[0].getsockname()[1]
    settings = make_settings(
        infra.database_url, infra.amqp_url, keys, smtp_port=smtp_port, **overrides
    )
    platform = Platform(settings)
    try:
        await platform.start()
        async with (
            IntegrationClient(settings.amqp_url, settings.namespace) as erp,
            aiohttp.ClientSession() as session,
        ):
            yield Stack(
                platform, mailbox, erp, ApiClient(session, platform.urls["gateway"]), smtp_port
            )
    finally:
        await platform.stop()
        smtp.close()
        await platform.remove_namespace()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    """One platform per test module; tests use customers of their own."""
    async for running in start_stack(infra, keys):
        yield running
