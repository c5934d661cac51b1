"""Billing and metering (and the gateway) in-process with managers' grants fed as identity would
publish them (`identity.grant.changed` on the events exchange), and tokens for every role."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from deploy.integration_client import IntegrationClient
from shared.auth import Principal, TokenSigner
from shared.events.identity import GrantChanged
from tests.support.infra import Infra
from tests.support.platform import Platform, make_settings, wait_until

GRANT_SERVICES = ("billing", "metering")


class Scopes:
    def __init__(
        self,
        platform: Platform,
        erp: IntegrationClient,
        identity: IntegrationClient,
        http: aiohttp.ClientSession,
    ) -> None:
        self.platform = platform
        self.erp = erp
        self.identity = identity
        self.http = http
        self.signer = TokenSigner(platform.settings)
        self._revisions: dict[tuple[uuid.UUID, str], int] = {}

    def token(
        self, role: str, account_id: str | None = None, customer_id: str | None = None
    ) -> str:
        principal = Principal(
            account_id=account_id or str(uuid.uuid4()),
            role=role,
            login=f"{role}@example.com",
            customer_ids=(customer_id,) if customer_id else (),
        )
        return self.signer.issue(principal)[0]

    async def grant(
        self,
        manager: uuid.UUID,
        customer_id: str,
        points: list[str] | None = None,
        *,
        revoked: bool = False,
        wait: bool = True,
    ) -> int:
        """Publish the grant's next revision (partial when `points` are given) and, with `wait`,
        wait until billing and metering hold it. Returns the revision."""
        key = (manager, customer_id)
        revision = self._revisions.get(key, 0) + 1
        self._revisions[key] = revision
        await self.identity.publish(
            GrantChanged.TYPE,
            GrantChanged(
                manager_account_id=manager,
                customer_id=customer_id,
                scope="partial" if points is not None else "full",
                service_point_ids=points or [],
                revoked=revoked,
                revision=revision,
                changed_at=datetime.now(UTC),
                changed_by="operator",
            ),
        )
        if wait:
            await wait_until(
                lambda: self.holds(manager, customer_id, revision),
                timeout=10,
                what=f"grant revision {revision} in billing and metering",
            )
        return revision

    async def holds(self, manager: uuid.UUID, customer_id: str, revision: int) -> bool:
        for service in GRANT_SERVICES:
            conn = await self.platform.db(service)
            try:
                found = await conn.fetchval(
                    """SELECT revision FROM access_grants
                        WHERE manager_account_id = $1 AND customer_id = $2""",
                    manager,
                    customer_id,
                )
            finally:
                await conn.close()
            if found != revision:
                return False
        return True

    async def get(
        self, service: str, path: str, token: str, **params: str
    ) -> tuple[int, dict | list | None]:
        async with self.http.get(
            self.platform.urls[service] + path,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            body = await resp.json(content_type=None) if resp.content_length != 0 else None
            return resp.status, body


async def start_scopes(
    infra: Infra, keys: Path, services: tuple[str, ...] = GRANT_SERVICES
) -> AsyncIterator[Scopes]:
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    platform = Platform(settings)
    try:
        async with (
            IntegrationClient(settings.amqp_url, settings.namespace) as erp,
            IntegrationClient(
                settings.amqp_url, settings.namespace, producer="identity", exchange="events"
            ) as identity,
            aiohttp.ClientSession() as http,
        ):
            await platform.start(*services)
            yield Scopes(platform, erp, identity, http)
    finally:
        await platform.stop()
        await platform.remove_namespace()
