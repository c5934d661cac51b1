"""Notifications' message handlers: each event that asks for an email queues one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.notifications import repository
from services.notifications.rendering import Renderer
from shared.envelope import Envelope
from shared.events import identity
from shared.settings import Settings


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


class EmailRequests:
    """Turns identity's events into queued emails; the templates decide the words."""

    def __init__(self, settings: Settings, renderer: Renderer) -> None:
        self.settings = settings
        self.renderer = renderer
        self.login_url = f"{settings.public_url.rstrip('/')}/login"

    async def _queue(
        self,
        conn: asyncpg.Connection,
        env: Envelope,
        *,
        template: str,
        recipient: str,
        language: str,
        context: dict[str, Any],
        sensitive: bool,
        reference_id: str | None,
    ) -> None:
        email = self.renderer.render(template, language, context)
        await repository.queue_email(
            conn,
            source_event_id=env.id,
            template=template,
            language=language,
            recipient=recipient,
            email=email,
            sensitive=sensitive,
            reference_id=reference_id,
            correlation_id=env.correlation_id,
        )

    async def registration_requested(
        self, conn: asyncpg.Connection, env: Envelope, e: identity.RegistrationRequested
    ) -> None:
        await self._queue(
            conn,
            env,
            template="registration",
            recipient=str(e.email),
            language=e.language,
            context={"activation_url": e.activation_url, "expires_at": _when(e.expires_at)},
            sensitive=True,
            reference_id=str(e.registration_id),
        )

    async def registration_repeated(
        self, conn: asyncpg.Connection, env: Envelope, e: identity.RegistrationRepeated
    ) -> None:
        await self._queue(
            conn,
            env,
            template="account-exists",
            recipient=str(e.email),
            language=e.language,
            context={"login": e.login, "login_url": self.login_url},
            sensitive=False,
            reference_id=str(e.account_id),
        )

    async def credentials_issued(
        self, conn: asyncpg.Connection, env: Envelope, e: identity.CredentialsIssued
    ) -> None:
        await self._queue(
            conn,
            env,
            template="registration-confirmation",
            recipient=str(e.email),
            language=e.language,
            context={"login": e.login, "one_time_password": e.one_time_password},
            sensitive=True,
            reference_id=str(e.account_id),
        )

    async def account_activated(
        self, conn: asyncpg.Connection, env: Envelope, e: identity.AccountActivated
    ) -> None:
        await self._queue(
            conn,
            env,
            template="account-activation",
            recipient=str(e.email),
            language=e.language,
            context={"login": e.login, "login_url": self.login_url},
            sensitive=False,
            reference_id=str(e.account_id),
        )

    def handlers(self) -> dict:
        return {
            "identity.registration.requested": self.registration_requested,
            "identity.registration.repeated": self.registration_repeated,
            "identity.credentials.issued": self.credentials_issued,
            "identity.account.activated": self.account_activated,
        }
