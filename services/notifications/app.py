"""Wiring of the notifications service."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.notifications.delivery import Mailer
from services.notifications.handlers import EmailRequests
from services.notifications.rendering import Renderer
from services.notifications.repository import NOTIFY_CHANNEL
from shared.messaging.consumer import Subscription
from shared.runtime import POOL, SETTINGS, background_loop, service_app
from shared.settings import Settings

SERVICE = "notifications"


def build_app(settings: Settings) -> web.Application:
    requests = EmailRequests(settings, Renderer())
    return service_app(
        settings,
        SERVICE,
        Path(__file__).parent / "migrations",
        subscriptions=lambda app: [Subscription("email-requests", "events", requests.handlers())],
        extra_contexts=[
            background_loop(
                "email-delivery",
                lambda app: Mailer(app[SETTINGS], app[POOL]).deliver_due,
                NOTIFY_CHANNEL,
                lambda s: s.email_poll_seconds,
            )
        ],
    )
