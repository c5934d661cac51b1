"""Wiring of the billing service."""

from __future__ import annotations

from aiohttp import web

from services.billing import api, portfolio_api
from services.billing.handlers import SUBSCRIPTIONS
from shared.events.billing import OnlinePaymentReceived
from shared.runtime import service_app
from shared.settings import Settings

SERVICE = "billing"


def build_app(settings: Settings) -> web.Application:
    return service_app(
        settings,
        SERVICE,
        subscriptions=SUBSCRIPTIONS,
        routes=[api.routes, portfolio_api.routes],
        # Every completed online payment waits there for the ERP to book it (integration contract).
        outbound={"online-payments": [OnlinePaymentReceived]},
    )
