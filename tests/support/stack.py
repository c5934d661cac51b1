"""A whole test platform with its mailbox (a real SMTP server), ERP client and API client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from deploy.integration_client import IntegrationClient
from deploy.mailbox import MailStore, start_smtp_server
from tests.support.infra import Infra
from tests.support.platform import ApiClient, Platform, make_settings


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
    infra: Infra,
    keys: Path,
    *,
    smtp_up: bool = True,
    ports: dict[str, int] | None = None,
    **overrides: object,
) -> AsyncIterator[Stack]:
    smtp_port = free_port()
    settings = make_settings(
        infra.database_url, infra.amqp_url, keys, smtp_port=smtp_port, **overrides
    )
    platform = Platform(settings, ports)
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
