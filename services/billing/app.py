"""Wiring of the billing service."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.billing import api
from services.billing.handlers import SUBSCRIPTIONS
from shared.auth import TokenVerifier
from shared.runtime import VERIFIER, service_app
from shared.settings import Settings

SERVICE = "billing"


def build_app(settings: Settings) -> web.Application:
    app = service_app(settings, SERVICE, Path(__file__).parent / "migrations", SUBSCRIPTIONS)
    app[VERIFIER] = TokenVerifier(settings)
    app.router.add_get("/contracts", api.contracts)
    app.router.add_get("/invoices", api.invoices)
    app.router.add_get("/invoices/{number:.+}/pdf", api.invoice_document)
    app.router.add_get("/invoices/{number:.+}", api.invoice)
    app.router.add_get("/balance", api.balance)
    app.router.add_get("/summary", api.summary)
    app.router.add_get("/payments-received", api.payments_received)
    app.router.add_get("/notes", api.notes)
    return app
