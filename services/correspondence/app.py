"""Wiring of the correspondence service."""

from __future__ import annotations

from aiohttp import web

from services.correspondence import api
from services.correspondence.handlers import SUBSCRIPTIONS
from shared.events.correspondence import CaseMessagePosted, CaseSubmitted
from shared.runtime import service_app
from shared.settings import Settings

SERVICE = "correspondence"


def build_app(settings: Settings) -> web.Application:
    return service_app(
        settings,
        SERVICE,
        subscriptions=SUBSCRIPTIONS,
        routes=[api.routes],
        # Every new case and every customer message waits there for the back office.
        outbound={"cases": [CaseSubmitted], "case-messages": [CaseMessagePosted]},
    )
