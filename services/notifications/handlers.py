"""Notifications' message handlers: each event that asks for an email queues one. The templates
decide the words; the handlers say which template, to whom, and with what."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from services.notifications import repository
from services.notifications.rendering import Renderer
from shared.envelope import Envelope
from shared.events import identity
from shared.messaging.consumer import Subscription
from shared.tx import Tx


@functools.cache
def _renderer() -> Renderer:
    # The templates are files of the package: loaded once, shared by every handler.
    return Renderer()


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _login_url(tx: Tx) -> str:
    return f"{tx.settings.public_url.rstrip('/')}/login"


async def _queue(
    tx: Tx,
    env: Envelope,
    *,
    template: str,
    to: identity.AccountEmail | identity.RegistrationRequested,
    context: dict[str, Any],
    sensitive: bool,
    reference_id: str,
) -> None:
    await repository.queue_email(
        tx.conn,
        source=env,
        template=template,
        language=to.language,
        recipient=str(to.email),
        email=_renderer().render(template, to.language, context),
        sensitive=sensitive,
        reference_id=reference_id,
    )


async def registration_requested(tx: Tx, env: Envelope, e: identity.RegistrationRequested) -> None:
    await _queue(
        tx,
        env,
        template="registration",
        to=e,
        context={"activation_url": e.activation_url, "expires_at": _when(e.expires_at)},
        sensitive=True,
        reference_id=str(e.registration_id),
    )


async def registration_repeated(tx: Tx, env: Envelope, e: identity.RegistrationRepeated) -> None:
    await _queue(
        tx,
        env,
        template="account-exists",
        to=e,
        context={"login": e.login, "login_url": _login_url(tx)},
        sensitive=False,
        reference_id=str(e.account_id),
    )


async def credentials_issued(tx: Tx, env: Envelope, e: identity.CredentialsIssued) -> None:
    await _queue(
        tx,
        env,
        template="registration-confirmation",
        to=e,
        context={"login": e.login, "one_time_password": e.one_time_password},
        sensitive=True,
        reference_id=str(e.account_id),
    )


async def account_activated(tx: Tx, env: Envelope, e: identity.AccountActivated) -> None:
    await _queue(
        tx,
        env,
        template="account-activation",
        to=e,
        context={"login": e.login, "login_url": _login_url(tx)},
        sensitive=False,
        reference_id=str(e.account_id),
    )


SUBSCRIPTIONS = (
    Subscription(
        "email-requests",
        {
            identity.RegistrationRequested: registration_requested,
            identity.RegistrationRepeated: registration_repeated,
            identity.CredentialsIssued: credentials_issued,
            identity.AccountActivated: account_activated,
        },
    ),
)
