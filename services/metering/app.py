"""Wiring of the metering service."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.metering import api
from services.metering.handlers import MeteringHandlers
from shared.auth import TokenVerifier
from shared.messaging.consumer import Subscription
from shared.messaging.topology import Names
from shared.runtime import outbound_queue, service_app
from shared.settings import Settings

SERVICE = "metering"


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
        extra_contexts=[outbound_queue("self-readings", ["metering.reading.submitted"])],
    )
    app[api.VERIFIER] = TokenVerifier(settings)
    app.router.add_get("/meters", api.meters)
    app.router.add_get("/meters/{meter_number}/readings", api.readings)
    app.router.add_post("/meters/{meter_number}/readings", api.submit_reading)
    return app
