"""Wiring of the billing service."""

from __future__ import annotations

from aiohttp import web

from services.billing import api, e_invoice_api, portfolio_api
from services.billing.handlers import SUBSCRIPTIONS
from shared.events.billing import EInvoiceChanged, OnlinePaymentReceived
from shared.runtime import service_app
from shared.settings import Settings

SERVICE = "billing"


def build_app(settings: Settings) -> web.Application:
    return service_app(
        settings,
        SERVICE,
        subscriptions=SUBSCRIPTIONS,
        routes=[api.routes, portfolio_api.routes, e_invoice_api.routes],
        # Every completed online payment waits there for the ERP to book it (integration contract).
        # Each e-invoice consent change, once, for the ERP (it stops or starts printing).
        outbound={"online-payments": [OnlinePaymentReceived], "e-invoice": [EInvoiceChanged]},
    )
