"""Wiring of the identity service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from services.identity import (
    grants_api,
    http_support,
    manager_requests_api,
    preferences_api,
    registration_api,
    repository,
    session_api,
)
from services.identity.captcha_media import AudioWorkers
from services.identity.handlers import SUBSCRIPTIONS
from shared.auth import TokenSigner
from shared.events.identity import ManagerGrantChanged, ManagerRequestDecided
from shared.runtime import DB, SETTINGS, background_loop, service_app
from shared.settings import Settings

SERVICE = "identity"
HOUSEKEEPING_SECONDS = 600.0


def _housekeeping(app: web.Application) -> Callable[[], Awaitable[bool]]:
    async def step() -> bool:
        async with app[DB].connection() as tx:
            await repository.delete_expired(tx.conn)
        return False

    return step


async def _audio_workers(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    workers = AudioWorkers(settings.captcha_audio_processes, settings.captcha_audio_queue)
    app[http_support.AUDIO_WORKERS] = workers
    yield
    workers.close()


def build_app(settings: Settings) -> web.Application:
    app = service_app(
        settings,
        SERVICE,
        subscriptions=SUBSCRIPTIONS,
        routes=[
            registration_api.routes,
            session_api.routes,
            manager_requests_api.routes,
            grants_api.routes,
            preferences_api.routes,
        ],
        # Decisions on manager requests and grant changes wait there for the back office.
        outbound={
            "manager-decisions": [ManagerRequestDecided],
            "manager-grants": [ManagerGrantChanged],
        },
        extra_contexts=[
            _audio_workers,
            background_loop(
                "identity-housekeeping",
                _housekeeping,
                "identity_housekeeping",
                lambda s: HOUSEKEEPING_SECONDS,
            ),
        ],
    )
    app[http_support.SIGNER] = TokenSigner(settings)
    return app
