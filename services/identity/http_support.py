"""What identity's HTTP handlers share: app keys, the client address, rate limits."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.identity import repository
from services.identity.captcha_media import AudioWorkers
from shared.auth import TokenSigner
from shared.http import internal
from shared.http.problems import Problem
from shared.logs import get_logger
from shared.metrics import rate_limited
from shared.runtime import SETTINGS

log = get_logger(__name__)

SIGNER = web.AppKey("signer", TokenSigner)
AUDIO_WORKERS = web.AppKey("audio_workers", AudioWorkers)

ACCEPTED_MESSAGE = (
    "If the data is correct, an email with an activation link is on its way to the address given."
)


def client_ip(request: web.Request) -> str:
    """The client's address as the gateway saw it; a caller without the internal token is its
    TCP peer, whatever header it sends."""
    return internal.client_ip(request, request.app[SETTINGS])


def too_many(detail: str, retry_after: int) -> Problem:
    return Problem(
        429,
        "Too many requests",
        detail,
        code="rate-limited",
        headers={"Retry-After": str(retry_after)},
    )


async def limit(conn: asyncpg.Connection, key: str, limit: int, window: int, detail: str) -> None:
    if await repository.rate_limit_hit(conn, key, window) > limit:
        rate_limited("identity", key)
        raise too_many(detail, window)


async def limit_registrations(request: web.Request, conn: asyncpg.Connection) -> None:
    """Registrations and new activation links share one budget per client address."""
    settings = request.app[SETTINGS]
    await limit(
        conn,
        f"registration:{client_ip(request)}",
        settings.registrations_per_window,
        settings.registration_window_seconds,
        "Too many registration attempts from this address; try again later",
    )
