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
from shared.logs import get_logger
from shared.runtime import DB, SETTINGS, background_loop, service_app
from shared.settings import Settings

SERVICE = "payments"
log = get_logger(__name__)


async def provider(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.p24_timeout_seconds)
    )
    app[PROVIDER] = configured_provider(settings, session)
    if not (settings.p24_merchant_id and settings.p24_crc.get_secret_value()):
        # Payments are answered 502 until it is configured; the rest of e-BOK works.
        log.warning("payments: no Przelewy24 merchant id or CRC key set (EBOK_P24_*)")
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
