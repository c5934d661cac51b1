"""Wiring of the metering service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from services.metering import api
from services.metering.handlers import MeteringHandlers
from shared.auth import TokenVerifier
from shared.messaging.consumer import Subscription
from shared.messaging.topology import Names, declare_outbound_queue
from shared.runtime import BROKER, SETTINGS, service_app
from shared.settings import Settings

SERVICE = "metering"
# Where the back office reads customers' self-readings from (integration contract).
BACKOFFICE_QUEUE = "backoffice.self-readings"


async def _backoffice_queue(app: web.Application) -> AsyncIterator[None]:
    broker = app[BROKER]
    channel = await broker.channel(1)
    await declare_outbound_queue(
        channel,
        broker.names,
        broker.names.queue(*BACKOFFICE_QUEUE.split(".")),
        ["metering.reading.submitted"],
        app[SETTINGS].queue_type,
    )
    await channel.close()
    yield


def build_app(settings: Settings) -> web.Application:
    handlers = MeteringHandlers(settings, Names(settings.namespace).queue(SERVICE, "readings"))
    app = service_app(
        settings,
        SERVICE,
        Path(__file__).parent / "migrations",
        subscriptions=lambda app: [
            Subscription("contracts", "events", handlers.contract_handlers()),
            Subscription("readings", "integration", handlers.feed_handlers()),
        ],
        extra_contexts=[_backoffice_queue],
    )
    app[api.VERIFIER] = TokenVerifier(settings)
    app.router.add_get("/meters", api.meters)
    app.router.add_get("/meters/{meter_number}/readings", api.readings)
    app.router.add_post("/meters/{meter_number}/readings", api.submit_reading)
    return app
