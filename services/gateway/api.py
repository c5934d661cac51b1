"""The public REST API, /api/v1: each route authenticates at the edge, then calls a service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from services.gateway.upstream import Upstreams
from shared.auth import TokenVerifier
from shared.http.problems import Problem

UPSTREAMS = web.AppKey("upstreams", Upstreams)
VERIFIER = web.AppKey("verifier", TokenVerifier)

Access = Literal["public", "customer", "password-change"]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    service: str
    upstream_path: str
    access: Access


# Public path → service and its internal path. "customer" routes need a valid access token and
# a changed one-time password; "password-change" routes only a valid token.
ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/v1/captcha", "identity", "/captcha", "public"),
    Route("GET", "/api/v1/terms", "identity", "/terms", "public"),
    Route("POST", "/api/v1/registrations", "identity", "/registrations", "public"),
    Route(
        "POST", "/api/v1/registrations/activate", "identity", "/registrations/activate", "public"
    ),
    Route(
        "POST",
        "/api/v1/registrations/activation-links",
        "identity",
        "/registrations/activation-links",
        "public",
    ),
    Route("POST", "/api/v1/auth/login", "identity", "/auth/login", "public"),
    Route("POST", "/api/v1/auth/refresh", "identity", "/auth/refresh", "public"),
    Route("POST", "/api/v1/auth/logout", "identity", "/auth/logout", "public"),
    Route("GET", "/api/v1/me", "identity", "/me", "customer"),
    Route("POST", "/api/v1/me/password", "identity", "/me/password", "password-change"),
)


def authorize(request: web.Request, access: Access) -> None:
    if access == "public":
        return
    principal = request.app[VERIFIER].from_request(request)
    if principal.must_change_password and access != "password-change":
        raise Problem(
            403,
            "Password change required",
            "Change the one-time password first: POST /api/v1/me/password",
            code="password-change-required",
        )


def forwarding_handler(route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        authorize(request, route.access)
        return await request.app[UPSTREAMS].forward(route.service, route.upstream_path, request)

    handler.__name__ = f"forward_{route.service}_{route.upstream_path.strip('/').replace('/', '_')}"
    return handler
