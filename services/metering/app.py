"""Wiring of the metering service."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.metering import api
from services.metering.handlers import SUBSCRIPTIONS
from shared.auth import TokenVerifier
from shared.events.metering import SelfReadingSubmitted
from shared.runtime import VERIFIER, outbound_queue, service_app
from shared.settings import Settings

SERVICE = "metering"


def build_app(settings: Settings) -> web.Application:
    app = service_app(
        settings,
        SERVICE,
        Path(__file__).parent / "migrations",
        SUBSCRIPTIONS,
        extra_contexts=[outbound_queue("self-readings", [SelfReadingSubmitted])],
    )
    app[VERIFIER] = TokenVerifier(settings)
    app.router.add_get("/meters", api.meters)
    app.router.add_get("/meters/{meter_number}/readings", api.readings)
    app.router.add_post("/meters/{meter_number}/readings", api.submit_reading)
    return app
