"""Wiring of the billing service."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.billing.handlers import ERP_HANDLERS
from shared.messaging.consumer import Subscription
from shared.runtime import service_app
from shared.settings import Settings

SERVICE = "billing"


def build_app(settings: Settings) -> web.Application:
    return service_app(
        settings,
        SERVICE,
        Path(__file__).parent / "migrations",
        subscriptions=lambda app: [Subscription("erp", "integration", ERP_HANDLERS)],
    )
