"""Wiring of the correspondence service."""

from __future__ import annotations

from aiohttp import web

from services.correspondence import api, attachments_api, backoffice_api
from services.correspondence.attachments_repository import PURGE_POLL_SECONDS, UnattachedPurge
from services.correspondence.handlers import SUBSCRIPTIONS
from shared.events.correspondence import CaseMessagePosted, CaseSubmitted
from shared.runtime import DB, background_loop, service_app
from shared.settings import Settings

SERVICE = "correspondence"


def build_app(settings: Settings) -> web.Application:
    app = service_app(
        settings,
        SERVICE,
        subscriptions=SUBSCRIPTIONS,
        routes=[api.routes, attachments_api.routes, backoffice_api.routes],
        # Every new case and every customer message waits there for the back office.
        outbound={"cases": [CaseSubmitted], "case-messages": [CaseMessagePosted]},
        extra_contexts=[
            # Uploads no case named within a day go, with their chunks.
            background_loop(
                "attachments-purge",
                lambda app: UnattachedPurge(app[DB]).step,
                None,
                lambda _s: PURGE_POLL_SECONDS,
            )
        ],
    )
    app[attachments_api.UPLOAD_SLOTS] = attachments_api.UploadSlots(settings.db_pool_max)
    return app
