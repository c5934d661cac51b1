"""Wiring of the billing service."""

from __future__ import annotations

from aiohttp import web

from services.billing import api, e_invoice_api, portfolio_api
from services.billing.e_invoice_delivery import NOTIFY_CHANNEL as E_INVOICE_CHANNEL
from services.billing.e_invoice_delivery import EInvoiceDelivery
from services.billing.handlers import SUBSCRIPTIONS
from services.billing.reminders import Reminders
from shared.events.billing import EInvoiceChanged, OnlinePaymentReceived
from shared.runtime import DB, background_loop, service_app
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
        extra_contexts=[
            # Woken at once by the invoice handler's commit (NOTIFY), else polling.
            background_loop(
                "e-invoice-delivery",
                lambda app: EInvoiceDelivery(app[DB]).step,
                E_INVOICE_CHANNEL,
                lambda s: s.e_invoice_poll_seconds,
            ),
            background_loop(
                "invoice-reminders",
                lambda app: Reminders(app[DB]).step,
                None,
                lambda s: s.reminder_poll_seconds,
            ),
        ],
    )
