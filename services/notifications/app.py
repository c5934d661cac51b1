"""Wiring of the notifications service."""

from __future__ import annotations

from aiohttp import web

from services.notifications.delivery import Mailer
from services.notifications.handlers import SUBSCRIPTIONS
from services.notifications.queue_gauges import EMAIL_QUEUE
from services.notifications.repository import NOTIFY_CHANNEL
from shared.runtime import DB, background_loop, service_app
from shared.settings import Settings

SERVICE = "notifications"


def build_app(settings: Settings) -> web.Application:
    return service_app(
        settings,
        SERVICE,
        subscriptions=SUBSCRIPTIONS,
        extra_contexts=[
            background_loop(
                "email-delivery",
                lambda app: Mailer(app[DB]).deliver_due,
                NOTIFY_CHANNEL,
                lambda s: s.email_poll_seconds,
            )
        ],
        probes=[EMAIL_QUEUE],
    )
