"""Wiring of the metering service."""

from __future__ import annotations

from aiohttp import web

from services.metering import api
from services.metering.handlers import SUBSCRIPTIONS
from shared.events.metering import SelfReadingSubmitted
from shared.runtime import service_app
from shared.settings import Settings

SERVICE = "metering"


def build_app(settings: Settings) -> web.Application:
    return service_app(
        settings,
        SERVICE,
        routes=[api.routes],
        subscriptions=SUBSCRIPTIONS,
        # Customers' own readings wait there for the back office (integration contract).
        outbound={"self-readings": [SelfReadingSubmitted]},
    )
