"""Wiring of the payments service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from services.payments import api
from services.payments.handlers import SUBSCRIPTIONS
from services.payments.keys import PROVIDER
from services.payments.providers.configured import configured_provider
from services.payments.reconciliation import Reconciler
from shared.runtime import DB, SETTINGS, background_loop, service_app
from shared.settings import Settings

SERVICE = "payments"


async def provider(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.p24_timeout_seconds)
    )
    app[PROVIDER] = configured_provider(settings, session)
    yield
    await session.close()


def build_app(settings: Settings) -> web.Application:
    return service_app(
        settings,
        SERVICE,
        subscriptions=SUBSCRIPTIONS,
        routes=[api.routes],
        extra_contexts=[
            provider,
            background_loop(
                "payments-reconciliation",
                lambda app: Reconciler(app[DB], app[PROVIDER], app[SETTINGS]).step,
                None,
                lambda s: s.payments_reconcile_poll_seconds,
            ),
        ],
    )
