"""Fixtures shared by the suite: real PostgreSQL, RabbitMQ and an in-process SMTP server."""

from __future__ import annotations

import asyncio
import socket
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
    """A running platform with its mailbox (a real SMTP server), ERP client and API client."""

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
        self.smtp: asyncio.Server | None = None

    async def start_smtp(self) -> None:
        self.smtp = await start_smtp_server(self.mailbox, "127.0.0.1", self.smtp_port)

    async def stop_smtp(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            await self.smtp.wait_closed()
            self.smtp = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def start_stack(
    infra: Infra, keys: Path, *, smtp_up: bool = True, **overrides: object
) -> AsyncIterator[Stack]:
    smtp_port = free_port()
    settings = make_settings(
        infra.database_url, infra.amqp_url, keys, smtp_port=smtp_port, **overrides
    )
    platform = Platform(settings)
    stack: Stack | None = None
    try:
        async with (
            IntegrationClient(settings.amqp_url, settings.namespace) as erp,
            aiohttp.ClientSession() as session,
        ):
            stack = Stack(platform, MailStore(), erp, ApiClient(session, ""), smtp_port)
            if smtp_up:
                await stack.start_smtp()
            await platform.start()
            stack.api.base_url = platform.urls["gateway"]
            yield stack
    finally:
        await platform.stop()
        if stack is not None:
            await stack.stop_smtp()
        await platform.remove_namespace()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    """One platform per test module; tests use customers of their own."""
    async for running in start_stack(infra, keys):
        yield running
