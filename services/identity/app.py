"""Wiring of the identity service."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.identity import http_support, registration_api, repository, session_api
from services.identity.handlers import SUBSCRIPTIONS
from shared.auth import TokenSigner, TokenVerifier
from shared.runtime import DB, VERIFIER, background_loop, service_app
from shared.settings import Settings

SERVICE = "identity"
HOUSEKEEPING_SECONDS = 600.0


def _housekeeping(app: web.Application):
    async def step() -> bool:
        async with app[DB].connection() as tx:
            await repository.delete_expired(tx.conn)
        return False

    return step


def build_app(settings: Settings) -> web.Application:
    app = service_app(
        settings,
        SERVICE,
        Path(__file__).parent / "migrations",
        SUBSCRIPTIONS,
        extra_contexts=[
            background_loop(
                "identity-housekeeping",
                _housekeeping,
                "identity_housekeeping",
                lambda s: HOUSEKEEPING_SECONDS,
            ),
        ],
    )
    app[http_support.SIGNER] = TokenSigner(settings)
    app[VERIFIER] = TokenVerifier(settings)
    app.router.add_post("/captcha", registration_api.create_captcha)
    app.router.add_get("/terms", registration_api.get_terms)
    app.router.add_post("/registrations", registration_api.register)
    app.router.add_post("/registrations/activate", registration_api.activate)
    app.router.add_post("/registrations/activation-links", registration_api.request_activation_link)
    app.router.add_post("/auth/login", session_api.login)
    app.router.add_post("/auth/refresh", session_api.refresh)
    app.router.add_post("/auth/logout", session_api.logout)
    app.router.add_get("/me", session_api.me)
    app.router.add_post("/me/password", session_api.change_password)
    return app
